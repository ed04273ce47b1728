//! The files of homomorphic jobs: one container for keys and ciphertexts.
//!
//! ```text
//! "OCEANFHE" | header length (u32, little endian) | header (JSON) | payload (tfhe-rs safe serialization)
//! ```
//!
//! The header names the file's kind, the format version, the tfhe-rs parameter set and the *key id* (16
//! random bytes drawn by `keygen`, also written as the tfhe-rs tag of every key), so a ciphertext under another
//! key, a client key that does not match, or a server key from another key set is refused with a clear error
//! before any work. Headers are compact JSON with fields in declaration order: equal files are equal bytes.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// First bytes of every file.
pub const MAGIC: &[u8; 8] = b"OCEANFHE";
/// The container version this build writes and reads.
pub const VERSION: u32 = 1;
/// The only parameter set so far: tfhe-rs 1.x defaults (2 message bits and 2 carry bits per block, KS-PBS,
/// TUniform noise, failure probability 2^-128).
pub const PARAMS: &str = "tfhe1/PARAM_MESSAGE_2_CARRY_2_KS_PBS_TUNIFORM_2M128";
/// Largest header accepted (a header lists at most a few thousand values).
const MAX_HEADER: usize = 1 << 20;

/// What a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileKind {
    /// The requester's client key, sealed with a passphrase.
    ClientKey,
    /// The compressed server key (evaluation key) providers use.
    ServerKey,
    /// The compact public key data owners encrypt with.
    PublicKey,
    /// One encrypted input value (scalar or array), as a compact ciphertext list.
    Ciphertext,
    /// The encrypted outputs of a program.
    Outputs,
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ClientKey => "client key",
            Self::ServerKey => "server key",
            Self::PublicKey => "public key",
            Self::Ciphertext => "ciphertext",
            Self::Outputs => "outputs",
        })
    }
}

/// Identifies one key set (client, server and public key made together).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyId(pub [u8; 16]);

impl KeyId {
    /// A fresh random id.
    pub fn random() -> Self {
        Self(rand::random())
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl TryFrom<String> for KeyId {
    type Error = String;
    fn try_from(s: String) -> std::result::Result<Self, String> {
        let mut id = [0u8; 16];
        hex::decode_to_slice(&s, &mut id).map_err(|e| format!("key id `{s}`: {e}"))?;
        Ok(Self(id))
    }
}

impl From<KeyId> for String {
    fn from(k: KeyId) -> Self {
        k.to_string()
    }
}

/// The header of a file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Container version ([`VERSION`]).
    pub format: u32,
    /// What the payload is.
    pub kind: FileKind,
    /// The tfhe-rs parameter set ([`PARAMS`]).
    pub params: String,
    /// The key set.
    pub key_id: KeyId,
    /// For ciphertext and outputs files: the values, in payload order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<ValueInfo>,
    /// For the client key: how it is sealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal: Option<crate::keys::Seal>,
}

/// One value of a ciphertext or outputs file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueInfo {
    /// The value's name (the program's output name; empty for an input file).
    pub name: String,
    /// Its type, e.g. `u32` or `u16[250]`.
    #[serde(rename = "type")]
    pub ty: crate::program::Type,
    /// Byte length of each element's serialization in the payload (outputs files only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sizes: Vec<u64>,
}

impl Header {
    /// A header of `kind` for key set `key_id`, current version and parameters.
    pub fn new(kind: FileKind, key_id: KeyId) -> Self {
        Self { format: VERSION, kind, params: PARAMS.to_owned(), key_id, values: Vec::new(), seal: None }
    }

    /// The encoded header (magic, length, JSON), i.e. the file without its payload.
    pub fn encode(&self) -> Vec<u8> {
        let json = serde_json::to_vec(self).expect("a header always serializes");
        let mut out = Vec::with_capacity(12 + json.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(json.len() as u32).to_le_bytes());
        out.extend_from_slice(&json);
        out
    }
}

/// Joins a header and a payload into a file.
pub fn write(header: &Header, payload: &[u8]) -> Vec<u8> {
    let mut out = header.encode();
    out.extend_from_slice(payload);
    out
}

/// Splits a file into its header, the header's encoded bytes, and the payload; checks the magic, the version
/// and the parameter set. `what` names the file in errors.
pub fn read<'a>(bytes: &'a [u8], what: &str) -> Result<(Header, &'a [u8], &'a [u8])> {
    if bytes.len() < 12 || &bytes[..8] != MAGIC {
        return Err(Error::format(what, "not an Ocean FHE file (no OCEANFHE header)"));
    }
    let len = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
    if len > MAX_HEADER || bytes.len() < 12 + len {
        return Err(Error::format(what, "truncated header"));
    }
    let header: Header = serde_json::from_slice(&bytes[12..12 + len])
        .map_err(|e| Error::format(what, format!("bad header: {e}")))?;
    if header.format != VERSION {
        return Err(Error::format(
            what,
            format!("format version {} (this build reads version {VERSION})", header.format),
        ));
    }
    if header.params != PARAMS {
        return Err(Error::format(
            what,
            format!("parameter set `{}` (this build uses `{PARAMS}`)", header.params),
        ));
    }
    Ok((header, &bytes[..12 + len], &bytes[12 + len..]))
}

/// [`read`], and the file must be of `kind`.
pub fn read_kind<'a>(bytes: &'a [u8], kind: FileKind, what: &str) -> Result<(Header, &'a [u8], &'a [u8])> {
    let (header, head, payload) = read(bytes, what)?;
    if header.kind != kind {
        return Err(Error::WrongFile { what: what.to_owned(), expected: kind, found: header.kind });
    }
    Ok((header, head, payload))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trips_and_refuses_garbage() {
        let h = Header::new(FileKind::PublicKey, KeyId([7; 16]));
        let file = write(&h, b"payload");
        let (back, head, payload) = read(&file, "x").unwrap();
        assert_eq!(back, h);
        assert_eq!(payload, b"payload");
        assert_eq!(head.len() + 7, file.len());
        assert!(matches!(read(b"hello world, not ours", "x"), Err(Error::Format { .. })));
        assert!(matches!(
            read_kind(&file, FileKind::ServerKey, "x"),
            Err(Error::WrongFile { expected: FileKind::ServerKey, found: FileKind::PublicKey, .. })
        ));
        let mut other = h;
        other.format = 99;
        assert!(read(&write(&other, b""), "x").unwrap_err().to_string().contains("version 99"));
    }
}
