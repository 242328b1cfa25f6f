//! Who is calling: a credential becomes a [`User`] here, at the edge, for every door.
//!
//! Modes, any together: the single shared `--token` (one local user, as before users), JWTs
//! (`--jwt-secret` or `--jwt-key`), and API keys kept in the task store (`--api-keys`, and
//! always once another mode is on). With none and a loopback listener, everyone is the one
//! local user. A refusal says what was wrong with the credential, never the credential.

pub mod jwt;
pub mod keys;

use std::sync::Arc;

pub use jwt::{JwtConfig, JwtVerifier};

use crate::store::Accounts;
use crate::task::{now_ms, User};

/// What `serve` was told about authentication.
#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    /// The one shared token (single-user mode).
    pub token: Option<String>,
    pub jwt: JwtConfig,
    /// Accept API keys even when no other mode is on.
    pub api_keys: bool,
}

/// Where a credential was found on a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `Authorization: Bearer …` (a JWT, an API key or the token).
    Bearer,
    /// `X-API-Key: …`.
    ApiKeyHeader,
    /// `?token=…` (browsers' WebSockets and pages cannot set headers).
    Query,
}

/// Why a request is refused: the 401's message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

pub struct Authenticator {
    token: Option<String>,
    jwt: Option<JwtVerifier>,
    /// Where API keys are looked up; `None` when keys are not accepted.
    keys: Option<Arc<dyn Accounts>>,
}

impl Authenticator {
    /// No authentication: everyone is the local user (a loopback listener only).
    pub fn none() -> Authenticator {
        Authenticator {
            token: None,
            jwt: None,
            keys: None,
        }
    }

    /// Builds the checks `config` asks for; API keys are looked up in `accounts`.
    pub fn new(config: &AuthConfig, accounts: Arc<dyn Accounts>) -> anyhow::Result<Authenticator> {
        let jwt = JwtVerifier::from_config(&config.jwt)?;
        let any = config.token.is_some() || jwt.is_some() || config.api_keys;
        Ok(Authenticator {
            token: config.token.clone(),
            jwt,
            keys: any.then_some(accounts),
        })
    }

    /// Whether every request must carry a credential.
    pub fn enabled(&self) -> bool {
        self.token.is_some() || self.jwt.is_some() || self.keys.is_some()
    }

    /// For the start-up line: which credentials are accepted.
    pub fn describe(&self) -> String {
        let mut modes = Vec::new();
        if self.token.is_some() {
            modes.push("the --token");
        }
        if self.jwt.is_some() {
            modes.push("JWTs");
        }
        if self.keys.is_some() {
            modes.push("API keys");
        }
        if modes.is_empty() {
            "none (one local user)".into()
        } else {
            modes.join(", ")
        }
    }

    /// The user a request's credential names. `None` for a request without one.
    pub async fn authenticate(&self, presented: Option<(&str, Source)>) -> Result<User, Refused> {
        if !self.enabled() {
            return Ok(User::local());
        }
        let Some((credential, source)) = presented else {
            return Err(Refused(
                "A credential is required: send `Authorization: Bearer <token, JWT or API key>` \
                 or `X-API-Key: <key>`, or add `?token=<…>` to the URL"
                    .into(),
            ));
        };
        // The token comes as a bearer or in the query, as documented; X-API-Key is for keys.
        if let (Some(token), false) = (&self.token, source == Source::ApiKeyHeader) {
            if same_secret(credential, token) {
                return Ok(User::local());
            }
        }
        if source == Source::ApiKeyHeader || keys::looks_like_key(credential) {
            return self.api_key(credential).await;
        }
        if let Some(jwt) = &self.jwt {
            return jwt.verify(credential).map_err(Refused);
        }
        Err(Refused(if self.token.is_some() {
            "The token is wrong".into()
        } else {
            "The credential is not accepted: this server takes API keys (bck_…)".into()
        }))
    }

    async fn api_key(&self, key: &str) -> Result<User, Refused> {
        let Some(accounts) = &self.keys else {
            return Err(Refused("API keys are not accepted by this server".into()));
        };
        match accounts.key_by_hash(&keys::hash(key)).await {
            Ok(Some(record)) if record.revoked_at.is_some_and(|at| at <= now_ms()) => {
                Err(Refused(format!("The API key {} was revoked", record.id)))
            }
            Ok(Some(record)) => Ok(User::named(&record.user, record.admin)),
            Ok(None) => Err(Refused("Unknown API key".into())),
            Err(e) => {
                tracing::error!("task store: cannot look up an API key: {e:#}");
                Err(Refused(
                    "The API key cannot be checked now: the task store is unavailable".into(),
                ))
            }
        }
    }
}

/// Compares without stopping at the first difference, so timing does not leak the token.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}
