//! `opsdeck token create|list|revoke`: token administration straight on the database, for
//! the first admin and for automation, through the same use-cases as `/ops/tokens`. The new
//! secret is the only line on stdout; everything else goes to stderr.

use std::io::Write as _;
use std::process::ExitCode;

use opsdeck_core::auth::Role;
use opsdeck_core::token::Scope;
use opsdeck_server::ops::tokens::{self, TokenRequest};
use opsdeck_server::ops::{Caller, Reason, with_offline_ops};
use uuid::Uuid;

use super::OpenedStore;

pub struct CreateArgs {
    pub name: String,
    pub role: Option<Role>,
    pub scopes: Option<Vec<Scope>>,
    pub expires_in: Option<std::time::Duration>,
    pub reason: String,
}

/// The reason as the use-cases take it; errors say what to type.
fn reason(text: &str) -> anyhow::Result<Reason> {
    Reason::parse(text).map_err(|_| {
        anyhow::anyhow!("--reason: say why in 1–500 characters; it goes to the audit log")
    })
}

pub async fn create(opened: OpenedStore, args: CreateArgs) -> anyhow::Result<ExitCode> {
    let reason = reason(&args.reason)?;
    let request = TokenRequest::parse(&args.name, args.role, args.scopes, args.expires_in)
        .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
    let caller = Caller::command_line();
    let created = with_offline_ops(&opened.store, async |ops| {
        tokens::create_token(ops, ops.act(&caller, &reason), request)
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.message()))
    })
    .await?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", created.secret)?;
    let token = &created.token;
    eprintln!(
        "created {} `{}` (id {}){} in {}; it is shown only now",
        if token.kind == "personal" {
            "personal token"
        } else {
            "ingest key"
        },
        token.name,
        token.id,
        token
            .expires_at
            .map(|t| format!(", expires {}", t.to_rfc3339()))
            .unwrap_or_default(),
        opened.url,
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn list(opened: OpenedStore) -> anyhow::Result<ExitCode> {
    let caller = Caller::command_line();
    let tokens = with_offline_ops(&opened.store, async |ops| {
        tokens::list_tokens(ops, &caller)
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.message()))
    })
    .await?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<36}  {:<8}  {:<24}  {:<22}  {:<8}  LAST USED",
        "ID", "KIND", "NAME", "ROLE/SCOPES", "STATE"
    )?;
    for t in tokens {
        let grant = t.role.clone().unwrap_or_else(|| t.scopes.join(","));
        writeln!(
            out,
            "{:<36}  {:<8}  {:<24}  {:<22}  {:<8}  {}",
            t.id,
            if t.kind == "personal" { "token" } else { "key" },
            t.name,
            grant,
            t.state(),
            t.last_used_at
                .map_or_else(|| "never".to_owned(), |d| d.to_rfc3339())
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn revoke(opened: OpenedStore, id: Uuid, reason_text: &str) -> anyhow::Result<ExitCode> {
    let reason = reason(reason_text)?;
    let caller = Caller::command_line();
    let revoked = with_offline_ops(&opened.store, async |ops| {
        Ok(tokens::revoke_token(ops, ops.act(&caller, &reason), id).await)
    })
    .await?;
    match revoked {
        Ok(()) => {
            eprintln!(
                "revoked {id} in {}; sessions opened with it end too",
                opened.url
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(err) if err.code() == "not_found" => {
            eprintln!("no active token with id {id} in {}", opened.url);
            Ok(ExitCode::FAILURE)
        }
        Err(err) => Err(anyhow::anyhow!("{}", err.message())),
    }
}
