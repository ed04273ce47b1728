//! Errors of the provider daemon.

/// What can go wrong in a provider node.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The chain refused or could not be reached.
    #[error(transparent)]
    Chain(#[from] ocean_chain::Error),
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] ocean_store::Error),
    /// The sandbox failed (not a guest failure: those are results).
    #[error(transparent)]
    Runtime(#[from] ocean_runtime::Error),
    /// The executor process gave no outcome for a task (it crashed, timed out, or refused the task).
    #[error(transparent)]
    Executor(#[from] ocean_executor::Error),
    /// The node's state database failed.
    #[error("state database: {0}")]
    Db(String),
    /// The job file is invalid.
    #[error("invalid job: {0}")]
    Job(String),
    /// Local file trouble.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// A private job's envelope could not be made or opened (wrong key, another recipient, tampering).
    #[error("{context}: {source}")]
    Envelope {
        /// Which envelope.
        context: String,
        /// Why.
        source: ocean_crypto::Error,
    },
    /// A private job cannot run as asked (no key, a provider without a registered key, …).
    #[error("private job: {0}")]
    Privacy(String),
    /// A job's data in the store (ocean-job).
    #[error(transparent)]
    Data(#[from] ocean_job::Error),
    /// A zk job's model, input, or proof (ocean-zk).
    #[error("zk: {0}")]
    Zk(#[from] ocean_zk::Error),
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { context: context.into(), source }
    }

    pub(crate) fn envelope(context: impl Into<String>, source: ocean_crypto::Error) -> Self {
        Self::Envelope { context: context.into(), source }
    }

    pub(crate) fn db(e: impl std::fmt::Display) -> Self {
        Self::Db(e.to_string())
    }
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<ocean_store::cid::Error> for Error {
    fn from(e: ocean_store::cid::Error) -> Self {
        Self::Store(e.into())
    }
}

impl From<ocean_store::fetch::Error> for Error {
    fn from(e: ocean_store::fetch::Error) -> Self {
        Self::Store(e.into())
    }
}
