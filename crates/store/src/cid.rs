//! Content identifiers (CIDs): version 0 and 1, multihash, multicodec, and their text forms.
//!
//! A CIDv1 is `varint(1) varint(codec) varint(hash code) varint(digest length) digest`; a CIDv0 is the bare
//! sha2-256 multihash of a dag-pb block. Text: CIDv0 is base58btc without a prefix (`Qm…`), CIDv1 is written
//! in lower-case base32 (`b…`, as kubo and Helia print it) and also read from base58btc (`z…`) and upper-case
//! base32 (`B…`).

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// Multicodec of a raw block (bytes as they are).
pub const RAW: u64 = 0x55;
/// Multicodec of a dag-pb block (UnixFS nodes).
pub const DAG_PB: u64 = 0x70;
/// Multihash code of sha2-256, the only hash this store computes.
pub const SHA2_256: u64 = 0x12;
/// Multihash code of the identity "hash" (the digest is the data itself).
pub const IDENTITY: u64 = 0x00;

/// Longest digest a CID may carry here (sha2-512 and blake2b-512 fit).
const MAX_DIGEST: usize = 64;

/// Errors from parsing or checking a CID.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// The text is not in a multibase this store reads.
    #[error("CID text {0:?} is not base58btc (Qm…/z…) or base32 (b…)")]
    Multibase(String),
    /// The bytes end early or a varint is malformed.
    #[error("CID bytes are truncated or malformed")]
    Truncated,
    /// The CID version is not 0 or 1.
    #[error("unsupported CID version {0}")]
    Version(u64),
    /// The codec is neither raw nor dag-pb.
    #[error("unsupported CID codec 0x{0:x} (this store holds raw and dag-pb blocks)")]
    Codec(u64),
    /// The hash function is not sha2-256 (or identity).
    #[error("unsupported multihash 0x{0:x} (this store verifies sha2-256)")]
    Hash(u64),
    /// The digest length does not match the hash function.
    #[error("digest of {len} bytes is invalid for multihash 0x{code:x}")]
    DigestLength {
        /// Multihash code.
        code: u64,
        /// Declared digest length.
        len: usize,
    },
    /// A CIDv0 must be a sha2-256 dag-pb CID.
    #[error("a CIDv0 must be a dag-pb sha2-256 CID")]
    V0,
    /// Bytes remain after the CID.
    #[error("trailing bytes after the CID")]
    Trailing,
}

/// CID version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// Base58 `Qm…`, implicit dag-pb + sha2-256.
    V0,
    /// Self-describing.
    V1,
}

/// A content identifier. Small and `Copy`, so it is cheap to use as a map key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cid {
    version: Version,
    codec: u64,
    hash: u64,
    len: u8,
    digest: [u8; MAX_DIGEST],
}

impl Cid {
    /// Hashes `data` with sha2-256 and returns the CID of that block.
    ///
    /// A CIDv0 is only defined for dag-pb: asking for `(V0, RAW)` gives a CIDv1, as kubo does for raw leaves.
    pub fn hash_block(version: Version, codec: u64, data: &[u8]) -> Cid {
        let digest: [u8; 32] = Sha256::digest(data).into();
        Cid::from_sha256(version, codec, digest)
    }

    /// The CID of a block whose sha2-256 digest is already known.
    pub fn from_sha256(version: Version, codec: u64, digest: [u8; 32]) -> Cid {
        let version = if codec == DAG_PB { version } else { Version::V1 };
        let mut d = [0u8; MAX_DIGEST];
        d[..32].copy_from_slice(&digest);
        Cid { version, codec, hash: SHA2_256, len: 32, digest: d }
    }

    /// CID version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Multicodec of the block ([`RAW`] or [`DAG_PB`]).
    pub fn codec(&self) -> u64 {
        self.codec
    }

    /// Multihash code ([`SHA2_256`] or [`IDENTITY`]).
    pub fn hash_code(&self) -> u64 {
        self.hash
    }

    /// The digest.
    pub fn digest(&self) -> &[u8] {
        &self.digest[..self.len as usize]
    }

    /// Checks that `data` is the block this CID names. Identity CIDs carry their data inline.
    pub fn verify(&self, data: &[u8]) -> bool {
        match self.hash {
            SHA2_256 => Sha256::digest(data).as_slice() == self.digest(),
            IDENTITY => data == self.digest(),
            _ => false,
        }
    }

