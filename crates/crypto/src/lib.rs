//! Ocean AI's envelopes: the encryption of a private job's inputs and results, in the [age] format
//! (X25519 recipients, ChaCha20-Poly1305 payload), via the `age` crate: files made here open with the
//! `age` command-line tool and the reverse (`tests/it/interop.rs` checks both ways).
//!
//! ```text
//!  requester                                   provider (one of the r assigned)
//!  input ─► encrypt(to = the r providers' registered keys) ─► store ─► CAR ─► store ─► decrypt(node identity)
//!  output ◄─ decrypt(requester identity) ◄─ fetch ◄─ store ◄─ encrypt(to = requester's recipient) ◄─ result
//! ```
//!
//! - [`Identity`]: an X25519 secret key. Nodes and requesters derive theirs from their wallet key
//!   ([`Identity::derive`]), so it has exactly the protection of the keystore (scrypt-encrypted at rest) and
//!   never needs a second file or password.
//! - [`Recipient`]: its public half. On chain it is 32 raw bytes (the NodeRegistry's `encryptionKey`),
//!   for people it is the usual `age1…` string.
//! - [`encrypt`] / [`decrypt`] (bytes) and [`encrypt_stream`] / [`decrypt_stream`] (readers and writers).
//!
//! age's payload is authenticated chunk by chunk, so a truncated or tampered envelope fails to decrypt
//! instead of yielding garbage, and a file made to other recipients is refused up front
//! ([`Error::NotARecipient`]).
//!
//! [age]: https://c2sp.org/age

use std::{
    fmt,
    io::{self, Read, Write},
    str::FromStr,
};

use age::secrecy::ExposeSecret;
use bech32::{FromBase32, ToBase32, Variant};
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

/// Domain separation of [`Identity::derive`]: the same wallet key gives unrelated keys for other uses.
const DERIVE_CONTEXT: &[u8] = b"ocean-ai/age-x25519-identity/v1\0";
const SECRET_HRP: &str = "age-secret-key-";
const RECIPIENT_HRP: &str = "age";

