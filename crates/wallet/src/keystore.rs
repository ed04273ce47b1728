//! The keys directory: one Ethereum V3 JSON keystore per key, `<dir>/<name>.json`.
//!
//! Encryption and decryption are alloy's (`eth-keystore`: scrypt n=8192 r=8 p=1, AES-128-CTR, the same format
//! `cast wallet` and geth write). This module adds what a keys directory needs around them:
//!
//! - files are written atomically: encrypted into a private staging directory, completed with the geth-style
//!   `address` field (so [`Wallet::list`] needs no password), written to a 0600 temporary file in the keys
//!   directory and linked into place with no-clobber semantics, so an existing key is never overwritten even by
//!   a concurrent writer;
//! - names are validated (they become file names and must not look like addresses, which selectors also accept);
//! - errors say which key and why: a wrong password, a malformed file, a missing or duplicate name.

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use alloy::{primitives::Address, signers::local::PrivateKeySigner};
use zeroize::Zeroizing;

use crate::{Error, Result};

/// File extension of keystores in the keys directory.
const EXT: &str = "json";
/// The name used when none is given, and the key chosen when several exist and none is selected.
pub const DEFAULT_NAME: &str = "default";

/// A key in the keys directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// Its name (the file name without `.json`).
    pub name: String,
    /// The address recorded in the file; `None` for a keystore without an `address` field (files dropped into
    /// the directory by hand; keys written by this crate always have one).
    pub address: Option<Address>,
    /// The keystore file.
    pub path: PathBuf,
}

/// A directory of keystores.
#[derive(Debug, Clone)]
pub struct Wallet {
    dir: PathBuf,
}