    /// The same content as a CIDv1 (CIDv0 → base32 `bafy…`).
    pub fn to_v1(&self) -> Cid {
        Cid { version: Version::V1, ..*self }
    }

    /// Binary form: the multihash for v0, `0x01 codec multihash` for v1.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.len as usize);
        self.write_bytes(&mut out);
        out
    }

    /// Appends the binary form to `out`.
    pub fn write_bytes(&self, out: &mut Vec<u8>) {
        if self.version == Version::V1 {
            varint::write(out, 1);
            varint::write(out, self.codec);
        }
        varint::write(out, self.hash);
        varint::write(out, u64::from(self.len));
        out.extend_from_slice(self.digest());
    }

    /// Length of the binary form in bytes.
    pub fn encoded_len(&self) -> usize {
        let mh = varint::len(self.hash) + varint::len(u64::from(self.len)) + self.len as usize;
        match self.version {
            Version::V0 => mh,
            Version::V1 => 1 + varint::len(self.codec) + mh,
        }
    }

    /// Parses exactly one binary CID.
    pub fn from_bytes(bytes: &[u8]) -> Result<Cid, Error> {
        let (cid, used) = Cid::read_prefix(bytes)?;
        if used != bytes.len() {
            return Err(Error::Trailing);
        }
        Ok(cid)
    }

    /// Parses a binary CID at the start of `bytes`; returns it and the bytes it took.
    pub fn read_prefix(bytes: &[u8]) -> Result<(Cid, usize), Error> {
        // A CIDv0 multihash starts with 0x12 0x20; a CIDv1 starts with varint 1.
        if bytes.len() >= 2 && bytes[0] == 0x12 && bytes[1] == 0x20 {
            let (hash, len, digest, used) = read_multihash(bytes)?;
            let cid = Cid { version: Version::V0, codec: DAG_PB, hash, len, digest };
            return Ok((cid, used));
        }
        let (version, a) = varint::read(bytes).ok_or(Error::Truncated)?;
        if version != 1 {
            return Err(Error::Version(version));
        }
        let (codec, b) = varint::read(&bytes[a..]).ok_or(Error::Truncated)?;
        if codec != RAW && codec != DAG_PB {
            return Err(Error::Codec(codec));
        }
        let (hash, len, digest, c) = read_multihash(&bytes[a + b..])?;
        Ok((Cid { version: Version::V1, codec, hash, len, digest }, a + b + c))
    }
}

fn read_multihash(bytes: &[u8]) -> Result<(u64, u8, [u8; MAX_DIGEST], usize), Error> {
    let (hash, a) = varint::read(bytes).ok_or(Error::Truncated)?;
    let (len, b) = varint::read(&bytes[a..]).ok_or(Error::Truncated)?;
    let len = usize::try_from(len).map_err(|_| Error::Truncated)?;
    match hash {
        SHA2_256 if len != 32 => return Err(Error::DigestLength { code: hash, len }),
        SHA2_256 => {}
        IDENTITY if len > MAX_DIGEST => return Err(Error::DigestLength { code: hash, len }),
        IDENTITY => {}
        other => return Err(Error::Hash(other)),
    }
    let start = a + b;
    let digest_bytes = bytes.get(start..start + len).ok_or(Error::Truncated)?;
    let mut digest = [0u8; MAX_DIGEST];
    digest[..len].copy_from_slice(digest_bytes);
    Ok((hash, len as u8, digest, start + len))
}

const BASE32_LOWER: data_encoding::Encoding = data_encoding::BASE32_NOPAD;

impl fmt::Display for Cid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.version {
            Version::V0 => f.write_str(&bs58::encode(self.to_bytes()).into_string()),
            Version::V1 => {
                let text = BASE32_LOWER.encode(&self.to_bytes()).to_ascii_lowercase();
                write!(f, "b{text}")
            }
        }
    }
}

impl fmt::Debug for Cid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cid({self})")
    }
}

impl FromStr for Cid {
    type Err = Error;

