//! argon2id password hashing, always off the async runtime: one hash takes tens of milliseconds
//! of CPU and would otherwise stall every request sharing the worker thread.
use argon2::password_hash::{phc::PasswordHash, PasswordHasher, PasswordVerifier};
use argon2::Argon2;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password hashing failed")]
    Hash,
    #[error("hashing task was cancelled")]
    Join,
}

pub const MIN_PASSWORD_LEN: usize = 10;

pub async fn hash(password: String) -> Result<String, PasswordError> {
    tokio::task::spawn_blocking(move || hash_blocking(&password)).await.map_err(|_| PasswordError::Join)?
}

pub fn hash_blocking(password: &str) -> Result<String, PasswordError> {
    let hash: PasswordHash = Argon2::default().hash_password(password.as_bytes()).map_err(|_| PasswordError::Hash)?;
    Ok(hash.to_string())
}

/// True when `password` matches `stored` (a PHC string). A malformed stored hash never matches.
pub async fn verify(password: String, stored: String) -> bool {
    tokio::task::spawn_blocking(move || Argon2::default().verify_password(password.as_bytes(), stored.as_str()).is_ok()).await.unwrap_or(false)
}

/// Verified against when the email is unknown, so that a wrong email costs as much time as a wrong
/// password and response times do not reveal which accounts exist.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_blocking("decoy password that matches nothing").expect("argon2 with default params"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_salted_and_verify() {
        let first = hash("correct horse battery".into()).await.unwrap();
        let second = hash("correct horse battery".into()).await.unwrap();
        assert!(first.starts_with("$argon2id$"), "{first}");
        assert_ne!(first, second, "each hash must have its own salt");
        assert!(verify("correct horse battery".into(), first.clone()).await);
        assert!(!verify("correct horse battery!".into(), first).await);
    }

    #[tokio::test]
    async fn malformed_stored_hash_never_matches() {
        assert!(!verify("anything".into(), "not-a-phc-string".into()).await);
        assert!(!verify("".into(), "".into()).await);
    }
}
