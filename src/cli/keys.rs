//! `browser-control keys`: API keys in the task store.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::auth::keys;
use crate::store::{AuditEntry, StoreUrl};
use crate::task::now_ms;

#[derive(Debug, Clone, Args)]
pub struct KeysArgs {
    /// The task store the server uses (default: serve's, sqlite:// in
    /// $XDG_DATA_HOME/browser-control/tasks.db).
    #[arg(
        long,
        value_name = "URL",
        env = "BROWSER_CONTROL_STORE",
        hide_env_values = true,
        global = true
    )]
    pub store: Option<StoreUrl>,
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum KeysCommand {
    /// Make a key for a user and print it (it is shown this once: only its hash is kept).
    Create {
        /// Whose key it is: their tasks and instances are the key's.
        #[arg(long, value_name = "NAME")]
        user: String,
        /// The key's user is an admin: sees and manages everyone's tasks, reads the audit.
        #[arg(long)]
        admin: bool,
    },
    /// List keys: id, user, admin, created, revoked (never the keys).
    List,
    /// Revoke a key by its id (key_…): requests with it are refused from now on.
    Revoke {
        #[arg(value_name = "KEY_ID")]
        id: String,
    },
}

pub async fn keys(args: KeysArgs) -> ExitCode {
    match run(args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: KeysArgs) -> anyhow::Result<ExitCode> {
    let url = match args.store {
        Some(url) => url,
        None => StoreUrl::default_sqlite()?,
    };
    let accounts = crate::store::open_accounts(&url)
        .await
        .map_err(|e| e.context(format!("cannot open the task store {url}")))?;
    let audit = |action: &str, target: &str| AuditEntry {
        at: now_ms(),
        user: whoami(),
        action: action.into(),
        target: target.into(),
        door: "cli".into(),
        node_id: "keys".into(),
        detail: None,
    };
    match args.command {
        KeysCommand::Create { user, admin } => {
            keys::check_user_name(&user).map_err(anyhow::Error::msg)?;
            let (key, record) = keys::mint(&user, admin)?;
            accounts.add_key(&record).await?;
            let _ = accounts.audit(&audit("key_created", &record.id)).await;
            eprintln!(
                "created {} for {user}{}; the key is shown only now:",
                record.id,
                if admin { " (admin)" } else { "" }
            );
            println!("{key}");
            Ok(ExitCode::SUCCESS)
        }
        KeysCommand::List => {
            println!(
                "{:<18} {:<24} {:<5} {:<20} revoked",
                "id", "user", "admin", "created"
            );
            for key in accounts.keys().await? {
                println!(
                    "{:<18} {:<24} {:<5} {:<20} {}",
                    key.id,
                    key.user,
                    if key.admin { "yes" } else { "no" },
                    time(key.created_at),
                    key.revoked_at.map(time).unwrap_or_else(|| "-".into())
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        KeysCommand::Revoke { id } => {
            if accounts.revoke_key(&id, now_ms()).await? {
                let _ = accounts.audit(&audit("key_revoked", &id)).await;
                eprintln!("revoked {id}");
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("error: no key {id} that is not revoked already (see `keys list`)");
                Ok(ExitCode::from(1))
            }
        }
    }
}

/// Who ran the command, for the audit trail: the operator's login.
fn whoami() -> String {
    std::env::var("USER").unwrap_or_else(|_| "operator".into())
}

fn time(ms: u64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    humantime::format_rfc3339_seconds(at).to_string()
}
