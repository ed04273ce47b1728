//! Verified fetch: pulls a DAG from trustless gateways, checking every block against its CID before storing.

/// Errors of a fetch.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The HTTP request failed (connection, timeout, status).
    #[error("gateway {url}: {reason}")]
    Http {
        /// The gateway URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// A gateway sent a block that does not match its CID, or one that is not part of the DAG.
    #[error("gateway {url} sent bad data: {reason}")]
    BadData {
        /// The gateway URL.
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// No gateway could supply the DAG.
    #[error("no gateway supplied {cid}; last error: {last}")]
    Exhausted {
        /// The block still missing.
        cid: crate::Cid,
        /// The last gateway's error.
        last: String,
    },
}

impl Error {
    /// Whether another try (or another gateway) may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Http { .. } | Error::Exhausted { .. })
    }
}
