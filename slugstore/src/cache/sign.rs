//! Signed records: who may fill a shared cache.
//!
//! A remote is written by many machines, and what a build restores from it ends up in production,
//! so a record is only restored from a remote when it is signed with ed25519 by a key the local
//! store trusts (`slug cache trust PUBKEY`). Builds that must not be able to poison production's
//! cache (pull requests) get a key of their own that production stores do not trust.
//!
//! On the remote a record is an envelope (docs/format.md, "Build cache records"):
//! `{"format": 1, "record": BASE64, "signer": HEX, "signature": BASE64}` where `record` holds the
//! record's JSON bytes exactly as signed, and the signature covers `"slugstore cache record v1\0"`
//! followed by those bytes. Signing the bytes rather than a re-serialization means nothing has to
//! be canonicalized: a verifier checks the bytes it was given, then parses them.

use std::io::Read;
use std::path::Path;

use base64::Engine as _;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::record::{Record, TRUST};
use crate::error::{Error, IoResultExt, Result};
use crate::id::ObjectId;
use crate::store::Store;

/// What precedes the record's bytes in the signed message: a signature made for anything else
/// never verifies as a record's.
pub const DOMAIN: &[u8] = b"slugstore cache record v1\0";

/// The envelope of a record on a remote.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    /// Envelope version (1).
    pub format: u32,
    /// The record's JSON bytes, base64.
    pub record: String,
    /// The signer's public key, hex.
    pub signer: Option<String>,
    /// The signature, base64.
    pub signature: Option<String>,
}

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Writes a new private key to `path` (mode 0600; refuses to replace a file) and returns the
/// public key, hex.
pub fn keygen(path: &Path) -> Result<String> {
    let mut seed = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut seed))
        .at("/dev/urandom")?;
    if path.exists() {
        return Err(Error::KeyExists(path.to_path_buf()));
    }
    let hex = ObjectId::from_slice(&seed).expect("32 bytes").to_hex();
    crate::fsutil::write_atomic_private(path, format!("{hex}\n").as_bytes())?;
    Ok(public_hex(&SigningKey::from_bytes(&seed)))
}

/// Reads a private key written by [`keygen`].
pub fn load_key(path: &Path) -> Result<SigningKey> {
    let text = std::fs::read_to_string(path).at(path)?;
    let seed: ObjectId = text
        .trim()
        .parse()
        .map_err(|_| Error::format(path.display().to_string(), "not a slug cache key"))?;
    Ok(SigningKey::from_bytes(seed.as_bytes()))
}

/// The public key of `key`, hex.
pub fn public_hex(key: &SigningKey) -> String {
    ObjectId::from_slice(key.verifying_key().as_bytes())
        .expect("32 bytes")
        .to_hex()
}

/// Trusts the public key `hex` (64 hex digits) in `store`, with a note for people.
pub fn trust(store: &Store, hex: &str, note: &str) -> Result<()> {
    let bad_key = |why: &str| Error::BadPublicKey {
        key: hex.to_owned(),
        why: why.to_owned(),
    };
    let id: ObjectId = hex
        .trim()
        .parse()
        .map_err(|_| bad_key("a public key (64 hex digits)"))?;
    VerifyingKey::from_bytes(id.as_bytes()).map_err(|_| bad_key("an ed25519 public key"))?;
    let mut b = store.index().batch();
    b.put_meta(&format!("{TRUST}{}", id.to_hex()), note);
    b.commit()
}

/// Stops trusting the public key `hex`; says whether it was trusted.
pub fn untrust(store: &Store, hex: &str) -> Result<bool> {
    let name = format!("{TRUST}{}", hex.trim().to_ascii_lowercase());
    let was = store.index().meta(&name)?.is_some();
    let mut b = store.index().batch();
    b.delete_meta(&name);
    b.commit()?;
    Ok(was)
}

/// The trusted public keys (hex) with their notes.
pub fn trusted(store: &Store) -> Result<Vec<(String, String)>> {
    Ok(store
        .index()
        .meta_with_prefix(TRUST)?
        .into_iter()
        .map(|(k, v)| (k[TRUST.len()..].to_owned(), v))
        .collect())
}

/// The envelope of `rec`, signed with `key`, as bytes.
pub fn seal(rec: &Record, key: &SigningKey) -> Vec<u8> {
    let bytes = serde_json::to_vec(rec).expect("records serialize");
    let sig = key.sign(&[DOMAIN, &bytes].concat());
    let env = Envelope {
        format: 1,
        record: B64.encode(&bytes),
        signer: Some(public_hex(key)),
        signature: Some(B64.encode(sig.to_bytes())),
    };
    serde_json::to_vec(&env).expect("envelopes serialize")
}

/// The record in an envelope, without checking who signed it (to compare outputs).
pub fn unsealed(bytes: &[u8], key: &ObjectId) -> Result<(Envelope, Vec<u8>, Record)> {
    let bad = |why: String| Error::UntrustedRecord {
        key: key.short(12),
        why,
    };
    let env: Envelope =
        serde_json::from_slice(bytes).map_err(|e| bad(format!("not a record envelope: {e}")))?;
    let raw = B64
        .decode(&env.record)
        .map_err(|e| bad(format!("record is not base64: {e}")))?;
    let rec: Record =
        serde_json::from_slice(&raw).map_err(|e| bad(format!("not a cache record: {e}")))?;
    if rec.key != *key {
        return Err(bad(format!(
            "it is the record of key {}",
            rec.key.short(12)
        )));
    }
    Ok((env, raw, rec))
}

/// The record in an envelope fetched for `key`, if it is signed by a key `store` trusts.
pub fn verified(store: &Store, bytes: &[u8], key: &ObjectId) -> Result<Record> {
    let bad = |why: &str| Error::UntrustedRecord {
        key: key.short(12),
        why: why.to_owned(),
    };
    let (env, raw, rec) = unsealed(bytes, key)?;
    let (Some(signer), Some(sig)) = (&env.signer, &env.signature) else {
        return Err(bad("it is not signed"));
    };
    let trusted = trusted(store)?;
    if !trusted.iter().any(|(k, _)| k == signer) {
        return Err(bad(&format!(
            "signed by {signer}, which this store does not trust (see `slug cache trust`)"
        )));
    }
    let pubkey: ObjectId = signer.parse().map_err(|_| bad("bad signer key"))?;
    let vk = VerifyingKey::from_bytes(pubkey.as_bytes()).map_err(|_| bad("bad signer key"))?;
    let sig = B64
        .decode(sig)
        .ok()
        .and_then(|b| Signature::from_slice(&b).ok())
        .ok_or_else(|| bad("bad signature encoding"))?;
    vk.verify(&[DOMAIN, &raw].concat(), &sig)
        .map_err(|_| bad("its signature does not verify"))?;
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record signed by one key verifies as that key's; a changed byte or another key does not.
    #[test]
    fn signatures_cover_the_record_bytes() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let msg = b"{\"key\":1}";
        let sig = key.sign(&[DOMAIN, msg].concat());
        let vk = key.verifying_key();
        assert!(vk.verify(&[DOMAIN, msg].concat(), &sig).is_ok());
        assert!(vk.verify(&[DOMAIN, b"{\"key\":2}"].concat(), &sig).is_err());
        let other = SigningKey::from_bytes(&[8; 32]).verifying_key();
        assert!(other.verify(&[DOMAIN, msg].concat(), &sig).is_err());
    }
}
