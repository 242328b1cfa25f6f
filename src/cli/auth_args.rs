//! The authentication and per-user options of `serve`.

use std::path::PathBuf;

use clap::Args;

use crate::auth::JwtConfig;
use crate::scheduler::UserLimits;

#[derive(Debug, Clone, Args)]
pub struct AuthArgs {
    /// Accept JWTs signed with this HS256 secret (at least 32 bytes). The user is `sub`.
    #[arg(
        long,
        value_name = "SECRET",
        env = "BROWSER_CONTROL_JWT_SECRET",
        hide_env_values = true,
        conflicts_with = "jwt_key"
    )]
    pub jwt_secret: Option<String>,
    /// Accept JWTs signed with this key: a PEM public key (RSA: RS256, EC: ES256) or a JWKS
    /// file (keys chosen by `kid`).
    #[arg(long, value_name = "FILE", env = "BROWSER_CONTROL_JWT_KEY")]
    pub jwt_key: Option<PathBuf>,
    /// Only accept JWTs with this `iss`.
    #[arg(long, value_name = "ISSUER", env = "BROWSER_CONTROL_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// Only accept JWTs with this `aud`.
    #[arg(long, value_name = "AUDIENCE", env = "BROWSER_CONTROL_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
    /// The JWT claim holding the user's role (a string or a list): `admin` there makes an
    /// admin, who sees and manages every user's tasks and instances.
    #[arg(long, value_name = "CLAIM", default_value = "role")]
    pub jwt_role_claim: String,
    /// Accept API keys (made by `browser-control keys create`) even with no other mode on.
    /// They are always accepted once --token or a JWT key is given.
    #[arg(long, env = "BROWSER_CONTROL_API_KEYS")]
    pub api_keys: bool,
    /// Instances one user may have created and not closed (the boot pool does not count).
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub max_instances_per_user: usize,
    /// Tasks one user may have waiting in the queue, across instances.
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_queued_per_user: u64,
}

impl AuthArgs {
    pub fn jwt(&self) -> JwtConfig {
        JwtConfig {
            secret: self.jwt_secret.clone().filter(|s| !s.is_empty()),
            key_file: self.jwt_key.clone(),
            issuer: self.jwt_issuer.clone(),
            audience: self.jwt_audience.clone(),
            role_claim: self.jwt_role_claim.clone(),
        }
    }

    pub fn user_limits(&self) -> UserLimits {
        UserLimits {
            max_instances: self.max_instances_per_user,
            max_queued: usize::try_from(self.max_queued_per_user).unwrap_or(usize::MAX),
        }
    }
}
