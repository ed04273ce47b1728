//! Errors of the parent side: why no outcome came back from the executor process.

use std::{fmt, path::PathBuf, time::Duration};

/// How the executor process ended without answering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exit {
    /// The signal that killed it (SIGSEGV, SIGKILL from the kernel's OOM killer or an rlimit, ...).
    pub signal: Option<i32>,
    /// Its exit code, when it exited (101 is a Rust panic).
    pub code: Option<i32>,
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.signal, self.code) {
            (Some(signal), _) => {
                let name = nix::sys::signal::Signal::try_from(signal).map_or("unknown", |s| s.as_str());
                write!(f, "killed by signal {signal} ({name})")
            }
            (None, Some(101)) => f.write_str("exit code 101 (a panic)"),
            (None, Some(code)) => write!(f, "exit code {code}"),
            (None, None) => f.write_str("no exit status"),
        }
    }
}

/// Why a task got no outcome from the executor process.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The process could not be started.
    #[error("starting the executor process {}: {source}", program.display())]
    Spawn {
        /// The program.
        program: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Writing the request or reading the answer failed.
    #[error("talking to the executor process: {0}")]
    Io(#[from] std::io::Error),
    /// A frame was too large or not the JSON of the expected message.
    #[error("executor protocol: {0}")]
    Protocol(String),
    /// The process died (a crash, a panic, a signal, an rlimit) before answering. Only its task fails.
    #[error("the executor process crashed: {exit}")]
    Crashed {
        /// How it ended.
        exit: Exit,
    },
    /// The executor process refused the task (it does not compile, has no `_start`, is too large, ...).
    #[error("the task cannot run ({reason:?}): {message}")]
    Refused {
        /// Why, for callers to act on.
        reason: crate::Refusal,
        /// The runtime's message.
        message: String,
    },
    /// The task's wall-clock deadline (compilation included) passed; the process was killed. A failure, never
    /// a result: it depends on the host.
    #[error("the wall-clock deadline of {0:?} passed; the executor process was killed")]
    Timeout(Duration),
}

impl Error {
    /// Whether running the same task again might succeed (the host's trouble rather than the task's).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Spawn { .. } | Self::Io(_))
    }
}

/// `Result` with the executor's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