impl Wallet {
    /// The keys in `dir`. Nothing is read or created until a method needs it; the directory is created (0700)
    /// when the first key is written.
    pub fn open(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The keys directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the key `name` is (or would be) stored.
    pub fn path_of(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.{EXT}"))
    }

    /// Creates a new random key `name` encrypted with `password`.
    pub fn create(&self, name: &str, password: &str) -> Result<KeyInfo> {
        self.check_new(name)?;
        let staging = self.staging()?;
        let (signer, _) =
            PrivateKeySigner::new_keystore(staging.path(), &mut rand08::thread_rng(), password, Some("key"))
                .map_err(|e| keystore_error(e, name, staging.path()))?;
        let json = read_json(&staging.path().join("key"))?;
        let key = self.persist(name, signer.address(), json)?;
        tracing::debug!(target: "ocean::wallet", name, address = %signer.address(), "created key");
        Ok(key)
    }

    /// Stores the private key given as hex (64 digits, optional `0x`, surrounding whitespace ignored) as `name`.
    pub fn import_private_key(&self, name: &str, hex: &str, password: &str) -> Result<KeyInfo> {
        let secret = parse_private_key(hex)?;
        self.check_new(name)?;
        let staging = self.staging()?;
        let (signer, _) = PrivateKeySigner::encrypt_keystore(
            staging.path(),
            &mut rand08::thread_rng(),
            secret.as_slice(),
            password,
            Some("key"),
        )
        .map_err(|e| keystore_error(e, name, staging.path()))?;
        let json = read_json(&staging.path().join("key"))?;
        let key = self.persist(name, signer.address(), json)?;
        tracing::debug!(target: "ocean::wallet", name, address = %signer.address(), "imported private key");
        Ok(key)
    }

    /// Copies the keystore at `path` (e.g. one `cast wallet new` wrote) in as `name`, after checking that
    /// `password` decrypts it. The file keeps its own KDF parameters; an `address` field is added if missing.
    pub fn import_keystore(&self, name: &str, path: &Path, password: &str) -> Result<KeyInfo> {
        self.check_new(name)?;
        let json = read_json(path)?;
        let recorded = recorded_address(&json, path)?;
        let label = path.display().to_string();
        let signer = PrivateKeySigner::decrypt_keystore(path, password)
            .map_err(|e| keystore_error(e, &label, path))?;
        check_address(&label, recorded, signer.address())?;
        let key = self.persist(name, signer.address(), json)?;
        tracing::debug!(target: "ocean::wallet", name, address = %signer.address(), "imported keystore");
        Ok(key)
    }

    /// Every key, sorted by name. A missing directory is an empty wallet. A file that cannot be parsed is
    /// listed without an address (and logged), so one bad file does not hide the others.
    pub fn list(&self) -> Result<Vec<KeyInfo>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(Error::Io { path: self.dir.clone(), source }),
        };
        let mut keys = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| Error::Io { path: self.dir.clone(), source })?;
            let path = entry.path();
            let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else { continue };
            // Dot files are our own temporaries (and editors' backups).
            if file_name.starts_with('.') || !path.is_file() {
                continue;
            }
            let Some(name) = file_name.strip_suffix(&format!(".{EXT}")) else { continue };
            let address = match read_json(&path).and_then(|json| recorded_address(&json, &path)) {
                Ok(address) => address,
                Err(err) => {
                    tracing::warn!(target: "ocean::wallet", %err, "unreadable keystore");
                    None
                }
            };
            keys.push(KeyInfo { name: name.to_owned(), address, path });
        }
        keys.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(keys)
    }

    /// Finds a key: `selector` is a name or a `0x` address; `None` picks the only key, or the one named
    /// [`DEFAULT_NAME`].
    pub fn find(&self, selector: Option<&str>) -> Result<KeyInfo> {
        let keys = self.list()?;
        let Some(selector) = selector else {
            if keys.len() > 1 {
                let names = keys.iter().map(|k| k.name.clone()).collect();
                return keys.into_iter().find(|k| k.name == DEFAULT_NAME).ok_or(Error::Ambiguous { names });
            }
            return keys.into_iter().next().ok_or_else(|| Error::NoKeys { dir: self.dir.clone() });
        };
        let address = parse_address(selector);
        let hit = keys.iter().position(|k| match address {
            Some(address) => k.address == Some(address),
            None => k.name == selector,
        });
        match hit {
            Some(i) => Ok(keys.into_iter().nth(i).expect("position is in range")),
            None => Err(Error::NotFound {
                selector: selector.to_owned(),
                dir: self.dir.clone(),
                available: keys.into_iter().map(|k| k.name).collect(),
            }),
        }
    }

    /// The address `selector` stands for, without a password: a `0x` address as is (a key need not exist, e.g.
    /// for a balance), otherwise the address recorded in the selected key.
    pub fn address_of(&self, selector: Option<&str>) -> Result<Address> {
        if let Some(address) = selector.and_then(parse_address) {
            return Ok(address);
        }
        let key = self.find(selector)?;
        key.address.ok_or_else(|| Error::Malformed {
            path: key.path.clone(),
            reason: "it records no `address`; re-import it with `ocean wallet import --keystore`".into(),
        })
    }

    /// Decrypts the selected key (see [`Wallet::find`]).
    pub fn unlock(&self, selector: Option<&str>, password: &str) -> Result<PrivateKeySigner> {
        let key = self.find(selector)?;
        self.unlock_key(&key, password)
    }

    /// Decrypts `key`, checking that it is the address its file records.
    pub fn unlock_key(&self, key: &KeyInfo, password: &str) -> Result<PrivateKeySigner> {
        let json = read_json(&key.path)?;
        let recorded = recorded_address(&json, &key.path)?;
        let signer = PrivateKeySigner::decrypt_keystore(&key.path, password)
            .map_err(|e| keystore_error(e, &key.name, &key.path))?;
        check_address(&key.name, recorded, signer.address())?;
        Ok(signer)
    }

    /// Refuses invalid and existing names; callers run it before asking for a password, and every writing method
    /// runs it before the (deliberately slow) key derivation.
    pub fn check_new(&self, name: &str) -> Result<()> {
        validate_name(name)?;
        let path = self.path_of(name);
        if path.exists() {
            return Err(Error::Duplicate { name: name.to_owned(), path });
        }
        Ok(())
    }

    /// A private (0700) temporary directory inside the keys directory, for alloy to write a keystore into.
    fn staging(&self) -> Result<tempfile::TempDir> {
        self.ensure_dir()?;
        tempfile::Builder::new()
            .prefix(".staging-")
            .tempdir_in(&self.dir)
            .map_err(|source| Error::Io { path: self.dir.clone(), source })
    }

    fn ensure_dir(&self) -> Result<()> {
        if self.dir.is_dir() {
            return Ok(());
        }
        let io = |source| Error::Io { path: self.dir.clone(), source };
        std::fs::create_dir_all(&self.dir).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
        }
        Ok(())
    }

    /// Writes `json` (with `address` set) to `<dir>/<name>.json`: temp file (0600) + fsync + no-clobber link.
    fn persist(&self, name: &str, address: Address, mut json: serde_json::Value) -> Result<KeyInfo> {
        self.ensure_dir()?;
        let path = self.path_of(name);
        let object = json
            .as_object_mut()
            .ok_or_else(|| Error::Malformed { path: path.clone(), reason: "not a JSON object".into() })?;
        // geth's spelling: lowercase hex without 0x. cast ignores the field; `list` reads it.
        object.insert("address".into(), serde_json::Value::String(alloy::hex::encode(address)));
        let bytes = serde_json::to_vec(&json)
            .map_err(|e| Error::Malformed { path: path.clone(), reason: e.to_string() })?;

        let dir_io = |source| Error::Io { path: self.dir.clone(), source };
        let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(&self.dir).map_err(dir_io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(dir_io)?;
        }
        tmp.write_all(&bytes).map_err(dir_io)?;
        tmp.as_file().sync_all().map_err(dir_io)?;
        tmp.persist_noclobber(&path).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                Error::Duplicate { name: name.to_owned(), path: path.clone() }
            } else {
                Error::Io { path: path.clone(), source: e.error }
            }
        })?;
        // Make the new directory entry durable too; failing here loses nothing already written.
        if let Ok(dir) = std::fs::File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        Ok(KeyInfo { name: name.to_owned(), address: Some(address), path })
    }
}

