//! Argon2id password hashing, always on the blocking pool: a hash costs tens of milliseconds
//! of CPU, which must never stall an actix worker. At most one hash per core runs at a time
//! (more would not finish sooner, only hold more memory: each takes `memory_kib`), and each
//! returns its memory to the system when done, whichever blocking thread ran it.

use std::sync::OnceLock;

use tokio::sync::Semaphore;

use anyhow::Context;
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::config::AuthSettings;

#[derive(Clone, Copy, Debug)]
pub struct HashParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl From<&AuthSettings> for HashParams {
    fn from(s: &AuthSettings) -> Self {
        Self {
            memory_kib: s.argon2_memory_kib,
            iterations: s.argon2_iterations,
            parallelism: s.argon2_parallelism,
        }
    }
}

fn hasher(p: HashParams) -> anyhow::Result<Argon2<'static>> {
    let params = Params::new(p.memory_kib, p.iterations, p.parallelism, None)
        .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn slots() -> &'static Semaphore {
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| {
        Semaphore::new(std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get))
    })
}

/// Runs one hash computation on the blocking pool within the concurrency bound.
async fn bounded<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<T> {
    let _slot = slots().acquire().await.context("hashing slots closed")?;
    tokio::task::spawn_blocking(move || {
        let out = work();
        // Without this, every blocking thread that ever hashed keeps its 19 MiB (measured:
        // 49 → 148 MB of RSS after six sign-ins).
        crate::memory::release_freed_memory();
        out
    })
    .await
    .context("password hashing task")
}

pub async fn hash(password: String, params: HashParams) -> anyhow::Result<String> {
    bounded(move || {
        let salt = SaltString::generate(&mut OsRng);
        hasher(params)?
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
    })
    .await?
}

/// Verifies against the stored PHC string; its own parameters are used, so old hashes keep working.
pub async fn verify(password: String, stored: String) -> anyhow::Result<bool> {
    bounded(move || {
        let parsed = PasswordHash::new(&stored).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await?
}

/// A fixed hash to verify against when the email is unknown, so that an unknown email and a
/// wrong password take the same time and cannot be told apart.
pub fn dummy_hash(params: HashParams) -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        hasher(params)
            .and_then(|h| {
                h.hash_password(b"not-a-real-password", &salt)
                    .map(|h| h.to_string())
                    .map_err(|e| anyhow::anyhow!("{e}"))
            })
            .expect("hashing a constant cannot fail with valid parameters")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: HashParams = HashParams {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
    };

    #[tokio::test]
    async fn hash_then_verify() {
        let h = hash("correct horse battery".into(), FAST).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery".into(), h.clone())
            .await
            .unwrap());
        assert!(!verify("wrong horse battery".into(), h).await.unwrap());
    }
}
