//! Key sets: `keygen`, the client key sealed at rest, and reading keys back with their ids checked.
//!
//! The client key never leaves the requester's machine and is stored sealed: scrypt derives a 256-bit key from
//! the passphrase (the same KDF as the wallet's Ethereum keystores, so one password policy covers both) and
//! ChaCha20-Poly1305 encrypts the serialized key, with the whole file header as associated data, so changing
//! the header (e.g. its key id) breaks the seal. We chose this over the `age` crate's passphrase mode because
//! the file must carry our header anyway, and these two primitives are already audited RustCrypto crates.

use chacha20poly1305::{ChaCha20Poly1305, Key, KeyInit, Nonce, aead::Aead};
use serde::{Deserialize, Serialize};
use tfhe::{
    ClientKey, CompactPublicKey, CompressedServerKey, ConfigBuilder,
    prelude::Tagged,
    safe_serialization::{safe_deserialize, safe_serialize},
};
use zeroize::Zeroizing;

use crate::{
    Error, Result,
    format::{self, FileKind, Header, KeyId},
};

/// Largest key accepted when reading (a compressed server key of the default parameters is ~60 MB; the
/// limit bounds what a hostile file can make us allocate).
pub(crate) const MAX_KEY_BYTES: u64 = 1 << 30;

/// How a client key file is sealed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seal {
    /// Key derivation: always `scrypt`.
    pub kdf: String,
    /// scrypt cost: log2(N).
    pub log_n: u8,
    /// scrypt block size.
    pub r: u32,
    /// scrypt parallelism.
    pub p: u32,
    /// Random salt (hex).
    pub salt: String,
    /// ChaCha20-Poly1305 nonce (hex).
    pub nonce: String,
}

/// The scrypt cost of a new seal: [`Cost::STANDARD`] for real keys; tests use [`Cost::FAST`].
#[derive(Clone, Copy, Debug)]
pub struct Cost {
    /// log2(N).
    pub log_n: u8,
}

impl Cost {
    /// N = 2^17, r = 8, p = 1: ~128 MiB and about a third of a second per unlock (scrypt's recommendation).
    pub const STANDARD: Self = Self { log_n: 17 };
    /// N = 2^10: for tests only.
    pub const FAST: Self = Self { log_n: 10 };
}

/// A fresh key set: what `ocean fhe keygen` makes.
pub struct KeySet {
    /// The id written in every key's header and as the tfhe-rs tag of every key and ciphertext.
    pub key_id: KeyId,
    /// The secret key: encrypts, decrypts, and derives the others.
    pub client: ClientKey,
    /// The evaluation key for providers, compressed (seeded) for storage.
    pub server: CompressedServerKey,
    /// The key data owners encrypt with.
    pub public: CompactPublicKey,
}

/// The tfhe-rs configuration of [`format::PARAMS`].
pub(crate) fn config() -> tfhe::Config {
    ConfigBuilder::default().build()
}

fn ser<T>(value: &T) -> Vec<u8>
where
    T: Serialize + tfhe::Versionize + tfhe::named::Named,
{
    let mut out = Vec::new();
    safe_serialize(value, &mut out, MAX_KEY_BYTES).expect("serializing into memory within the limit");
    out
}

pub(crate) fn de<T>(bytes: &[u8], what: &str) -> Result<T>
where
    T: serde::de::DeserializeOwned + tfhe::Unversionize + tfhe::named::Named,
{
    safe_deserialize(bytes, MAX_KEY_BYTES).map_err(|e| Error::format(what, format!("tfhe payload: {e}")))
}

impl KeySet {
    /// Generates a new key set (a few seconds: the server key dominates).
    pub fn generate() -> Self {
        let key_id = KeyId::random();
        let mut client = ClientKey::generate(config());
        // The tag travels with every key and ciphertext tfhe-rs derives from this client key.
        client.tag_mut().set_data(&key_id.0);
        let server = client.generate_compressed_server_key();
        let public = CompactPublicKey::new(&client);
        Self { key_id, client, server, public }
    }

