//! Errors of homomorphic jobs. Every one of them is raised before any homomorphic work starts, except a
//! deadline, which is checked between operations.

use crate::{format::FileKind, format::KeyId, program::Type};

/// A limit of a homomorphic job that was (or would be) exceeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// The program's work units (known before it runs) exceed `[limits] fuel`.
    Work,
    /// The estimated peak memory exceeds `[limits] memory_mib`.
    Memory,
    /// The wall-clock deadline passed between two operations.
    Timeout,
    /// The encrypted outputs exceed `[limits] output_mib`.
    Output,
}

/// Why a key, a ciphertext or a program was refused, or why an evaluation stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Not an Ocean FHE file, or a version this build does not read.
    #[error("{what}: {reason}")]
    Format {
        /// Which file.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A file of another kind was given (e.g. a public key where a server key is expected).
    #[error("{what}: expected a {expected} file, found a {found} file")]
    WrongFile {
        /// Which file.
        what: String,
        /// The kind needed.
        expected: FileKind,
        /// The kind found.
        found: FileKind,
    },
    /// Two things that must come from the same `ocean fhe keygen` do not.
    #[error("{what} was made under key {found}, but {against} is key {expected}")]
    KeyMismatch {
        /// What does not match (e.g. "input `x`").
        what: String,
        /// What it was compared with (e.g. "the server key").
        against: String,
        /// The key id it should have.
        expected: KeyId,
        /// The key id it has.
        found: KeyId,
    },
    /// The client key file could not be opened: wrong passphrase or a modified file.
    #[error("cannot open the client key: wrong passphrase, or the file was modified")]
    WrongPassphrase,
    /// The program is not valid TOML, or does not type-check.
    #[error("program: {0}")]
    Program(String),
    /// An input has another type than the program declares.
    #[error("input `{name}`: the program expects {expected}, the ciphertext holds {found}")]
    InputType {
        /// Input name.
        name: String,
        /// Declared type.
        expected: Type,
        /// Type in the ciphertext file.
        found: Type,
    },
    /// The program declares an input that was not given, or an input was given that it does not declare.
    #[error("input `{0}`: {1}")]
    Input(String, String),
    /// Values given to encrypt do not fit the type.
    #[error("value {value} does not fit {ty}")]
    Value {
        /// The value, as given.
        value: String,
        /// The type.
        ty: Type,
    },
    /// A limit was (or would be) exceeded.
    #[error("{limit:?} limit: {detail}")]
    Limit {
        /// Which limit.
        limit: Limit,
        /// Needed against allowed, for the user.
        detail: String,
    },
    /// tfhe-rs refused something (deserialization, expansion).
    #[error("tfhe: {0}")]
    Tfhe(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn format(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Format { what: what.into(), reason: reason.into() }
    }
    pub(crate) fn program(msg: impl Into<String>) -> Self {
        Self::Program(msg.into())
    }
    pub(crate) fn tfhe(e: impl std::fmt::Display) -> Self {
        Self::Tfhe(e.to_string())
    }
    /// The limit hit, if that is why the job stopped.
    pub fn limit(&self) -> Option<Limit> {
        match self {
            Self::Limit { limit, .. } => Some(*limit),
            _ => None,
        }
    }
}
