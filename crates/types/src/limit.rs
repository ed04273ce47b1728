//! The result of a job that ran out of a deterministic limit.
//!
//! Running out of fuel, memory or output space happens at the same point of the computation on every host, so
//! it is a *result*: every honest replica of the job stores the same bytes, commits to the same CID, and is
//! verified and paid like any other result. Otherwise a requester could set a limit it knows will be hit and
//! make providers spend their whole budget for free. A wall-clock timeout (and a native stack overflow, whose
//! depth depends on the compiler's frame sizes) differs between hosts: it is a failure, never a result.
//!
//! The result is a UnixFS directory whose only entry is [`FILE`], holding [`LimitResult::canonical_bytes`]:
//!
//! ```text
//! {"limit":"fuel","max":5000000000,"manifest":"bafkrei..."}\n
//! ```
//!
//! `limit` names the limit ([`Exceeded`]), `max` is that limit's value *as the manifest states it* (fuel
//! units, or MiB for memory and output), and `manifest` is the CID of the canonical manifest that ran, so
//! that the result of one job is not the result of another. Nothing measured on the host goes in (no fuel
//! used at a wall-clock instant, no timings, no host memory), and no partial output either: what a guest wrote
//! before it was stopped is deterministic under fuel metering, but a file cut by the executor's file-size
//! rlimit is not cut where an in-process run cuts it, and a result that is a pure function of the manifest
//! needs no such argument. So the limit result's bytes depend on the manifest and the limit alone.
//!
//! # Example
//!
//! ```
//! use ocean_types::{limit::{Exceeded, LimitResult}, manifest::Limits};
//!
//! let limits = Limits { fuel: 1_000, ..Limits::default() };
//! let hit = LimitResult::new("bafkreiabc", Exceeded::Fuel, &limits);
//! let bytes = hit.canonical_bytes();
//! assert_eq!(bytes, b"{\"limit\":\"fuel\",\"max\":1000,\"manifest\":\"bafkreiabc\"}\n");
//! assert_eq!(LimitResult::from_canonical(&bytes).unwrap(), hit);
//! assert_eq!(hit.to_string(), "the job hit its fuel limit (1000 units of work)");
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::manifest::Limits;

/// Name of the one entry of a limit result's directory.
pub const FILE: &str = "ocean-limit.json";

/// Largest canonical limit result, bytes (a CID is below 100 bytes): a reader refuses anything longer before
/// parsing it.
pub const MAX_BYTES: usize = 512;

/// A limit whose exhaustion is a result: the same on every replica of the same job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Exceeded {
    /// `[limits] fuel` units of work were spent (wasmtime fuel; a fhe program's work units).
    Fuel,
    /// The guest asked for more linear memory than `[limits] memory_mib` (or more table slots than the
    /// sandbox allows); a fhe program's memory estimate is above it.
    Memory,
    /// The guest wrote more than `[limits] output_mib` to `/outputs`, stdout and stderr together (or more files
    /// than the sandbox allows); a fhe program's outputs are larger.
    Output,
}

impl Exceeded {
    /// Every kind, in a fixed order.
    pub const ALL: [Self; 3] = [Self::Fuel, Self::Memory, Self::Output];

    /// The limit's value in `limits`, in the unit of its manifest field.
    pub fn max(self, limits: &Limits) -> u64 {
        match self {
            Self::Fuel => limits.fuel,
            Self::Memory => u64::from(limits.memory_mib),
            Self::Output => u64::from(limits.output_mib),
        }
    }

    /// The manifest field that sets it (`[limits] fuel`, ...).
    pub fn field(self) -> &'static str {
        match self {
            Self::Fuel => "fuel",
            Self::Memory => "memory_mib",
            Self::Output => "output_mib",
        }
    }

    /// The unit of [`Exceeded::max`].
    pub fn unit(self) -> &'static str {
        match self {
            Self::Fuel => "units of work",
            Self::Memory | Self::Output => "MiB",
        }
    }

    /// The name on the wire (`fuel`, `memory`, `output`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Fuel => "fuel",
            Self::Memory => "memory",
            Self::Output => "output",
        }
    }
}

