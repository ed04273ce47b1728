//! Errors of the node and the requester client.

/// What can go wrong in a node or a requester.
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
    /// A peer's HTTP API failed or answered nonsense.
    #[error("{peer}: {message}")]
    Peer {
        /// Endpoint.
        peer: String,
        /// What happened.
        message: String,
    },
    /// The job file is invalid.
    #[error("invalid job: {0}")]
    Job(String),
    /// The job cannot be placed; the reason is machine-readable.
    #[error("job cannot be placed: {0}")]
    NotPlaced(String),
    /// The account cannot pay for the job.
    #[error("insufficient funds: {0}")]
    Funds(String),
    /// Local file trouble.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// No such job or task.
    #[error("unknown job {0}")]
    UnknownJob(String),
    /// The job did not finish in time.
    #[error("timed out: {0}")]
    Timeout(String),
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
