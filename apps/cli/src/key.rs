//! `bulkhead key new`: a fresh virtual key and the hash the config stores instead of it.

use sha2::{Digest as _, Sha256};

/// The prefix that makes Bulkhead keys recognisable (in logs, in secret scanners).
const PREFIX: &str = "bh-";

pub(crate) fn new() -> anyhow::Result<()> {
    let key = generate()?;
    println!("key:  {key}");
    println!("hash = \"{}\"", hash(&key));
    eprintln!(
        "\nGive the key to its user now: it is not stored anywhere. \
         Put the hash line in a [[keys]] entry of the config."
    );
    Ok(())
}

/// `bh-` and 32 bytes from the operating system's CSPRNG as lowercase hex.
fn generate() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| anyhow::anyhow!("cannot read random bytes from the OS: {e}"))?;
    Ok(format!("{PREFIX}{}", hex::encode(bytes)))
}

/// `sha256:` and the lowercase hex SHA-256 of the exact key string, as `[[keys]] hash` wants.
fn hash(key: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(key.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_fresh_and_well_formed() {
        let a = generate().expect("random");
        let b = generate().expect("random");
        assert_ne!(a, b);
        assert_eq!(a.len(), 3 + 64);
        assert!(a.starts_with("bh-"));
        assert!(
            a[3..]
                .bytes()
                .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
        );
    }

    #[test]
    fn the_hash_is_sha256_of_the_exact_string() {
        // SHA-256("abc"), from FIPS 180-2.
        assert_eq!(
            hash("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