    /// The client key file, sealed with `passphrase`.
    pub fn client_file(&self, passphrase: &[u8], cost: Cost) -> Result<Vec<u8>> {
        let salt: [u8; 32] = rand::random();
        let nonce: [u8; 12] = rand::random();
        let mut header = Header::new(FileKind::ClientKey, self.key_id);
        header.seal = Some(Seal {
            kdf: "scrypt".into(),
            log_n: cost.log_n,
            r: 8,
            p: 1,
            salt: hex::encode(salt),
            nonce: hex::encode(nonce),
        });
        let head = header.encode();
        let key = derive(passphrase, header.seal.as_ref().expect("just set"))?;
        let plain = Zeroizing::new(ser(&self.client));
        let sealed = ChaCha20Poly1305::new(Key::from_slice(&key[..]))
            .encrypt(Nonce::from_slice(&nonce), chacha20poly1305::aead::Payload { msg: &plain, aad: &head })
            .map_err(|_| Error::format("client key", "sealing failed"))?;
        let mut out = head;
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// The compressed server key file.
    pub fn server_file(&self) -> Vec<u8> {
        format::write(&Header::new(FileKind::ServerKey, self.key_id), &ser(&self.server))
    }

    /// The compact public key file.
    pub fn public_file(&self) -> Vec<u8> {
        format::write(&Header::new(FileKind::PublicKey, self.key_id), &ser(&self.public))
    }
}

fn derive(passphrase: &[u8], seal: &Seal) -> Result<Zeroizing<[u8; 32]>> {
    if seal.kdf != "scrypt" {
        return Err(Error::format("client key", format!("unknown key derivation `{}`", seal.kdf)));
    }
    // Bounds what a crafted file can make us spend (2^20 x 8 x 128 B = 1 GiB).
    if seal.log_n > 20 || seal.r != 8 || seal.p != 1 {
        return Err(Error::format("client key", "scrypt parameters out of range"));
    }
    let salt = hex::decode(&seal.salt).map_err(|e| Error::format("client key", format!("salt: {e}")))?;
    let params = scrypt::Params::new(seal.log_n, seal.r, seal.p, 32)
        .map_err(|e| Error::format("client key", format!("scrypt parameters: {e}")))?;
    let mut key = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(passphrase, &salt, &params, key.as_mut())
        .map_err(|e| Error::format("client key", format!("scrypt: {e}")))?;
    Ok(key)
}

/// An opened client key.
pub struct Client {
    /// Its key set.
    pub key_id: KeyId,
    /// The key.
    pub key: ClientKey,
}

/// Opens a sealed client key file.
pub fn open_client(bytes: &[u8], passphrase: &[u8]) -> Result<Client> {
    let (header, head, payload) = format::read_kind(bytes, FileKind::ClientKey, "client key")?;
    let seal = header.seal.as_ref().ok_or_else(|| Error::format("client key", "no seal in the header"))?;
    let nonce: [u8; 12] = hex::decode(&seal.nonce)
        .ok()
        .and_then(|n| n.try_into().ok())
        .ok_or_else(|| Error::format("client key", "bad nonce"))?;
    let key = derive(passphrase, seal)?;
    let plain = Zeroizing::new(
        ChaCha20Poly1305::new(Key::from_slice(&key[..]))
            .decrypt(Nonce::from_slice(&nonce), chacha20poly1305::aead::Payload { msg: payload, aad: head })
            .map_err(|_| Error::WrongPassphrase)?,
    );
    let key: ClientKey = de(&plain, "client key")?;
    Ok(Client { key_id: header.key_id, key })
}

/// A server key as read from its file (still compressed).
pub struct Server {
    /// Its key set.
    pub key_id: KeyId,
    /// The key.
    pub key: CompressedServerKey,
}

/// Reads a server key file.
pub fn read_server(bytes: &[u8]) -> Result<Server> {
    let (header, _, payload) = format::read_kind(bytes, FileKind::ServerKey, "server key")?;
    Ok(Server { key_id: header.key_id, key: de(payload, "server key")? })
}

/// A public key as read from its file.
pub struct Public {
    /// Its key set.
    pub key_id: KeyId,
    /// The key.
    pub key: CompactPublicKey,
}

/// Reads a public key file.
pub fn read_public(bytes: &[u8]) -> Result<Public> {
    let (header, _, payload) = format::read_kind(bytes, FileKind::PublicKey, "public key")?;
    Ok(Public { key_id: header.key_id, key: de(payload, "public key")? })
}