/// What can go wrong with an envelope or a key.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The envelope is addressed to other keys: this identity is not one of its recipients.
    #[error("not encrypted to this key (the envelope is addressed to other recipients)")]
    NotARecipient,
    /// The bytes are not an age file, or it was truncated or tampered with.
    #[error("not a valid age envelope: {0}")]
    Malformed(String),
    /// A key string or key bytes are invalid.
    #[error("invalid key: {0}")]
    BadKey(String),
    /// Encrypting to nobody would make data nobody can read.
    #[error("an envelope needs at least one recipient")]
    NoRecipients,
    /// Reading or writing the data failed.
    #[error("envelope I/O: {0}")]
    Io(#[from] io::Error),
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<age::DecryptError> for Error {
    fn from(e: age::DecryptError) -> Self {
        match e {
            age::DecryptError::NoMatchingKeys => Self::NotARecipient,
            age::DecryptError::Io(io) if io.kind() != io::ErrorKind::InvalidData => Self::Io(io),
            other => Self::Malformed(other.to_string()),
        }
    }
}

/// An X25519 age identity (secret key). Its `Debug` form never shows the secret.
#[derive(Clone)]
pub struct Identity(age::x25519::Identity);

impl Identity {
    /// A fresh random identity.
    pub fn generate() -> Self {
        Self(age::x25519::Identity::generate())
    }

    /// The identity whose X25519 secret is `secret` (clamped as X25519 requires).
    pub fn from_secret(secret: [u8; 32]) -> Self {
        let mut secret = secret;
        let encoded = bech32::encode(SECRET_HRP, secret.to_base32(), Variant::Bech32);
        secret.zeroize();
        let mut encoded = encoded.expect("the HRP is a valid constant").to_uppercase();
        let parsed = encoded.parse::<age::x25519::Identity>();
        encoded.zeroize();
        Self(parsed.expect("32 bytes under the age HRP always parse"))
    }

    /// The identity derived from a wallet's secret key (`SHA-256(context ‖ seed)`): stable for the account,
    /// protected by the keystore that protects `seed`, and unrelated to the account's signing key.
    pub fn derive(seed: &[u8]) -> Self {
        let mut h = Sha256::new();
        h.update(DERIVE_CONTEXT);
        h.update(seed);
        let mut secret: [u8; 32] = h.finalize().into();
        let id = Self::from_secret(secret);
        secret.zeroize();
        id
    }

    /// Its public half.
    pub fn recipient(&self) -> Recipient {
        Recipient(self.0.to_public())
    }

    /// The `AGE-SECRET-KEY-1…` form an `age -i` identity file holds. Handle with care.
    pub fn to_secret_string(&self) -> String {
        self.0.to_string().expose_secret().to_owned()
    }
}

impl FromStr for Identity {
    type Err = Error;
    /// Parses `AGE-SECRET-KEY-1…` (one line of an age identity file).
    fn from_str(s: &str) -> Result<Self> {
        s.trim().parse::<age::x25519::Identity>().map(Self).map_err(|e| Error::BadKey(e.to_owned()))
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity({})", self.recipient())
    }
}

/// An X25519 age recipient (public key): `age1…` for people, 32 bytes on chain.
#[derive(Clone)]
pub struct Recipient(age::x25519::Recipient);

impl Recipient {
    /// The recipient with these raw X25519 public-key bytes (as the NodeRegistry stores them). All zeros
    /// (an unset key on chain) is refused.
    pub fn from_bytes(bytes: [u8; 32]) -> Result<Self> {
        if bytes == [0; 32] {
            return Err(Error::BadKey("the key is unset (all zeros)".into()));
        }
        let text = bech32::encode(RECIPIENT_HRP, bytes.to_base32(), Variant::Bech32)
            .map_err(|e| Error::BadKey(e.to_string()))?;
        text.parse()
    }

    /// The raw X25519 public key.
    pub fn to_bytes(&self) -> [u8; 32] {
        let text = self.0.to_string();
        // Our own encoding of a valid key always decodes to 32 bytes.
        let (_, data, _) = bech32::decode(&text).expect("age recipients are valid Bech32");
        let bytes = Vec::<u8>::from_base32(&data).expect("age recipients carry whole bytes");
        bytes.try_into().expect("an X25519 public key is 32 bytes")
    }
}

impl FromStr for Recipient {
    type Err = Error;
    /// Parses `age1…`.
    fn from_str(s: &str) -> Result<Self> {
        s.trim().parse::<age::x25519::Recipient>().map(Self).map_err(|e| Error::BadKey(format!("`{s}`: {e}")))
    }
}

impl fmt::Display for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Recipient({})", self.0)
    }
}

impl PartialEq for Recipient {
    fn eq(&self, other: &Self) -> bool {
        self.to_bytes() == other.to_bytes()
    }
}

impl Eq for Recipient {}

/// Encrypts everything `input` yields to every one of `recipients` (each can decrypt alone) into `output`;
/// returns the plaintext length.
pub fn encrypt_stream(recipients: &[Recipient], mut input: impl Read, output: impl Write) -> Result<u64> {
    if recipients.is_empty() {
        return Err(Error::NoRecipients);
    }
    let encryptor = age::Encryptor::with_recipients(recipients.iter().map(|r| &r.0 as &dyn age::Recipient))
        .map_err(|e| Error::BadKey(e.to_string()))?;
    let mut writer = encryptor.wrap_output(output)?;
    let n = io::copy(&mut input, &mut writer)?;
    writer.finish()?;
    Ok(n)
}

/// Decrypts an envelope read from `input` into `output`; returns the plaintext length. At most `limit`
/// plaintext bytes are accepted, so a peer cannot make the reader write without bound.
///
/// The payload is authenticated chunk by chunk (64 KiB): on an error, `output` may already hold a prefix of
/// the plaintext, so callers write to a private scratch place and discard it on failure.
pub fn decrypt_stream(
    identity: &Identity,
    input: impl Read,
    mut output: impl Write,
    limit: u64,
) -> Result<u64> {
    let decryptor = age::Decryptor::new(io::BufReader::new(input))?;
    let reader = decryptor.decrypt(std::iter::once(&identity.0 as &dyn age::Identity))?;
    let mut limited = reader.take(limit.saturating_add(1));
    let n = io::copy(&mut limited, &mut output).map_err(|e| match e.kind() {
        io::ErrorKind::InvalidData => Error::Malformed(format!("payload: {e}")),
        _ => Error::Io(e),
    })?;
    if n > limit {
        return Err(Error::Malformed(format!("plaintext exceeds the limit of {limit} bytes")));
    }
    Ok(n)
}

