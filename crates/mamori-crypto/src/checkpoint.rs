//! Audit checkpoints: a bank's chain head (sequence number and keyed link) signed with Ed25519,
//! for an operator to keep outside the database.
//!
//! The keyed chain stops a database writer from editing an entry or forging one, but not from
//! cutting the chain back to an earlier entry and moving the head there: nothing in the
//! database remembers how long the chain was. A checkpoint kept elsewhere does. The signature
//! lets whoever holds the file show it came from this deployment (its public key is in the
//! file and printed by `mamori audit checkpoint`); verifying it needs no secret.

use data_encoding::BASE64URL_NOPAD;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

/// The format name every checkpoint carries and signs.
pub const CHECKPOINT_FORMAT: &str = "mamori-audit-checkpoint/v1";

/// A bank's chain head at one moment, signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Checkpoint {
    /// Always [`CHECKPOINT_FORMAT`].
    pub format: String,
    /// The bank whose chain it is (`platform` for the platform's own).
    pub bank: String,
    /// The chain's last sequence number.
    pub seq: i64,
    /// The keyed link (hex) of that entry.
    pub link: String,
    /// When it was signed (RFC 3339).
    pub signed_at: String,
    /// The public key that signed it (Ed25519, base64url).
    pub key: String,
    /// The signature (base64url) over the fields above.
    pub signature: String,
}

/// Why a checkpoint was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// Not a checkpoint of this format.
    #[error("not a {CHECKPOINT_FORMAT} checkpoint")]
    Format,
    /// Signed by another key than this deployment's.
    #[error("signed by key {0}, not by this deployment's")]
    OtherKey(String),
    /// The signature does not match the fields: the file was changed.
    #[error("the signature does not match: the checkpoint was changed")]
    Signature,
}

/// Signs checkpoints with a key derived from the master key.
pub struct CheckpointSigner(SigningKey);

impl std::fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CheckpointSigner(key={})", self.public_key())
    }
}

impl CheckpointSigner {
    /// The signer whose Ed25519 key is `seed` (an HKDF subkey).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self(SigningKey::from_bytes(&seed))
    }

    /// The public key, base64url: what a checkpoint must be signed by.
    pub fn public_key(&self) -> String {
        BASE64URL_NOPAD.encode(self.0.verifying_key().as_bytes())
    }

    /// A signed checkpoint of `bank`'s chain at `seq` with link `link`, signed at `signed_at`.
    pub fn sign(&self, bank: &str, seq: i64, link: &str, signed_at: &str) -> Checkpoint {
        let mut checkpoint = Checkpoint {
            format: CHECKPOINT_FORMAT.to_owned(),
            bank: bank.to_owned(),
            seq,
            link: link.to_owned(),
            signed_at: signed_at.to_owned(),
            key: self.public_key(),
            signature: String::new(),
        };
        let signature = self.0.sign(&checkpoint.message());
        checkpoint.signature = BASE64URL_NOPAD.encode(&signature.to_bytes());
        checkpoint
    }
}

impl Checkpoint {
    /// The bytes signed: every field but the signature, each on its own line after the format.
    fn message(&self) -> Vec<u8> {
        format!(
            "{}\n{}\n{}\n{}\n{}\n{}\n",
            self.format, self.bank, self.seq, self.link, self.signed_at, self.key
        )
        .into_bytes()
    }

    /// Checks the checkpoint was signed, unchanged, by `public_key` (this deployment's).
    pub fn verify(&self, public_key: &str) -> Result<(), CheckpointError> {
        if self.format != CHECKPOINT_FORMAT {
            return Err(CheckpointError::Format);
        }
        if self.key != public_key {
            return Err(CheckpointError::OtherKey(self.key.clone()));
        }
        let key = BASE64URL_NOPAD
            .decode(self.key.as_bytes())
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .and_then(|bytes| VerifyingKey::from_bytes(&bytes).ok())
            .ok_or_else(|| CheckpointError::OtherKey(self.key.clone()))?;
        let signature = BASE64URL_NOPAD
            .decode(self.signature.as_bytes())
            .ok()
            .and_then(|bytes| Signature::from_slice(&bytes).ok())
            .ok_or(CheckpointError::Signature)?;
        key.verify_strict(&self.message(), &signature)
            .map_err(|_| CheckpointError::Signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> CheckpointSigner {
        CheckpointSigner::from_seed([7; 32])
    }

    fn signed() -> Checkpoint {
        signer().sign("shinkin-a", 42, "ab12", "2026-12-01T10:00:00Z")
    }

    #[test]
    fn a_checkpoint_verifies_with_the_key_that_signed_it() {
        assert_eq!(signed().verify(&signer().public_key()), Ok(()));
    }

    #[test]
    fn any_changed_field_breaks_the_signature() {
        let key = signer().public_key();
        let edits: [fn(&mut Checkpoint); 4] = [
            |c| c.bank = "shinkin-b".into(),
            |c| c.seq = 41,
            |c| c.link = "ab13".into(),
            |c| c.signed_at = "2026-12-01T10:00:01Z".into(),
        ];
        for edit in edits {
            let mut checkpoint = signed();
            edit(&mut checkpoint);
            assert_eq!(checkpoint.verify(&key), Err(CheckpointError::Signature));
        }
    }

    #[test]
    fn another_deployments_checkpoint_is_refused_even_when_well_signed() {
        let other = CheckpointSigner::from_seed([8; 32]);
        let theirs = other.sign("shinkin-a", 42, "ab12", "2026-12-01T10:00:00Z");
        assert_eq!(theirs.verify(&other.public_key()), Ok(()));
        assert_eq!(
            theirs.verify(&signer().public_key()),
            Err(CheckpointError::OtherKey(other.public_key()))
        );
    }

    #[test]
    fn a_checkpoint_reads_back_from_its_json_line() {
        let line = serde_json::to_string(&signed()).unwrap();
        let back: Checkpoint = serde_json::from_str(&line).unwrap();
        assert_eq!(back, signed());
        assert!(serde_json::from_str::<Checkpoint>(&line.replace("\"seq\"", "\"sq\"")).is_err());
    }
}