/// Checks a key name: 1 to 64 of `[A-Za-z0-9._-]`, not starting with `.` or `-`, not an address.
pub fn validate_name(name: &str) -> Result<()> {
    let invalid = |reason| Err(Error::InvalidName { name: name.to_owned(), reason });
    if name.is_empty() || name.len() > 64 {
        return invalid("it must be 1 to 64 characters");
    }
    if name.starts_with('.') || name.starts_with('-') {
        return invalid("it must not start with `.` or `-`");
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
        return invalid("only letters, digits, `.`, `_` and `-` are allowed");
    }
    let hex = name.strip_prefix("0x").unwrap_or(name);
    if hex.len() == 40 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return invalid("it looks like an address (selectors take names and addresses)");
    }
    Ok(())
}

/// A selector that is a `0x`-prefixed 20-byte address.
fn parse_address(selector: &str) -> Option<Address> {
    if selector.starts_with("0x") || selector.starts_with("0X") { selector.parse().ok() } else { None }
}

/// Parses a hex private key into wiped-on-drop bytes, checking it is a valid secp256k1 scalar.
fn parse_private_key(text: &str) -> Result<Zeroizing<[u8; 32]>> {
    let text = text.trim();
    let hex = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")).unwrap_or(text);
    if hex.len() != 64 {
        return Err(Error::InvalidPrivateKey("expected 32 bytes written as 64 hex digits"));
    }
    let mut bytes = Zeroizing::new([0u8; 32]);
    alloy::hex::decode_to_slice(hex, bytes.as_mut_slice())
        .map_err(|_| Error::InvalidPrivateKey("not hexadecimal"))?;
    PrivateKeySigner::from_slice(bytes.as_slice()).map_err(|_| {
        Error::InvalidPrivateKey("not a valid secp256k1 key (zero or not below the curve order)")
    })?;
    Ok(bytes)
}

/// Reads a keystore file and checks its outline (a V3 object with a `crypto` section); the cryptography is
/// checked when it is decrypted.
fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.to_owned(), source })?;
    let malformed = |reason: String| Error::Malformed { path: path.to_owned(), reason };
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| malformed(format!("not JSON ({e})")))?;
    let object = json.as_object().ok_or_else(|| malformed("not a JSON object".into()))?;
    match object.get("version").and_then(serde_json::Value::as_u64) {
        Some(3) => {}
        Some(v) => return Err(malformed(format!("version {v}, expected 3"))),
        None => return Err(malformed("no `version` field".into())),
    }
    let kdf = object.get("crypto").and_then(|c| c.get("kdf")).and_then(serde_json::Value::as_str);
    match kdf {
        Some("scrypt" | "pbkdf2") => Ok(json),
        Some(other) => Err(malformed(format!("unsupported KDF `{other}`"))),
        None => Err(malformed("no `crypto.kdf` field".into())),
    }
}

