//! First start: with no active admin token, create one and print it to stderr, once. The
//! next start finds an admin and prints nothing.

use opsdeck_core::auth::Role;
use opsdeck_core::ids::TokenName;
use opsdeck_core::token::{self, Grant, NewToken, TokenKind};
use opsdeck_core::{Clock, Store};

/// Creates the bootstrap admin token if no active admin token exists; returns the secret
/// to show once.
pub async fn ensure_bootstrap_admin(
    store: &dyn Store,
    clock: &dyn Clock,
) -> anyhow::Result<Option<String>> {
    let now = clock.now();
    if store.count_active_admin_tokens(now).await? > 0 {
        return Ok(None);
    }
    let new = NewToken {
        name: TokenName::parse("bootstrap-admin")?,
        grant: Grant::Role(Role::Admin),
        created_by: None,
        expires_at: None,
    };
    let secret = token::generate(TokenKind::Personal);
    store
        .create_token(&new, &secret.hash, &secret.display, now)
        .await?;
    Ok(Some(secret.secret.expose().to_owned()))
}
