//! Ocean AI's keys: Ethereum V3 JSON keystores (scrypt) in `<repo>/keys/<name>.json`, readable by Foundry's
//! `cast wallet` (`cast wallet address --keystore <repo>/keys/NAME.json`) and geth.
//!
//! This crate owns:
//!
//! - [`Wallet`]: a keys directory. [`Wallet::create`], [`Wallet::import_private_key`] and
//!   [`Wallet::import_keystore`] write a keystore atomically (temporary file, 0600, fsync, no-clobber link:
//!   a name is never overwritten); [`Wallet::list`] reads names and addresses without a password;
//!   [`Wallet::unlock`] decrypts a key chosen by name or address ([`Wallet::find`]: none given means the only key,
//!   or the one named `default`).
//! - [`password`]: where a password comes from: a password file, `OCEAN_PASSWORD`, or a terminal prompt (asked
//!   twice for new keys); with none and no terminal, an error naming all three, so CI never hangs on a prompt.
//! - [`balance()`]: ETH, OCAT and OCAT owed by the JobMarket for any address (no key needed).
//! - One-call helpers for the binary: [`unlock_account`] (password + selection + decrypt) and [`ensure_key`]
//!   (`ocean node init`: create the node's key, or check the password of the one already there).
//!
//! Data flow: the CLI resolves `keys_dir`, `account` and `password_file` from its layered config, calls
//! [`unlock_account`], and hands the [`PrivateKeySigner`] to `ocean_chain::Client::connect`. Secrets stay in
//! [`zeroize::Zeroizing`] buffers and never appear in errors or logs.
//!
//! ```
//! # fn main() -> Result<(), ocean_wallet::Error> {
//! use ocean_wallet::Wallet;
//! let dir = tempfile::tempdir().expect("temp dir");
//! let wallet = Wallet::open(dir.path().join("keys"));
//! let key = wallet.create("alice", "correct horse")?;
//! assert_eq!(wallet.list()?, vec![key.clone()]);
//! let signer = wallet.unlock(Some("alice"), "correct horse")?;
//! assert_eq!(Some(signer.address()), key.address);
//! assert!(matches!(wallet.unlock(None, "wrong"), Err(ocean_wallet::Error::WrongPassword { .. })));
//! # Ok(()) }
//! ```

mod balance;
mod error;
mod keystore;
pub mod password;

use std::path::Path;

pub use alloy::{primitives::Address, signers::local::PrivateKeySigner};
pub use balance::{Balance, balance, format_units};
pub use error::Error;
pub use keystore::{DEFAULT_NAME, KeyInfo, Wallet, validate_name};
/// Re-exported so callers of [`balance()`] need not depend on ocean-chain themselves.
pub use ocean_chain::Deployment;
/// Re-exported: passwords and private keys are handed around in these wiped-on-drop buffers.
pub use zeroize::Zeroizing;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Unlocks the account `account` (a name or `0x` address; `None`: the only key, or `default`) in `keys_dir`,
/// taking the password from `password_file`, `OCEAN_PASSWORD` or the terminal. The binary's one line:
/// `ocean_wallet::unlock_account(&config.keys_dir(), config.account.as_deref(), config.password_file.as_deref())`.
pub fn unlock_account(
    keys_dir: &Path,
    account: Option<&str>,
    password_file: Option<&Path>,
) -> Result<PrivateKeySigner> {
    let wallet = Wallet::open(keys_dir);
    let key = wallet.find(account)?;
    let password = password::resolve(password_file, &format!("key `{}`", key.name), false)?;
    wallet.unlock_key(&key, &password)
}

/// For `ocean node init`: makes sure the key `name` exists in `keys_dir`. A new key asks for its password twice
/// (or takes it from the file or `OCEAN_PASSWORD`); an existing one is unlocked to check the password, so init can
/// be run again safely. Returns the key, its signer, and whether it was created now.
pub fn ensure_key(
    keys_dir: &Path,
    name: &str,
    password_file: Option<&Path>,
) -> Result<(KeyInfo, PrivateKeySigner, bool)> {
    let wallet = Wallet::open(keys_dir);
    validate_name(name)?;
    if wallet.path_of(name).exists() {
        let key = wallet.find(Some(name))?;
        let password = password::resolve(password_file, &format!("key `{name}`"), false)?;
        let signer = wallet.unlock_key(&key, &password)?;
        return Ok((key, signer, false));
    }
    let password = password::resolve(password_file, &format!("new key `{name}`"), true)?;
    let key = wallet.create(name, &password)?;
    let signer = wallet.unlock_key(&key, &password)?;
    Ok((key, signer, true))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ensure_key_creates_once_then_checks_the_password() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        let pw = dir.path().join("pw");
        std::fs::write(&pw, "node password\n").unwrap();

        let (key, signer, created) = ensure_key(&keys, "node", Some(&pw)).unwrap();
        assert!(created);
        assert_eq!(key.address, Some(signer.address()));

        // Running init again keeps the key and checks the password.
        let (again, signer2, created) = ensure_key(&keys, "node", Some(&pw)).unwrap();
        assert!(!created);
        assert_eq!((again, signer2.address()), (key, signer.address()));

        std::fs::write(&pw, "not it\n").unwrap();
        let err = ensure_key(&keys, "node", Some(&pw)).unwrap_err();
        assert!(matches!(err, Error::WrongPassword { .. }), "{err}");
        assert!(matches!(ensure_key(&keys, "../x", Some(&pw)), Err(Error::InvalidName { .. })));
    }

    #[test]
    fn unlock_account_selects_and_decrypts() {
        let dir = tempfile::tempdir().unwrap();
        let pw = dir.path().join("pw");
        std::fs::write(&pw, "pw").unwrap();
        let wallet = Wallet::open(dir.path());
        let a = wallet.create("a", "pw").unwrap();
        assert_eq!(Some(unlock_account(dir.path(), None, Some(&pw)).unwrap().address()), a.address);
        let b = wallet.create("b", "pw").unwrap();
        let by_addr = unlock_account(dir.path(), Some(&b.address.unwrap().to_string()), Some(&pw)).unwrap();
        assert_eq!(Some(by_addr.address()), b.address);
        assert!(matches!(unlock_account(dir.path(), None, Some(&pw)), Err(Error::Ambiguous { .. })));
        let missing = dir.path().join("missing-pw");
        assert!(matches!(
            unlock_account(dir.path(), Some("a"), Some(&missing)),
            Err(Error::PasswordFile { .. })
        ));
    }
}
