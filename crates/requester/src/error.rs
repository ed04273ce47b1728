//! Errors of the requester client.

/// What can go wrong placing, following or settling a job.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The chain refused or could not be reached.
    #[error(transparent)]
    Chain(#[from] ocean_chain::Error),
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] ocean_store::Error),
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
    /// A job's data in the store: its files, a limit result, a zk job's model, input or result (ocean-job).
    #[error(transparent)]
    Data(#[from] ocean_job::Error),
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { context: context.into(), source }
    }

    pub(crate) fn envelope(context: impl Into<String>, source: ocean_crypto::Error) -> Self {
        Self::Envelope { context: context.into(), source }
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