impl fmt::Display for Exceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The content of [`FILE`]: which limit a job hit, and its value in the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitResult {
    /// Which limit.
    pub limit: Exceeded,
    /// Its value in the manifest (see [`Exceeded::max`]).
    pub max: u64,
    /// The CID of the canonical manifest that ran.
    pub manifest: String,
}

/// Why bytes are not a canonical limit result.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LimitResultError {
    /// Longer than [`MAX_BYTES`].
    #[error("a limit result is at most {MAX_BYTES} bytes, this one has {0}")]
    TooLong(usize),
    /// Not the JSON of a [`LimitResult`].
    #[error("not a limit result: {0}")]
    Syntax(String),
    /// Valid, but not byte for byte the canonical encoding (another field order, spacing, ...): replicas
    /// could not have produced it.
    #[error("a limit result must be in its canonical form")]
    NotCanonical,
}

impl LimitResult {
    /// The result of the job whose canonical manifest is `manifest` (a CID) and whose `limits` include the
    /// one that was hit.
    pub fn new(manifest: impl Into<String>, limit: Exceeded, limits: &Limits) -> Self {
        Self { limit, max: limit.max(limits), manifest: manifest.into() }
    }

    /// The bytes of [`FILE`]: compact JSON, fields in declaration order, one trailing newline.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        // A fixed struct of an enum, an integer and a string: serializing it cannot fail.
        let mut bytes = serde_json::to_vec(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    /// Parses the bytes of [`FILE`], which must be canonical.
    pub fn from_canonical(bytes: &[u8]) -> Result<Self, LimitResultError> {
        if bytes.len() > MAX_BYTES {
            return Err(LimitResultError::TooLong(bytes.len()));
        }
        let parsed: Self =
            serde_json::from_slice(bytes).map_err(|e| LimitResultError::Syntax(e.to_string()))?;
        if parsed.canonical_bytes() != bytes {
            return Err(LimitResultError::NotCanonical);
        }
        Ok(parsed)
    }
}

impl fmt::Display for LimitResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the job hit its {} limit ({} {})", self.limit, self.max, self.limit.unit())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn each_kind_names_its_manifest_value() {
        let limits = Limits { fuel: 7, memory_mib: 8, output_mib: 9, ..Limits::default() };
        let got: Vec<_> = Exceeded::ALL.iter().map(|k| (k.name(), k.max(&limits))).collect();
        assert_eq!(got, [("fuel", 7), ("memory", 8), ("output", 9)]);
        let memory = LimitResult::new("bafy", Exceeded::Memory, &limits);
        assert_eq!(
            memory.canonical_bytes(),
            b"{\"limit\":\"memory\",\"max\":8,\"manifest\":\"bafy\"}\n".to_vec()
        );
        assert_eq!(memory.to_string(), "the job hit its memory limit (8 MiB)");
    }

    #[test]
    fn only_the_canonical_form_parses() {
        let ok = LimitResult::new("bafy", Exceeded::Output, &Limits::default());
        assert_eq!(LimitResult::from_canonical(&ok.canonical_bytes()), Ok(ok));
        let spaced = b"{\"limit\": \"output\",\"max\":64,\"manifest\":\"bafy\"}\n";
        assert_eq!(LimitResult::from_canonical(spaced), Err(LimitResultError::NotCanonical));
        let reordered = b"{\"max\":64,\"limit\":\"output\",\"manifest\":\"bafy\"}\n";
        assert_eq!(LimitResult::from_canonical(reordered), Err(LimitResultError::NotCanonical));
        let timeout = b"{\"limit\":\"timeout\",\"max\":60,\"manifest\":\"bafy\"}\n";
        assert!(matches!(LimitResult::from_canonical(timeout), Err(LimitResultError::Syntax(_))));
        let extra = b"{\"limit\":\"fuel\",\"max\":1,\"manifest\":\"bafy\",\"fuel_used\":1}\n";
        assert!(matches!(LimitResult::from_canonical(extra), Err(LimitResultError::Syntax(_))));
        let long = vec![b' '; MAX_BYTES + 1];
        assert_eq!(LimitResult::from_canonical(&long), Err(LimitResultError::TooLong(MAX_BYTES + 1)));
    }
}
