//! `opsdeck token create|list|revoke`: token administration straight on the database, for
//! the first admin and for automation. The new secret is the only line on stdout.

use std::io::Write as _;
use std::process::ExitCode;

use chrono::Utc;
use opsdeck_core::Store;
use opsdeck_core::audit::{Actor, AuditRecord, Target};
use opsdeck_core::auth::Role;
use opsdeck_core::ids::TokenName;
use opsdeck_core::token::{self, Grant, NewToken, Scope, Scopes};
use uuid::Uuid;

/// The actor the audit log names for command-line changes.
fn cli_actor() -> Actor {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned());
    Actor {
        id: format!("cli:{user}"),
        name: user,
        method: "cli".to_owned(),
    }
}

async fn audit(
    store: &dyn Store,
    action: &str,
    id: Uuid,
    reason: Option<String>,
) -> anyhow::Result<()> {
    let record = AuditRecord {
        at: Utc::now(),
        actor: Some(cli_actor()),
        action: action.to_owned(),
        target: Some(Target {
            kind: "token".to_owned(),
            id: id.to_string(),
        }),
        tenant_id: None,
        outcome: 0,
        client_addr: None,
        request_id: None,
        reason,
    };
    store.append_audit(&[record]).await?;
    Ok(())
}

pub struct CreateArgs {
    pub name: String,
    pub role: Option<Role>,
    pub scopes: Option<Vec<Scope>>,
    pub expires_in: Option<std::time::Duration>,
    pub reason: Option<String>,
}

pub async fn create(store: &dyn Store, args: CreateArgs) -> anyhow::Result<ExitCode> {
    let grant = match (args.role, args.scopes) {
        (Some(role), None) => Grant::Role(role),
        (None, Some(scopes)) => Grant::Scopes(Scopes::new(scopes)?),
        _ => anyhow::bail!("give either --role (a personal token) or --scopes (an ingest key)"),
    };
    let now = Utc::now();
    let expires_at = args
        .expires_in
        .map(|d| chrono::Duration::from_std(d).map(|d| now + d))
        .transpose()
        .map_err(|_| anyhow::anyhow!("--expires-in is too long"))?;
    let new = NewToken {
        name: TokenName::parse(&args.name)?,
        grant,
        created_by: Some(cli_actor().id),
        expires_at,
    };
    let secret = token::generate(new.kind());
    let record = store
        .create_token(&new, &secret.hash, &secret.display, now)
        .await?;
    audit(store, "token.created", record.id, args.reason).await?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", secret.secret.expose())?;
    eprintln!(
        "created {} `{}` (id {}){}; it is shown only now",
        match new.kind() {
            token::TokenKind::Personal => "personal token",
            token::TokenKind::IngestKey => "ingest key",
        },
        record.name,
        record.id,
        record
            .expires_at
            .map(|t| format!(", expires {}", t.to_rfc3339()))
            .unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn list(store: &dyn Store) -> anyhow::Result<ExitCode> {
    let now = Utc::now();
    let tokens = store.list_tokens().await?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<36}  {:<8}  {:<24}  {:<22}  {:<8}  LAST USED",
        "ID", "KIND", "NAME", "ROLE/SCOPES", "STATE"
    )?;
    for t in tokens {
        let grant = match t.role {
            Some(role) => role.to_string(),
            None => t
                .scopes
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(","),
        };
        let state = if t.revoked_at.is_some() {
            "revoked"
        } else if t.is_active(now) {
            "active"
        } else {
            "expired"
        };
        writeln!(
            out,
            "{:<36}  {:<8}  {:<24}  {:<22}  {:<8}  {}",
            t.id,
            match t.kind {
                token::TokenKind::Personal => "token",
                token::TokenKind::IngestKey => "key",
            },
            t.name,
            grant,
            state,
            t.last_used_at
                .map_or_else(|| "never".to_owned(), |d| d.to_rfc3339())
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn revoke(
    store: &dyn Store,
    id: Uuid,
    reason: Option<String>,
) -> anyhow::Result<ExitCode> {
    let now = Utc::now();
    if !store.revoke_token(id, now).await? {
        eprintln!("no active token with id {id}");
        return Ok(ExitCode::FAILURE);
    }
    store.end_sessions_for_token(id, now).await?;
    audit(store, "token.revoked", id, reason).await?;
    eprintln!("revoked {id}; sessions opened with it end too");
    Ok(ExitCode::SUCCESS)
}
