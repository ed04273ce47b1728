//! What the node and the executor process say to each other: one [`Request`] on the child's stdin, one
//! [`Response`] on its stdout, each as a frame (4-byte big-endian length, then JSON).
//!
//! Frames are small: the module, the inputs, the outputs and the guest's standard streams are files in the
//! task's work folder, named in the request, never bytes in a frame.

use std::{
    io::{Read, Write},
    path::PathBuf,
};

use ocean_runtime::{Invocation, Limit, Status};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::{Error, Result};

/// Largest frame either side accepts (a request holds a job's arguments, which the manifest bounds).
pub const MAX_FRAME: usize = 1 << 20;

/// One task for the executor process.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Request {
    /// Compile (or load from the cache) and run a WASI preview 1 module.
    Wasm(WasmTask),
    /// Evaluate a homomorphic program (ocean-fhe) on staged ciphertexts: no guest code, but tfhe-rs parses
    /// a stranger's key, program and ciphertexts, so it runs here too, under the same rlimits.
    Fhe(ocean_runtime::job::FheStaged),
}

/// A WebAssembly run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WasmTask {
    /// The module's CID: the key of the compiled-module cache.
    pub module_key: String,
    /// Where the module's bytes are (read only on a cache miss).
    pub module: PathBuf,
    /// The compiled-module cache folder; `None` compiles every time.
    pub cache_dir: Option<PathBuf>,
    /// Arguments, `/inputs`, `/outputs`, limits and seed.
    pub invocation: Invocation,
    /// Where the guest's stdout goes (at most the output cap plus one byte).
    pub stdout: PathBuf,
    /// Where the guest's stderr goes.
    pub stderr: PathBuf,
}

impl Request {
    /// The job's limits, which the child turns into rlimits.
    pub fn limits(&self) -> ocean_types::manifest::Limits {
        match self {
            Self::Wasm(task) => task.invocation.limits,
            Self::Fhe(task) => task.limits,
        }
    }
}

/// What became of a task the executor process ran.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Response {
    /// The guest ran within its limits and ended with `status` (its streams are in the named files).
    Ran {
        /// How it ended.
        status: Status,
        /// Units of work spent.
        fuel_used: u64,
        /// Measurements of `/outputs` (a cost figure).
        output_scans: u64,
    },
    /// The guest hit a limit.
    Limit {
        /// Which.
        limit: Limit,
        /// Units of work spent before it stopped.
        fuel_used: u64,
    },
    /// The task could not run (the module does not compile, has no `_start`, is too large, ...).
    Refused {
        /// Why, for callers to act on.
        reason: Refusal,
        /// The runtime's message.
        message: String,
    },
}

/// Why the executor process refused a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// Not valid WebAssembly, or a feature the sandbox turns off.
    Compile,
    /// Imports other than WASI preview 1, or its start failed.
    Instantiate,
    /// No `_start`.
    NoEntryPoint,
    /// Larger than [`ocean_runtime::job::MAX_MODULE_BYTES`].
    ModuleTooLarge,
    /// The sandbox could not be set up, or the host's files failed.
    Host,
    /// Anything else the runtime refused.
    Job,
}

impl Response {
    /// The answer for a run that ended with `err`.
    pub fn from_error(err: &ocean_runtime::Error) -> Self {
        use ocean_runtime::Error as E;
        let reason = match err {
            E::Limit { limit, fuel_used } => return Self::Limit { limit: *limit, fuel_used: *fuel_used },
            E::Compile(_) => Refusal::Compile,
            E::Instantiate(_) => Refusal::Instantiate,
            E::NoEntryPoint => Refusal::NoEntryPoint,
            E::ModuleTooLarge { .. } => Refusal::ModuleTooLarge,
            E::Setup(_) | E::Io { .. } | E::Store(_) => Refusal::Host,
            _ => Refusal::Job,
        };
        Self::Refused { reason, message: err.to_string() }
    }
}

/// Encodes `msg` as one frame.
pub fn encode(msg: &impl Serialize) -> Result<Vec<u8>> {
    let json = serde_json::to_vec(msg).map_err(|e| Error::Protocol(format!("encoding: {e}")))?;
    if json.len() > MAX_FRAME {
        return Err(Error::Protocol(format!(
            "a {}-byte frame is over the {MAX_FRAME}-byte limit",
            json.len()
        )));
    }
    let mut frame = Vec::with_capacity(4 + json.len());
    frame.extend_from_slice(&(json.len() as u32).to_be_bytes());
    frame.extend_from_slice(&json);
    Ok(frame)
}

/// The length announced by a frame's header, checked against [`MAX_FRAME`].
pub fn frame_len(header: [u8; 4]) -> Result<usize> {
    let len = u32::from_be_bytes(header) as usize;
    if len > MAX_FRAME {
        return Err(Error::Protocol(format!("a {len}-byte frame is over the {MAX_FRAME}-byte limit")));
    }
    Ok(len)
}

/// Decodes a frame's body.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| Error::Protocol(format!("decoding: {e}")))
}

/// Reads one frame from a blocking reader (the child's stdin).
pub fn read_frame<T: DeserializeOwned>(r: &mut impl Read) -> Result<T> {
    let mut header = [0u8; 4];
    r.read_exact(&mut header)?;
    let mut body = vec![0u8; frame_len(header)?];
    r.read_exact(&mut body)?;
    decode(&body)
}

/// Writes one frame to a blocking writer (the child's stdout) and flushes it.
pub fn write_frame(w: &mut impl Write, msg: &impl Serialize) -> Result<()> {
    w.write_all(&encode(msg)?)?;
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn frames_round_trip() {
        let sent = Response::Ran {
            status: Status::Trapped { trap: "unreachable".into() },
            fuel_used: 7,
            output_scans: 1,
        };
        let frame = encode(&sent).unwrap();
        let got: Response = read_frame(&mut frame.as_slice()).unwrap();
        assert_eq!(got, sent);
    }

    #[test]
    fn oversized_and_malformed_frames_are_refused() {
        let mut huge = ((MAX_FRAME + 1) as u32).to_be_bytes().to_vec();
        huge.extend_from_slice(b"{}");
        assert!(matches!(read_frame::<Response>(&mut huge.as_slice()), Err(Error::Protocol(_))));
        let mut junk = 3u32.to_be_bytes().to_vec();
        junk.extend_from_slice(b"{x}");
        assert!(matches!(read_frame::<Response>(&mut junk.as_slice()), Err(Error::Protocol(_))));
        let short = 10u32.to_be_bytes();
        assert!(matches!(read_frame::<Response>(&mut short.as_slice()), Err(Error::Io(_))));
    }
}
