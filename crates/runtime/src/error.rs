//! Errors of the sandbox: the host's own failures, and the limits a guest can hit.

use std::fmt;

/// A limit of [`ocean_types::manifest::Limits`] (or of the engine) that a guest hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// All units of work (fuel) were spent. Deterministic.
    Fuel,
    /// The guest asked for more linear memory than allowed. Deterministic.
    Memory,
    /// The wall-clock deadline passed. Host-dependent: never a result.
    Timeout,
    /// The guest wrote more than allowed to `/outputs`, stdout and stderr together. Deterministic.
    Output,
    /// The guest's call stack overflowed the engine's native stack limit. Host-dependent: never a result
    /// (see [`Limit::exceeded`]).
    Stack,
}

impl Limit {
    /// The deterministic limit this is, if it is one: then the run's result is the limit result
    /// ([`ocean_types::limit`]), which replicas commit to and are paid for like any other result.
    ///
    /// `Timeout` is not: wall-clock time differs between hosts. Neither is `Stack`: wasmtime's
    /// `max_wasm_stack` counts native bytes, and how many WebAssembly frames fit depends on Cranelift's
    /// frame layout, which changes with the wasmtime version, the compilation settings and the CPU
    /// architecture. Nothing a provider commits to (nor the manifest) names those, so two honest replicas on
    /// different builds or architectures could disagree and one would be slashed. Both stay failures: not
    /// committed, not paid, not slashed.
    pub fn exceeded(self) -> Option<ocean_types::limit::Exceeded> {
        use ocean_types::limit::Exceeded;
        match self {
            Self::Fuel => Some(Exceeded::Fuel),
            Self::Memory => Some(Exceeded::Memory),
            Self::Output => Some(Exceeded::Output),
            Self::Timeout | Self::Stack => None,
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Fuel => "fuel (units of work) exhausted",
            Self::Memory => "memory limit exceeded",
            Self::Timeout => "wall-clock deadline passed",
            Self::Output => "output size limit exceeded",
            Self::Stack => "stack limit exceeded (call stack overflow)",
        })
    }
}

/// Why a run produced no result.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The module is not valid WebAssembly, or uses a feature the sandbox turns off (threads, ...).
    #[error("compiling the module: {0:#}")]
    Compile(wasmtime::Error),
    /// The module imports something other than WASI preview 1, or its start failed.
    #[error("instantiating the module: {0:#}")]
    Instantiate(wasmtime::Error),
    /// The module has no `_start` (it is not a WASI command).
    #[error("the module exports no `_start` function (build it as a WASI command)")]
    NoEntryPoint,
    /// The guest hit a limit.
    #[error("{limit}")]
    Limit {
        /// Which one.
        limit: Limit,
        /// Units of work spent before it stopped.
        fuel_used: u64,
    },
    /// Setting up the engine or the guest's WASI context failed.
    #[error("setting up the sandbox: {0:#}")]
    Setup(wasmtime::Error),
    /// Reading or writing the host's files (inputs, outputs, the module cache).
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The module is bigger than the sandbox compiles.
    #[error("the module is larger than the {max}-byte limit")]
    ModuleTooLarge {
        /// The limit, bytes.
        max: u64,
    },
    /// The job cannot run here (e.g. the onnx guest is missing).
    #[error("{0}")]
    Job(String),
    /// The host could not give the guest memory that its limit allows (the operating system refused to map
    /// it). Host-dependent, so a failure of this host rather than a result: were the guest told `-1`, it would
    /// trap where other replicas run on.
    #[error("the host could not provide memory within the job's limit: {0}")]
    HostMemory(String),
    /// The store failed (reading the module or the inputs, or storing the result).
    #[error(transparent)]
    Store(#[from] ocean_store::Error),
    /// The job's data in the store (ocean-job: a limit result). Boxed: it is rare, and every run's result
    /// carries this enum.
    #[error(transparent)]
    Data(Box<ocean_job::Error>),
}

impl Error {
    /// The limit hit, if that is why the run stopped.
    pub fn limit(&self) -> Option<Limit> {
        match self {
            Self::Limit { limit, .. } => Some(*limit),
            _ => None,
        }
    }

    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { what: what.into(), source }
    }
}

/// `Result` with the sandbox's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<ocean_job::Error> for Error {
    fn from(e: ocean_job::Error) -> Self {
        Self::Data(Box::new(e))
    }
}
