//! API keys: `bck_` and 32 random bytes in base64url. The store keeps only a key's SHA-256
//! (a key is random enough that a fast hash cannot be searched), so a key is shown once.

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::store::ApiKeyRecord;
use crate::task::now_ms;

pub const PREFIX: &str = "bck_";

/// A new key for `user`: the key to show once, and the record to store.
pub fn mint(user: &str, admin: bool) -> anyhow::Result<(String, ApiKeyRecord)> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let mut id = [0u8; 6];
    getrandom::fill(&mut id).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let key = format!(
        "{PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    );
    let record = ApiKeyRecord {
        id: format!("key_{}", hex(&id)),
        user: user.to_string(),
        admin,
        hash: hash(&key),
        created_at: now_ms(),
        revoked_at: None,
    };
    Ok((key, record))
}

/// What the store keeps of a key.
pub fn hash(key: &str) -> String {
    hex(&Sha256::digest(key.as_bytes()))
}

/// Whether a presented credential is shaped as one of our keys (else it may be a JWT).
pub fn looks_like_key(credential: &str) -> bool {
    credential.starts_with(PREFIX)
}

/// A user name as `keys create --user` accepts it: what a log line and a URL carry plainly.
pub fn check_user_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._@-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "user name {name:?}: use 1 to 128 letters, digits, '.', '_', '@' or '-'"
        ))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minted_key_is_stored_only_as_its_hash() {
        let (key, record) = mint("ann", false).unwrap();
        assert!(looks_like_key(&key));
        assert_eq!(key.len(), PREFIX.len() + 43);
        assert_eq!(record.hash, hash(&key));
        assert_eq!(record.hash.len(), 64);
        assert!(!record.hash.contains(&key[PREFIX.len()..]));
        let (other, _) = mint("ann", false).unwrap();
        assert_ne!(key, other);
    }

    #[test]
    fn user_names_are_plain() {
        assert!(check_user_name("ann.smith@example.com").is_ok());
        for bad in ["", "a b", "ann\n", "ünïcode", &"x".repeat(129)] {
            assert!(check_user_name(bad).is_err(), "{bad:?}");
        }
    }
}