    fn from_str(s: &str) -> Result<Cid, Error> {
        let bad = || Error::Multibase(s.chars().take(80).collect());
        if s.len() == 46 && s.starts_with("Qm") {
            let bytes = bs58::decode(s).into_vec().map_err(|_| bad())?;
            let cid = Cid::from_bytes(&bytes)?;
            return if cid.version == Version::V0 { Ok(cid) } else { Err(Error::V0) };
        }
        let mut chars = s.chars();
        let bytes = match chars.next() {
            Some('b') => {
                BASE32_LOWER.decode(chars.as_str().to_ascii_uppercase().as_bytes()).map_err(|_| bad())?
            }
            Some('B') => BASE32_LOWER.decode(chars.as_str().as_bytes()).map_err(|_| bad())?,
            Some('z') => bs58::decode(chars.as_str()).into_vec().map_err(|_| bad())?,
            _ => return Err(bad()),
        };
        let cid = Cid::from_bytes(&bytes)?;
        if cid.version == Version::V0 {
            // A multibase string always holds a CIDv1; a bare multihash inside one is malformed.
            return Err(Error::Version(0));
        }
        Ok(cid)
    }
}

impl serde::Serialize for Cid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Cid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Cid, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Unsigned LEB128 varints as multiformats use them.
pub(crate) mod varint {
    /// Appends `v` to `out`.
    pub(crate) fn write(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    /// Bytes that `v` takes.
    pub(crate) fn len(mut v: u64) -> usize {
        let mut n = 1;
        while v >= 0x80 {
            v >>= 7;
            n += 1;
        }
        n
    }

    /// Reads a minimal varint (at most 9 bytes for 63 bits); returns the value and the bytes used.
    pub(crate) fn read(bytes: &[u8]) -> Option<(u64, usize)> {
        let mut v: u64 = 0;
        for (i, &b) in bytes.iter().enumerate().take(10) {
            let part = u64::from(b & 0x7f);
            if i == 9 && b > 1 {
                return None;
            }
            v |= part << (7 * i);
            if b & 0x80 == 0 {
                // Reject non-minimal encodings (a trailing zero byte), as the multiformats spec requires.
                if i > 0 && b == 0 {
                    return None;
                }
                return Some((v, i + 1));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn known_cids_of_empty_data() {
        // kubo: `ipfs add --cid-version=1` of an empty file.
        let raw = Cid::hash_block(Version::V1, RAW, b"");
        assert_eq!(raw.to_string(), "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku");
        // The empty UnixFS directory, v0 and v1.
        let dir = Cid::hash_block(Version::V0, DAG_PB, &[0x0a, 0x02, 0x08, 0x01]);
        assert_eq!(dir.to_string(), "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn");
        assert_eq!(dir.to_v1().to_string(), "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354");
    }

    #[test]
    fn text_round_trip() {
        for s in [
            "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn",
            "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354",
            "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
        ] {
            let cid: Cid = s.parse().unwrap();
            assert_eq!(cid.to_string(), s);
            assert_eq!(Cid::from_bytes(&cid.to_bytes()).unwrap(), cid);
            assert_eq!(cid.encoded_len(), cid.to_bytes().len());
        }
        let z =
            format!("z{}", bs58::encode(Cid::hash_block(Version::V1, RAW, b"x").to_bytes()).into_string());
        assert_eq!(z.parse::<Cid>().unwrap(), Cid::hash_block(Version::V1, RAW, b"x"));
    }

    #[test]
    fn rejects_unknown_codec_and_hash() {
        // dag-cbor codec
        let mut b = vec![1, 0x71, 0x12, 0x20];
        b.extend([0u8; 32]);
        assert_eq!(Cid::from_bytes(&b), Err(Error::Codec(0x71)));
        // blake3
        let mut b = vec![1, 0x55, 0x1e, 0x20];
        b.extend([0u8; 32]);
        assert_eq!(Cid::from_bytes(&b), Err(Error::Hash(0x1e)));
        assert!("bafy".parse::<Cid>().is_err());
        assert!("hello".parse::<Cid>().is_err());
        assert!("".parse::<Cid>().is_err());
    }

    #[test]
    fn varints() {
        for v in [0u64, 1, 127, 128, 300, 1 << 40, u64::MAX >> 1] {
            let mut out = Vec::new();
            varint::write(&mut out, v);
            assert_eq!(varint::len(v), out.len());
            assert_eq!(varint::read(&out), Some((v, out.len())));
        }
        assert_eq!(varint::read(&[0x80, 0x00]), None);
        assert_eq!(varint::read(&[0x80]), None);
    }
}