/// The `address` field of a keystore, if any.
fn recorded_address(json: &serde_json::Value, path: &Path) -> Result<Option<Address>> {
    let Some(field) = json.get("address") else { return Ok(None) };
    let text = field.as_str().ok_or_else(|| Error::Malformed {
        path: path.to_owned(),
        reason: "`address` is not a string".into(),
    })?;
    let hex = text.strip_prefix("0x").unwrap_or(text);
    hex.parse::<Address>()
        .map(Some)
        .map_err(|e| Error::Malformed { path: path.to_owned(), reason: format!("`address`: {e}") })
}

fn check_address(name: &str, recorded: Option<Address>, actual: Address) -> Result<()> {
    match recorded {
        Some(recorded) if recorded != actual => {
            Err(Error::AddressMismatch { name: name.to_owned(), recorded, actual })
        }
        _ => Ok(()),
    }
}

/// Maps alloy's keystore errors onto ours: a MAC mismatch is a wrong password.
fn keystore_error(err: alloy::signers::local::LocalSignerError, name: &str, path: &Path) -> Error {
    use alloy::signers::local::LocalSignerError as E;
    use eth_keystore::KeystoreError as K;
    match err {
        E::EthKeystoreError(K::MacMismatch) => Error::WrongPassword { name: name.to_owned() },
        E::EthKeystoreError(K::SerdeJson(reason)) => Error::Malformed { path: path.to_owned(), reason },
        E::EcdsaError(_) => Error::Malformed {
            path: path.to_owned(),
            reason: "the decrypted secret is not a valid secp256k1 key".into(),
        },
        other => Error::Keystore { path: path.to_owned(), reason: other.to_string() },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const PW: &str = "correct horse";
    // Anvil's first dev account: a well-known test key.
    const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
    const ADDR: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

    #[test]
    fn create_list_unlock() {
        let dir = tempfile::tempdir().unwrap();
        let wallet = Wallet::open(dir.path().join("keys"));
        assert!(wallet.list().unwrap().is_empty());
        assert!(matches!(wallet.find(None), Err(Error::NoKeys { .. })));

        let key = wallet.create("alice", PW).unwrap();
        assert_eq!(key.path, dir.path().join("keys/alice.json"));
        let listed = wallet.list().unwrap();
        assert_eq!(listed, vec![key.clone()]);
        let signer = wallet.unlock(None, PW).unwrap();
        assert_eq!(Some(signer.address()), key.address);
        let by_address = wallet.unlock(Some(&signer.address().to_string()), PW).unwrap();
        assert_eq!(by_address.address(), signer.address());
        assert_eq!(wallet.address_of(Some("alice")).unwrap(), signer.address());

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key.path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            let mode = std::fs::metadata(wallet.dir()).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700);
        }
        // Only the key is left: no staging directory or temporary file.
        let names: Vec<_> =
            std::fs::read_dir(wallet.dir()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("alice.json")]);
    }

    #[test]
    fn import_private_key_gives_its_address() {
        let dir = tempfile::tempdir().unwrap();
        let wallet = Wallet::open(dir.path());
        let key = wallet.import_private_key("dev", &format!("  {KEY}\n"), PW).unwrap();
        assert_eq!(key.address, Some(ADDR.parse().unwrap()));
        assert_eq!(wallet.unlock(Some("dev"), PW).unwrap().address(), ADDR.parse::<Address>().unwrap());
        // The recorded address is geth's spelling.
        let json = read_json(&key.path).unwrap();
        assert_eq!(json["address"], "f39fd6e51aad88f6f4ce6ab8827279cfffb92266");
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        let wallet = Wallet::open(dir.path());
        wallet.import_private_key("a", KEY, PW).unwrap();

        // Wrong password.
        let err = wallet.unlock(Some("a"), "wrong").unwrap_err();
        assert!(matches!(err, Error::WrongPassword { .. }), "{err}");
        assert_eq!(err.to_string(), "wrong password for key a");
        // Missing key.
        let err = wallet.unlock(Some("nobody"), PW).unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err}");
        assert!(err.to_string().contains("have: a"), "{err}");
        let err = wallet.find(Some("0x0000000000000000000000000000000000000001")).unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err}");
        // Duplicate name: refused, and the existing file is untouched.
        let before = std::fs::read(wallet.path_of("a")).unwrap();
        let err = wallet.create("a", PW).unwrap_err();
        assert!(matches!(err, Error::Duplicate { .. }), "{err}");
        assert_eq!(std::fs::read(wallet.path_of("a")).unwrap(), before);
        // Non-hex and wrong-length private keys; the key text never appears in the message.
        let bad = "zz".repeat(32);
        let err = wallet.import_private_key("b", &bad, PW).unwrap_err();
        assert!(matches!(err, Error::InvalidPrivateKey(_)), "{err}");
        assert!(!err.to_string().contains(&bad));
        assert!(matches!(wallet.import_private_key("b", "0x1234", PW), Err(Error::InvalidPrivateKey(_))));
        assert!(matches!(
            wallet.import_private_key("b", &"0".repeat(64), PW),
            Err(Error::InvalidPrivateKey(_))
        ));
        // Malformed keystores.
        let bad_json = dir.path().join("bad.txt");
        std::fs::write(&bad_json, "{not json").unwrap();
        assert!(matches!(wallet.import_keystore("c", &bad_json, PW), Err(Error::Malformed { .. })));
        std::fs::write(&bad_json, r#"{"version":1,"crypto":{"kdf":"scrypt"}}"#).unwrap();
        assert!(matches!(wallet.import_keystore("c", &bad_json, PW), Err(Error::Malformed { .. })));
        std::fs::write(&bad_json, r#"{"version":3,"id":"x","crypto":{"kdf":"scrypt"}}"#).unwrap();
        let err = wallet.import_keystore("c", &bad_json, PW).unwrap_err();
        assert!(matches!(err, Error::Malformed { .. }), "{err}");
        // Invalid names.
        for name in ["", ".hidden", "-x", "a/b", "with space", "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"] {
            assert!(matches!(wallet.create(name, PW), Err(Error::InvalidName { .. })), "{name}");
        }
        // Nothing half-written by the failures.
        assert_eq!(wallet.list().unwrap().len(), 1);
    }

    #[test]
    fn selection_without_a_selector() {
        let dir = tempfile::tempdir().unwrap();
        let wallet = Wallet::open(dir.path());
        wallet.import_private_key("x", KEY, PW).unwrap();
        wallet.create("y", PW).unwrap();
        assert!(matches!(wallet.find(None), Err(Error::Ambiguous { .. })));
        wallet.create(DEFAULT_NAME, PW).unwrap();
        assert_eq!(wallet.find(None).unwrap().name, DEFAULT_NAME);
    }

    #[test]
    fn import_keystore_checks_password_and_recorded_address() {
        let dir = tempfile::tempdir().unwrap();
        let src = Wallet::open(dir.path().join("src"));
        let original = src.import_private_key("k", KEY, PW).unwrap();
        let dst = Wallet::open(dir.path().join("dst"));
        let err = dst.import_keystore("k", &original.path, "nope").unwrap_err();
        assert!(matches!(err, Error::WrongPassword { .. }), "{err}");
        assert!(dst.list().unwrap().is_empty());
        let copied = dst.import_keystore("k", &original.path, PW).unwrap();
        assert_eq!(copied.address, original.address);

        // A file whose recorded address is not its key's is refused.
        let mut json = read_json(&original.path).unwrap();
        json["address"] = serde_json::Value::String("00".repeat(20));
        let forged = dir.path().join("forged.json");
        std::fs::write(&forged, json.to_string()).unwrap();
        let err = dst.import_keystore("f", &forged, PW).unwrap_err();
        assert!(matches!(err, Error::AddressMismatch { .. }), "{err}");
    }
}
