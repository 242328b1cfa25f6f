//! JWT bearer tokens: HS256 with a shared secret, RS256/ES256 with a PEM public key or a JWKS
//! file. `exp` and `nbf` are enforced, `iss` and `aud` when configured; the user is `sub`.

use std::path::Path;

use anyhow::Context;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::task::User;

/// How tokens are checked, built once at start-up.
pub struct JwtVerifier {
    keys: Keys,
    issuer: Option<String>,
    audience: Option<String>,
    /// The claim naming the user's role(s): `admin` there (or in a list there) makes an admin.
    role_claim: String,
}

enum Keys {
    One(DecodingKey, Algorithm),
    Set(JwkSet),
}

/// What the operator configured (the flags of `serve`).
#[derive(Debug, Clone, Default)]
pub struct JwtConfig {
    pub secret: Option<String>,
    pub key_file: Option<std::path::PathBuf>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub role_claim: String,
}

impl JwtVerifier {
    /// `None` when neither a secret nor a key file is configured.
    pub fn from_config(config: &JwtConfig) -> anyhow::Result<Option<JwtVerifier>> {
        let keys = match (&config.secret, &config.key_file) {
            (None, None) => return Ok(None),
            (Some(_), Some(_)) => {
                anyhow::bail!("give either --jwt-secret or --jwt-key, not both")
            }
            (Some(secret), None) => {
                anyhow::ensure!(
                    secret.len() >= 32,
                    "--jwt-secret is {} bytes: an HS256 secret needs at least 32",
                    secret.len()
                );
                Keys::One(
                    DecodingKey::from_secret(secret.as_bytes())?,
                    Algorithm::HS256,
                )
            }
            (None, Some(path)) => load_key_file(path)?,
        };
        Ok(Some(JwtVerifier {
            keys,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            role_claim: config.role_claim.clone(),
        }))
    }

    /// The user a token names, or why it is refused (said to the caller, never the token).
    pub fn verify(&self, token: &str) -> Result<User, String> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| "the bearer token is not a JWT, a valid API key or the server's token")?;
        let (key, algorithm) = match &self.keys {
            Keys::One(key, algorithm) => (key.clone(), *algorithm),
            Keys::Set(set) => {
                let jwk = match &header.kid {
                    Some(kid) => set.find(kid),
                    None if set.keys.len() == 1 => set.keys.first(),
                    None => None,
                }
                .ok_or("the JWT's key id (kid) is not in the configured JWKS")?;
                let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("JWKS key: {e}"))?;
                (key, header.alg)
            }
        };
        if header.alg != algorithm {
            return Err(format!(
                "the JWT is signed with {:?}, and this server accepts {algorithm:?}",
                header.alg
            ));
        }
        let mut validation = Validation::new(algorithm);
        validation.validate_nbf = true;
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        match &self.issuer {
            Some(iss) => validation.set_issuer(&[iss]),
            None => validation.iss = None,
        }
        match &self.audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        let data = jsonwebtoken::decode::<Value>(token, &key, &validation).map_err(|e| match e
            .kind()
        {
            ErrorKind::ExpiredSignature => "the JWT has expired (exp)".to_string(),
            ErrorKind::ImmatureSignature => "the JWT is not valid yet (nbf)".to_string(),
            ErrorKind::InvalidSignature => "the JWT's signature is wrong".to_string(),
            ErrorKind::InvalidIssuer => "the JWT's issuer (iss) is not accepted".to_string(),
            ErrorKind::InvalidAudience => "the JWT's audience (aud) is not accepted".to_string(),
            ErrorKind::MissingRequiredClaim(claim) => {
                format!("the JWT has no {claim} claim")
            }
            ErrorKind::InvalidAlgorithm => {
                "the JWT's algorithm does not match the configured key".to_string()
            }
            _ => format!("the JWT is invalid: {e}"),
        })?;
        let claims = data.claims;
        let sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .ok_or("the JWT's sub claim must be a non-empty string")?;
        let admin = match claims.get(&self.role_claim) {
            Some(Value::String(role)) => role == "admin",
            Some(Value::Array(roles)) => roles.iter().any(|r| r.as_str() == Some("admin")),
            _ => false,
        };
        Ok(User::named(sub, admin))
    }
}

