//! Bearer tokens: 256 random bits shown to the client once; only the SHA-256 digest is stored,
//! so a leaked database does not leak usable tokens.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub const PREFIX: &str = "gy_";

pub struct IssuedToken {
    pub plaintext: String,
    pub digest: Vec<u8>,
}

pub fn generate() -> IssuedToken {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let plaintext = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let digest = digest(&plaintext);
    IssuedToken { plaintext, digest }
}

pub fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_digest_matches() {
        let a = generate();
        let b = generate();
        assert_ne!(a.plaintext, b.plaintext);
        assert!(a.plaintext.starts_with(PREFIX));
        assert_eq!(digest(&a.plaintext), a.digest);
        assert_eq!(a.digest.len(), 32);
    }
}
