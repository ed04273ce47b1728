//! Errors of key management. Messages never contain secrets (passwords, private keys).

use std::path::PathBuf;

use alloy::primitives::Address;

/// What can go wrong managing keys.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A key name that cannot be a file name, or that looks like an address.
    #[error("invalid key name `{name}`: {reason}")]
    InvalidName {
        /// The name given.
        name: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A key with this name exists already; keys are never overwritten.
    #[error("a key named `{name}` already exists at {}; choose another name (--name)", path.display())]
    Duplicate {
        /// The name.
        name: String,
        /// The existing keystore.
        path: PathBuf,
    },
    /// No key matches the selector.
    #[error("no key `{selector}` in {}{}", dir.display(), available_hint(available))]
    NotFound {
        /// The name or address asked for.
        selector: String,
        /// The keys directory.
        dir: PathBuf,
        /// The names that exist.
        available: Vec<String>,
    },
    /// No selector was given and the keys directory holds no key.
    #[error("no key in {}: create one with `ocean wallet new` or `ocean wallet import`", dir.display())]
    NoKeys {
        /// The keys directory.
        dir: PathBuf,
    },
    /// No selector was given, several keys exist and none is named `default`.
    #[error("several keys and none named `default`: choose one with --account NAME|ADDRESS (have: {})", names.join(", "))]
    Ambiguous {
        /// The names that exist.
        names: Vec<String>,
    },
    /// The password does not decrypt the keystore (its MAC does not match).
    #[error("wrong password for key {name}")]
    WrongPassword {
        /// The key's name (or file).
        name: String,
    },
    /// The file is not an Ethereum V3 JSON keystore.
    #[error("{} is not a valid Ethereum V3 JSON keystore: {reason}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A private key that is not 32 bytes of hex, or not a valid secp256k1 scalar. The key itself is never shown.
    #[error("invalid private key: {0}")]
    InvalidPrivateKey(&'static str),
    /// The keystore decrypts to a key whose address is not the one recorded in the file (a tampered or
    /// mislabeled file).
    #[error("key {name} records address {recorded} but decrypts to {actual}")]
    AddressMismatch {
        /// The key's name.
        name: String,
        /// The address written in the file.
        recorded: Address,
        /// The address of the decrypted key.
        actual: Address,
    },
    /// Any other keystore failure (e.g. unsupported KDF parameters).
    #[error("keystore {}: {reason}", path.display())]
    Keystore {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// No password source is available and there is no terminal to ask on.
    #[error(
        "no password for {purpose}: set OCEAN_PASSWORD, pass --password-file FILE (or set OCEAN_PASSWORD_FILE), \
         or run on a terminal to be prompted"
    )]
    NoPassword {
        /// What the password was for (e.g. "key `default`").
        purpose: String,
    },
    /// The password file could not be read.
    #[error("password file {}: {source}", path.display())]
    PasswordFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The two passwords typed for a new key differ.
    #[error("the passwords do not match")]
    PasswordMismatch,
    /// An empty password for a new key.
    #[error("empty password: a new key needs a non-empty password")]
    EmptyPassword,
    /// Reading the password from the terminal failed.
    #[error("reading the password from the terminal: {0}")]
    Prompt(std::io::Error),
    /// The chain could not be read (balances).
    #[error(transparent)]
    Chain(#[from] ocean_chain::Error),
}

fn available_hint(names: &[String]) -> String {
    if names.is_empty() { String::new() } else { format!(" (have: {})", names.join(", ")) }
}