/// A PEM public key (RSA → RS256, EC → ES256) or a JWKS document.
fn load_key_file(path: &Path) -> anyhow::Result<Keys> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read --jwt-key {}", path.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    if text.trim_start().starts_with('{') {
        let set: JwkSet = serde_json::from_slice(&bytes)
            .with_context(|| format!("--jwt-key {} is not a JWKS document", path.display()))?;
        anyhow::ensure!(
            !set.keys.is_empty(),
            "--jwt-key {}: the JWKS has no keys",
            path.display()
        );
        return Ok(Keys::Set(set));
    }
    if let Ok(key) = DecodingKey::from_rsa_pem(&bytes) {
        return Ok(Keys::One(key, Algorithm::RS256));
    }
    if let Ok(key) = DecodingKey::from_ec_pem(&bytes) {
        return Ok(Keys::One(key, Algorithm::ES256));
    }
    anyhow::bail!(
        "--jwt-key {}: neither an RSA or EC public key in PEM nor a JWKS document",
        path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;

    fn fixture(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/jwt")
            .join(name)
    }

    fn later() -> u64 {
        crate::task::now_ms() / 1000 + 600
    }

    fn verifier(key_file: &str, issuer: Option<&str>, audience: Option<&str>) -> JwtVerifier {
        JwtVerifier::from_config(&JwtConfig {
            key_file: Some(fixture(key_file)),
            issuer: issuer.map(str::to_string),
            audience: audience.map(str::to_string),
            role_claim: "roles".into(),
            ..Default::default()
        })
        .unwrap()
        .unwrap()
    }

    fn es256(claims: serde_json::Value, kid: Option<&str>) -> String {
        let key =
            EncodingKey::from_ec_pem(&std::fs::read(fixture("ec-private.pem")).unwrap()).unwrap();
        let mut header = Header::new(Algorithm::ES256);
        header.kid = kid.map(str::to_string);
        encode(&header, &claims, &key).unwrap()
    }

    #[test]
    fn es256_with_a_pem_key_or_a_jwks_and_rs256_with_a_pem_key() {
        let token = es256(
            json!({"sub": "ann", "exp": later(), "roles": ["admin"]}),
            None,
        );
        let user = verifier("ec-public.pem", None, None)
            .verify(&token)
            .unwrap();
        assert_eq!((&*user.name, user.admin), ("ann", true));
        let by_kid = es256(json!({"sub": "ann", "exp": later()}), Some("test-ec"));
        let user = verifier("jwks.json", None, None).verify(&by_kid).unwrap();
        assert_eq!((&*user.name, user.admin), ("ann", false));
        let unknown_kid = es256(json!({"sub": "ann", "exp": later()}), Some("other"));
        let err = verifier("jwks.json", None, None)
            .verify(&unknown_kid)
            .unwrap_err();
        assert!(err.contains("kid"), "{err}");

        let rsa =
            EncodingKey::from_rsa_pem(&std::fs::read(fixture("rsa-private.pem")).unwrap()).unwrap();
        let token = encode(
            &Header::new(Algorithm::RS256),
            &json!({"sub": "bob", "exp": later()}),
            &rsa,
        )
        .unwrap();
        assert_eq!(
            &*verifier("rsa-public.pem", None, None)
                .verify(&token)
                .unwrap()
                .name,
            "bob"
        );
        // The EC key does not verify an RSA token, whatever its header says.
        assert!(verifier("ec-public.pem", None, None)
            .verify(&token)
            .is_err());
    }

    #[test]
    fn an_hs256_token_is_no_way_past_a_public_key() {
        // The classic confusion: the public key used as an HMAC secret.
        let public = std::fs::read(fixture("rsa-public.pem")).unwrap();
        let forged = encode(
            &Header::new(Algorithm::HS256),
            &json!({"sub": "mallory", "exp": later()}),
            &EncodingKey::from_secret(&public).unwrap(),
        )
        .unwrap();
        let err = verifier("rsa-public.pem", None, None)
            .verify(&forged)
            .unwrap_err();
        assert!(err.contains("HS256"), "{err}");
    }

    #[test]
    fn issuer_audience_and_sub_are_enforced() {
        let v = verifier("ec-public.pem", Some("https://idp.example"), Some("bc"));
        let good = es256(
            json!({"sub": "ann", "exp": later(), "iss": "https://idp.example", "aud": "bc"}),
            None,
        );
        assert!(v.verify(&good).is_ok());
        let wrong_iss = es256(
            json!({"sub": "ann", "exp": later(), "iss": "https://evil.example", "aud": "bc"}),
            None,
        );
        assert!(v.verify(&wrong_iss).unwrap_err().contains("iss"));
        let wrong_aud = es256(
            json!({"sub": "ann", "exp": later(), "iss": "https://idp.example", "aud": "x"}),
            None,
        );
        assert!(v.verify(&wrong_aud).unwrap_err().contains("aud"));
        let no_exp = es256(json!({"sub": "ann"}), None);
        let err = verifier("ec-public.pem", None, None)
            .verify(&no_exp)
            .unwrap_err();
        assert!(err.contains("exp"), "{err}");
        let blank_sub = es256(json!({"sub": " ", "exp": later()}), None);
        assert!(verifier("ec-public.pem", None, None)
            .verify(&blank_sub)
            .unwrap_err()
            .contains("sub"));
    }

    #[test]
    fn bad_configurations_are_refused_at_start() {
        let short = JwtConfig {
            secret: Some("short".into()),
            ..Default::default()
        };
        let err = JwtVerifier::from_config(&short).err().unwrap();
        assert!(err.to_string().contains("at least 32"), "{err}");
        let not_a_key = JwtConfig {
            key_file: Some(fixture("README.md")),
            ..Default::default()
        };
        assert!(JwtVerifier::from_config(&not_a_key).is_err());
        assert!(JwtVerifier::from_config(&JwtConfig::default())
            .unwrap()
            .is_none());
    }
}