/// Encrypts `plaintext` to `recipients`.
pub fn encrypt(recipients: &[Recipient], plaintext: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(plaintext.len() + 256 + plaintext.len() / 4096);
    encrypt_stream(recipients, plaintext, &mut out)?;
    Ok(out)
}

/// Decrypts `envelope` with `identity` (no size limit beyond the envelope's own).
pub fn decrypt(identity: &Identity, envelope: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(envelope.len());
    decrypt_stream(identity, envelope, &mut out, u64::MAX - 1)?;
    Ok(out)
}

/// Whether `bytes` start like an age envelope (its version line); a cheap check before trying to decrypt.
pub fn is_envelope(bytes: &[u8]) -> bool {
    bytes.starts_with(b"age-encryption.org/v1\n")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trip_to_several_recipients() {
        let (a, b, c) = (Identity::generate(), Identity::generate(), Identity::generate());
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let env = encrypt(&[a.recipient(), b.recipient()], &data).unwrap();
        assert!(is_envelope(&env));
        assert!(!env.windows(64).any(|w| w == &data[1000..1064]), "no plaintext in the envelope");
        assert_eq!(decrypt(&a, &env).unwrap(), data);
        assert_eq!(decrypt(&b, &env).unwrap(), data);
        assert!(matches!(decrypt(&c, &env), Err(Error::NotARecipient)), "a third key is refused");
    }

    #[test]
    fn encryption_is_randomized() {
        let a = Identity::generate();
        let one = encrypt(&[a.recipient()], b"same").unwrap();
        let two = encrypt(&[a.recipient()], b"same").unwrap();
        assert_ne!(one, two, "age uses a fresh file key and ephemeral share per envelope");
    }

    #[test]
    fn derived_identities_are_stable_and_distinct() {
        let a = Identity::derive(&[1; 32]);
        assert_eq!(a.recipient(), Identity::derive(&[1; 32]).recipient());
        assert_ne!(a.recipient(), Identity::derive(&[2; 32]).recipient());
        let text = a.to_secret_string();
        assert!(text.starts_with("AGE-SECRET-KEY-1"));
        assert_eq!(text.parse::<Identity>().unwrap().recipient(), a.recipient());
        assert!(!format!("{a:?}").contains("SECRET"), "Debug hides the secret");
    }

    #[test]
    fn recipients_round_trip_through_chain_bytes_and_text() {
        let r = Identity::generate().recipient();
        let bytes = r.to_bytes();
        assert_eq!(Recipient::from_bytes(bytes).unwrap(), r);
        let text = r.to_string();
        assert!(text.starts_with("age1"));
        assert_eq!(text.parse::<Recipient>().unwrap(), r);
        assert!(matches!(Recipient::from_bytes([0; 32]), Err(Error::BadKey(_))));
        assert!(matches!("age1nope".parse::<Recipient>(), Err(Error::BadKey(_))));
        assert!(matches!("AGE-SECRET-KEY-1XYZ".parse::<Identity>(), Err(Error::BadKey(_))));
    }

    #[test]
    fn bad_envelopes_are_refused_clearly() {
        let a = Identity::generate();
        assert!(matches!(encrypt(&[], b"x"), Err(Error::NoRecipients)));
        assert!(matches!(decrypt(&a, b"plain text, not age"), Err(Error::Malformed(_))));
        let mut env = encrypt(&[a.recipient()], &vec![9u8; 100_000]).unwrap();
        // Tampering with the payload breaks its authentication.
        let last = env.len() - 10;
        env[last] ^= 1;
        assert!(matches!(decrypt(&a, &env), Err(Error::Malformed(_))), "tampered payload");
        let env = encrypt(&[a.recipient()], &vec![9u8; 100_000]).unwrap();
        assert!(matches!(decrypt(&a, &env[..env.len() - 100]), Err(Error::Malformed(_))), "truncated");
    }

    #[test]
    fn the_plaintext_limit_is_enforced() {
        let a = Identity::generate();
        let env = encrypt(&[a.recipient()], &[1u8; 1000]).unwrap();
        let mut out = Vec::new();
        assert!(matches!(decrypt_stream(&a, &env[..], &mut out, 999), Err(Error::Malformed(_))));
        let mut out = Vec::new();
        assert_eq!(decrypt_stream(&a, &env[..], &mut out, 1000).unwrap(), 1000);
    }
}
