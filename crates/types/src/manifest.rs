//! The job manifest: what a requester asks the network to run, and under which limits and terms.
//!
//! Two forms exist. The user writes `job.toml`, where the program, the model and the inputs are *sources*:
//! a local path or a CID. Before a job is submitted (or run by `ocean exec`) every path is added to the store
//! and replaced by its CID ([`Manifest::resolve`]); the resolved manifest then has one canonical byte encoding
//! ([`Manifest::canonical_bytes`]: compact JSON, fields in declaration order, maps sorted by key, defaults
//! written out), so the same job always hashes to the same manifest CID on every machine.

use std::{collections::BTreeMap, fmt, path::PathBuf, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::Amount;

/// A job: the program, its inputs, the resource limits, how the result is verified and what it may cost.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// What runs.
    pub program: Program,
    /// Named inputs; the guest sees each one read-only as `/inputs/<name>`.
    #[serde(default)]
    pub inputs: BTreeMap<String, Source>,
    /// Resource limits of one run.
    #[serde(default)]
    pub limits: Limits,
    /// How replicas' results are checked.
    #[serde(default)]
    pub verification: Verification,
    /// What the requester pays at most, and by when the job must finish.
    #[serde(default)]
    pub payment: Payment,
    /// Envelope encryption of inputs and results (absent: a public job, and the canonical form omits it).
    #[serde(default, skip_serializing_if = "Privacy::is_public")]
    pub privacy: Privacy,
}

/// `[privacy]`: a private job's inputs travel age-encrypted to the assigned providers' registered keys and
/// its result comes back age-encrypted to the requester.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Privacy {
    /// Encrypt inputs and results.
    pub encrypt: bool,
    /// The requester's age recipient (`age1…`) results are encrypted to; filled in at submit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
}

impl Privacy {
    /// Whether this is a plain public job (the default).
    pub fn is_public(&self) -> bool {
        *self == Self::default()
    }
}

/// The program of a job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Program {
    /// Which runtime executes the job.
    pub kind: Kind,
    /// The WebAssembly module (WASI preview 1). Required for `wasm`; for `onnx` it is the inference guest; for
    /// `fhe` it is the homomorphic program (a TOML expression graph, see ocean-fhe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<Source>,
    /// The compressed server key the `fhe` program is evaluated with (`fhe` kind only; `ocean fhe keygen`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_key: Option<Source>,
    /// The ONNX model (`onnx` kind only); the guest sees it as `/inputs/model.onnx`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<Source>,
    /// Command-line arguments after `argv[0]`.
    #[serde(default)]
    pub args: Vec<String>,
    /// Seed of the guest's random numbers (WASI `random_get`); part of the job so every replica agrees.
    #[serde(default)]
    pub seed: u64,
}

/// Which runtime executes a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A WASI preview 1 WebAssembly module.
    Wasm,
    /// Inference of an ONNX model, run by a WebAssembly guest so the bytes agree on every host.
    Onnx,
    /// A homomorphic program over encrypted integers (tfhe-rs); inputs are ciphertext files.
    Fhe,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Wasm => "wasm",
            Self::Onnx => "onnx",
            Self::Fhe => "fhe",
        })
    }
}

/// Where a file comes from: a path on the requester's machine or a CID already in the store.
///
/// In `job.toml` both are plain strings: a string that looks like a CID (CIDv1 in base32 starting with `b`,
/// or a CIDv0 starting with `Qm`) is a CID; anything else is a path, relative to the manifest's folder. Write
/// `./bafy...` to force a path that happens to look like a CID.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Source {
    /// A content identifier (text form), to be fetched from the store.
    Cid(String),
    /// A local file, to be added to the store.
    Path(PathBuf),
}

impl Source {
    /// Whether `s` has the shape of a CID (the store checks it fully when it parses it).
    pub fn looks_like_cid(s: &str) -> bool {
        let v1 = s.len() >= 50
            && s.starts_with('b')
            && s.bytes().all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b));
        let v0 = s.len() == 46
            && s.starts_with("Qm")
            && s.bytes().all(|b| b.is_ascii_alphanumeric() && !matches!(b, b'0' | b'O' | b'I' | b'l'));
        v1 || v0
    }

    /// The CID, if this source is one.
    pub fn cid(&self) -> Option<&str> {
        match self {
            Self::Cid(c) => Some(c),
            Self::Path(_) => None,
        }
    }
}

impl FromStr for Source {
    type Err = ManifestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim().is_empty() {
            return Err(ManifestError::EmptySource);
        }
        Ok(if Self::looks_like_cid(s) { Self::Cid(s.to_owned()) } else { Self::Path(PathBuf::from(s)) })
    }
}

impl TryFrom<String> for Source {
    type Error = ManifestError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Source> for String {
    fn from(s: Source) -> Self {
        s.to_string()
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cid(c) => f.write_str(c),
            Self::Path(p) => write!(f, "{}", p.display()),
        }
    }
}

/// Resource limits of one run. Every limit ends the run with its own error when hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Linear memory the guest may grow to, in MiB.
    pub memory_mib: u32,
    /// Units of work (wasmtime fuel: about one per WebAssembly instruction); deterministic, and the billing unit.
    pub fuel: u64,
    /// Wall-clock deadline of one run, in seconds (host-dependent, so a timeout never yields a result).
    pub timeout_secs: u64,
    /// Bytes the guest may write to `/outputs`, stdout and stderr together, in MiB.
    pub output_mib: u32,
    /// Bytes of job data (the CAR of program, model and inputs pushed to each provider) a provider must accept,
    /// in MiB. A provider refuses an upload the moment it exceeds this, and declines jobs above its own
    /// maximum. Left out of the canonical form when it is the default, so older manifests keep their CIDs.
    #[serde(skip_serializing_if = "Limits::is_default_input")]
    pub input_mib: u32,
}

impl Limits {
    /// Largest memory a job may ask for (4 GiB, the wasm32 address space).
    pub const MAX_MEMORY_MIB: u32 = 4096;
    /// Largest output a job may ask for.
    pub const MAX_OUTPUT_MIB: u32 = 4096;
    /// Longest deadline a job may ask for (one day).
    pub const MAX_TIMEOUT_SECS: u64 = 86_400;
    /// Job data a job gets without asking (1 GiB).
    pub const DEFAULT_INPUT_MIB: u32 = 1024;
    /// Largest job data a job may ask for (64 GiB; each provider has its own, usually lower, maximum).
    pub const MAX_INPUT_MIB: u32 = 65_536;

    fn is_default_input(v: &u32) -> bool {
        *v == Self::DEFAULT_INPUT_MIB
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_mib: 256,
            fuel: 5_000_000_000,
            timeout_secs: 60,
            output_mib: 64,
            input_mib: Self::DEFAULT_INPUT_MIB,
        }
    }
}

/// How the result of a job is verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Verification {
    /// The scheme.
    pub mode: VerificationMode,
    /// How many providers run the job.
    pub replicas: u8,
    /// How many identical result CIDs settle it.
    pub quorum: u8,
}

impl Default for Verification {
    fn default() -> Self {
        Self { mode: VerificationMode::Quorum, replicas: 3, quorum: 2 }
    }
}

/// Verification scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerificationMode {
    /// k-of-n replication with commit/reveal.
    Quorum,
    /// One provider, trusted.
    None,
    /// One provider that proves its inference with a Groth16 proof the chain verifies before paying (ocean-zk;
    /// `onnx` kind only: the proof covers the project's quantized digits MLP).
    Zk,
}

/// The requester's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Payment {
    /// The most the requester pays for the whole job (all replicas).
    pub max_price: Amount,
    /// Seconds after submission by which the job must be finalized.
    pub deadline_secs: u64,
}

impl Default for Payment {
    fn default() -> Self {
        Self { max_price: Amount::ZERO, deadline_secs: 600 }
    }
}

/// Why a manifest is not valid.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ManifestError {
    /// Not valid TOML or not the manifest's shape.
    #[error("job manifest: {0}")]
    Syntax(String),
    /// Not valid canonical JSON.
    #[error("canonical manifest: {0}")]
    Canonical(String),
    /// A source string is empty.
    #[error("a source (path or CID) is empty")]
    EmptySource,
    /// `[program] module` is missing for a `wasm` job.
    #[error("[program] kind = \"wasm\" needs `module` (a path or CID of a .wasm file)")]
    MissingModule,
    /// `[program] model` is missing for an `onnx` job.
    #[error("[program] kind = \"onnx\" needs `model` (a path or CID of a .onnx file)")]
    MissingModel,
    /// `[program] server_key` is missing for an `fhe` job.
    #[error("[program] kind = \"fhe\" needs `module` (the program) and `server_key` (paths or CIDs)")]
    MissingServerKey,
    /// `[program] server_key` is set for a job that is not `fhe`.
    #[error("[program] server_key is only allowed with kind = \"fhe\"")]
    UnexpectedServerKey,
    /// `[program] model` is set for a job that is not `onnx`.
    #[error("[program] model is only allowed with kind = \"onnx\"")]
    UnexpectedModel,
    /// An input name is not a single plain file name.
    #[error("input name `{0}` must be a plain file name (letters, digits, `.`, `_`, `-`; not `.` or `..`)")]
    BadInputName(String),
    /// The `onnx` kind reserves the input name `model.onnx`.
    #[error("input name `model.onnx` is reserved for the model of an onnx job")]
    ReservedInputName,
    /// A limit is zero or above its maximum.
    #[error("[limits] {field} = {value} is out of range ({range})")]
    LimitOutOfRange {
        /// The field.
        field: &'static str,
        /// The value given.
        value: u64,
        /// The allowed range, for the user.
        range: String,
    },
    /// Quorum/replica counts that cannot settle.
    #[error("[verification] {0}")]
    Verification(String),
    /// `[payment] deadline_secs` is zero or shorter than one run's timeout.
    #[error("[payment] deadline_secs = {deadline} must be at least [limits] timeout_secs = {timeout}")]
    Deadline {
        /// Payment deadline.
        deadline: u64,
        /// Run timeout.
        timeout: u64,
    },
    /// The canonical form needs every source resolved to a CID.
    #[error("`{0}` is still a path; add it to the store and use its CID before encoding the manifest")]
    Unresolved(PathBuf),
}

impl Manifest {
    /// Parses and validates `job.toml` text.
    pub fn from_toml(text: &str) -> Result<Self, ManifestError> {
        let manifest: Self = toml::from_str(text).map_err(|e| ManifestError::Syntax(e.to_string()))?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// Parses and validates the canonical encoding (also accepts any JSON of the same shape).
    pub fn from_canonical(bytes: &[u8]) -> Result<Self, ManifestError> {
        let manifest: Self =
            serde_json::from_slice(bytes).map_err(|e| ManifestError::Canonical(e.to_string()))?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// Checks everything a node would otherwise reject later.
    pub fn validate(&self) -> Result<(), ManifestError> {
        match self.program.kind {
            Kind::Wasm => {
                if self.program.module.is_none() {
                    return Err(ManifestError::MissingModule);
                }
                if self.program.model.is_some() {
                    return Err(ManifestError::UnexpectedModel);
                }
            }
            Kind::Onnx => {
                if self.program.model.is_none() {
                    return Err(ManifestError::MissingModel);
                }
                if self.inputs.contains_key("model.onnx") {
                    return Err(ManifestError::ReservedInputName);
                }
            }
            Kind::Fhe => {
                if self.program.module.is_none() || self.program.server_key.is_none() {
                    return Err(ManifestError::MissingServerKey);
                }
                if self.program.model.is_some() {
                    return Err(ManifestError::UnexpectedModel);
                }
            }
        }
        if self.program.kind != Kind::Fhe && self.program.server_key.is_some() {
            return Err(ManifestError::UnexpectedServerKey);
        }
        for name in self.inputs.keys() {
            let plain = !name.is_empty()
                && name.len() <= 255
                && name != "."
                && name != ".."
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
            if !plain {
                return Err(ManifestError::BadInputName(name.clone()));
            }
        }
        let l = &self.limits;
        range("memory_mib", l.memory_mib.into(), 1, Limits::MAX_MEMORY_MIB.into())?;
        range("fuel", l.fuel, 1, u64::MAX)?;
        range("timeout_secs", l.timeout_secs, 1, Limits::MAX_TIMEOUT_SECS)?;
        range("output_mib", l.output_mib.into(), 1, Limits::MAX_OUTPUT_MIB.into())?;
        range("input_mib", l.input_mib.into(), 1, Limits::MAX_INPUT_MIB.into())?;
        let v = &self.verification;
        match v.mode {
            VerificationMode::None if v.replicas != 1 || v.quorum != 1 => {
                return Err(ManifestError::Verification(
                    "mode = \"none\" runs on one provider: set replicas = 1 and quorum = 1".into(),
                ));
            }
            VerificationMode::Zk if v.replicas != 1 || v.quorum != 1 => {
                return Err(ManifestError::Verification(
                    "mode = \"zk\" runs on one provider (the proof replaces replication): set replicas = 1 and quorum = 1"
                        .into(),
                ));
            }
            VerificationMode::Zk if self.program.kind != Kind::Onnx => {
                return Err(ManifestError::Verification(
                    "mode = \"zk\" proves an inference: it needs kind = \"onnx\"".into(),
                ));
            }
            VerificationMode::Quorum if v.replicas == 0 || v.quorum == 0 || v.quorum > v.replicas => {
                return Err(ManifestError::Verification(format!(
                    "need 1 <= quorum <= replicas (got quorum = {}, replicas = {})",
                    v.quorum, v.replicas
                )));
            }
            // A quorum of half or less could be met by two disagreeing groups at once.
            VerificationMode::Quorum if u16::from(v.quorum) * 2 <= u16::from(v.replicas) => {
                return Err(ManifestError::Verification(format!(
                    "quorum = {} must be a strict majority of replicas = {}",
                    v.quorum, v.replicas
                )));
            }
            _ => {}
        }
        if self.payment.deadline_secs < self.limits.timeout_secs {
            return Err(ManifestError::Deadline {
                deadline: self.payment.deadline_secs,
                timeout: self.limits.timeout_secs,
            });
        }
        Ok(())
    }

    /// Every source of the job: the module, the model, the server key, then the inputs in name order.
    pub fn sources(&self) -> impl Iterator<Item = &Source> {
        self.program
            .module
            .iter()
            .chain(self.program.model.iter())
            .chain(self.program.server_key.iter())
            .chain(self.inputs.values())
    }

    /// Replaces every path source with what `resolve` returns for it (normally the CID the store gave it).
    pub fn resolve<E>(
        mut self,
        mut resolve: impl FnMut(&std::path::Path) -> Result<String, E>,
    ) -> Result<Self, E> {
        let mut one = |s: &mut Source| -> Result<(), E> {
            if let Source::Path(p) = s {
                *s = Source::Cid(resolve(p)?);
            }
            Ok(())
        };
        if let Some(m) = self.program.module.as_mut() {
            one(m)?;
        }
        if let Some(m) = self.program.model.as_mut() {
            one(m)?;
        }
        if let Some(k) = self.program.server_key.as_mut() {
            one(k)?;
        }
        for s in self.inputs.values_mut() {
            one(s)?;
        }
        Ok(self)
    }

    /// The canonical encoding: compact JSON with fields in declaration order, maps sorted by key and every
    /// default written out, so equal jobs give equal bytes (and CIDs). Every source must be a CID.
    pub fn canonical_bytes(&self) -> Result<Vec<u8>, ManifestError> {
        if let Some(Source::Path(p)) = self.sources().find(|s| matches!(s, Source::Path(_))) {
            return Err(ManifestError::Unresolved(p.clone()));
        }
        serde_json::to_vec(self).map_err(|e| ManifestError::Canonical(e.to_string()))
    }
}

fn range(field: &'static str, value: u64, min: u64, max: u64) -> Result<(), ManifestError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(ManifestError::LimitOutOfRange { field, value, range: format!("{min}..={max}") })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const CID: &str = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";

    const EXAMPLE: &str = r#"
[program]
kind = "wasm"
module = "guests/wordcount.wasm"
args = ["--top", "10"]
[inputs]
corpus = "data/corpus.txt"
[limits]
memory_mib = 256
fuel = 5_000_000_000
timeout_secs = 60
[verification]
mode = "quorum"
replicas = 3
quorum = 2
[payment]
max_price = "10 OCAT"
deadline_secs = 600
"#;

    #[test]
    fn parses_the_issue_example() {
        let m = Manifest::from_toml(EXAMPLE).unwrap();
        assert_eq!(m.program.kind, Kind::Wasm);
        assert_eq!(m.program.module, Some(Source::Path("guests/wordcount.wasm".into())));
        assert_eq!(m.program.args, ["--top", "10"]);
        assert_eq!(m.inputs["corpus"], Source::Path("data/corpus.txt".into()));
        assert_eq!(m.limits.fuel, 5_000_000_000);
        assert_eq!(m.limits.output_mib, 64, "default filled in");
        assert_eq!(m.verification.quorum, 2);
        assert_eq!(m.payment.max_price, Amount::from_ocat(10));
    }

    #[test]
    fn input_cap_defaults_to_1_gib_and_stays_out_of_the_canonical_form_unless_set() {
        let m = Manifest::from_toml(EXAMPLE).unwrap();
        assert_eq!(m.limits.input_mib, Limits::DEFAULT_INPUT_MIB);
        let resolved = m.resolve(|_| Ok::<_, ()>(CID.to_owned())).unwrap();
        let text = String::from_utf8(resolved.canonical_bytes().unwrap()).unwrap();
        assert!(!text.contains("input_mib"), "a default cap would change every older manifest's CID: {text}");
        let mut asked = resolved;
        asked.limits.input_mib = 16;
        let bytes = asked.canonical_bytes().unwrap();
        assert!(String::from_utf8(bytes.clone()).unwrap().contains("\"input_mib\":16"));
        assert_eq!(Manifest::from_canonical(&bytes).unwrap().limits.input_mib, 16);
        let zero = EXAMPLE.replace("timeout_secs = 60", "timeout_secs = 60\ninput_mib = 0");
        assert!(matches!(
            Manifest::from_toml(&zero),
            Err(ManifestError::LimitOutOfRange { field: "input_mib", .. })
        ));
    }

    #[test]
    fn cid_sources_are_recognised() {
        assert_eq!(CID.parse::<Source>().unwrap(), Source::Cid(CID.into()));
        let v0 = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG";
        assert_eq!(v0.parse::<Source>().unwrap(), Source::Cid(v0.into()));
        assert_eq!(format!("./{CID}").parse::<Source>().unwrap(), Source::Path(format!("./{CID}").into()));
        assert_eq!("".parse::<Source>(), Err(ManifestError::EmptySource));
    }

    #[test]
    fn canonical_form_is_stable_and_round_trips() {
        let m = Manifest::from_toml(EXAMPLE).unwrap();
        assert_eq!(m.canonical_bytes(), Err(ManifestError::Unresolved("guests/wordcount.wasm".into())));
        let resolved = m.resolve(|_| Ok::<_, ()>(CID.to_owned())).unwrap();
        let bytes = resolved.canonical_bytes().unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert_eq!(
            text,
            format!(
                "{{\"program\":{{\"kind\":\"wasm\",\"module\":\"{CID}\",\"args\":[\"--top\",\"10\"],\"seed\":0}},\
                 \"inputs\":{{\"corpus\":\"{CID}\"}},\
                 \"limits\":{{\"memory_mib\":256,\"fuel\":5000000000,\"timeout_secs\":60,\"output_mib\":64}},\
                 \"verification\":{{\"mode\":\"quorum\",\"replicas\":3,\"quorum\":2}},\
                 \"payment\":{{\"max_price\":\"10 OCAT\",\"deadline_secs\":600}}}}"
            )
        );
        let back = Manifest::from_canonical(&bytes).unwrap();
        assert_eq!(back, resolved);
        assert_eq!(back.canonical_bytes().unwrap(), bytes);
    }

    #[test]
    fn key_order_in_toml_does_not_change_the_encoding() {
        let a = "[program]\nkind='wasm'\nmodule='m.wasm'\n[inputs]\nb='b.txt'\na='a.txt'\n";
        let b = "[inputs]\na='a.txt'\nb='b.txt'\n[program]\nmodule='m.wasm'\nkind='wasm'\n";
        let enc = |t: &str| {
            Manifest::from_toml(t).unwrap().resolve(|p| Ok::<_, ()>(format!("{CID}{}", p.display()))).unwrap()
        };
        // The fake CIDs carry the path so the two inputs stay distinct.
        assert_eq!(serde_json::to_vec(&enc(a)).unwrap(), serde_json::to_vec(&enc(b)).unwrap());
    }

    #[test]
    fn privacy_table_parses_and_public_jobs_keep_their_encoding() {
        let m = Manifest::from_toml("[program]\nkind='wasm'\nmodule='m'\n[privacy]\nencrypt=true\n").unwrap();
        assert!(m.privacy.encrypt && m.privacy.recipient.is_none());
        let m = m.resolve(|_| Ok::<_, ()>(CID.to_owned())).unwrap();
        let text = String::from_utf8(m.canonical_bytes().unwrap()).unwrap();
        assert!(text.ends_with(",\"privacy\":{\"encrypt\":true}}"), "{text}");
        assert_eq!(Manifest::from_canonical(text.as_bytes()).unwrap(), m);
        let public = Manifest::from_toml("[program]\nkind='wasm'\nmodule='m'\n").unwrap();
        assert!(public.privacy.is_public());
        let public = public.resolve(|_| Ok::<_, ()>(CID.to_owned())).unwrap();
        assert!(!String::from_utf8(public.canonical_bytes().unwrap()).unwrap().contains("privacy"));
        assert!(Manifest::from_toml("[program]\nkind='wasm'\nmodule='m'\n[privacy]\nsecret=1\n").is_err());
    }

    #[test]
    fn rejects_invalid_jobs_with_clear_errors() {
        let bad = |toml: &str| Manifest::from_toml(toml).unwrap_err();
        assert_eq!(bad("[program]\nkind='wasm'\n"), ManifestError::MissingModule);
        assert_eq!(bad("[program]\nkind='onnx'\n"), ManifestError::MissingModel);
        assert_eq!(bad("[program]\nkind='wasm'\nmodule='m'\nmodel='x'\n"), ManifestError::UnexpectedModel);
        assert!(matches!(bad("[program]\nkind='cuda'\nmodule='m'\n"), ManifestError::Syntax(_)));
        assert_eq!(bad("[program]\nkind='fhe'\nmodule='p.toml'\n"), ManifestError::MissingServerKey);
        assert_eq!(
            bad("[program]\nkind='wasm'\nmodule='m'\nserver_key='k'\n"),
            ManifestError::UnexpectedServerKey
        );
        let fhe = Manifest::from_toml("[program]\nkind='fhe'\nmodule='p.toml'\nserver_key='k'\n").unwrap();
        assert_eq!(fhe.sources().count(), 2, "the server key is a source");
        assert!(matches!(bad("[program]\nkind='wasm'\nmodule='m'\ncolour=1\n"), ManifestError::Syntax(_)));
        assert_eq!(
            bad("[program]\nkind='wasm'\nmodule='m'\n[inputs]\n'../x'='a'\n"),
            ManifestError::BadInputName("../x".into())
        );
        assert!(matches!(
            bad("[program]\nkind='wasm'\nmodule='m'\n[limits]\nmemory_mib=0\n"),
            ManifestError::LimitOutOfRange { field: "memory_mib", .. }
        ));
        assert!(matches!(
            bad("[program]\nkind='wasm'\nmodule='m'\n[verification]\nreplicas=4\nquorum=2\n"),
            ManifestError::Verification(_)
        ));
        assert!(matches!(
            bad("[program]\nkind='wasm'\nmodule='m'\n[verification]\nmode='none'\n"),
            ManifestError::Verification(_)
        ));
        let zk = "[program]\nkind='onnx'\nmodule='m'\nmodel='d.onnx'\n[verification]\nmode='zk'\n";
        assert!(matches!(bad(zk), ManifestError::Verification(_)), "zk needs one replica");
        let zk_wasm = "[program]\nkind='wasm'\nmodule='m'\n[verification]\nmode='zk'\nreplicas=1\nquorum=1\n";
        assert!(matches!(bad(zk_wasm), ManifestError::Verification(_)), "zk needs onnx");
        let ok = Manifest::from_toml(&format!("{zk}replicas=1\nquorum=1\n")).unwrap();
        assert_eq!(ok.verification.mode, VerificationMode::Zk);
        assert_eq!(
            bad("[program]\nkind='wasm'\nmodule='m'\n[payment]\ndeadline_secs=10\n"),
            ManifestError::Deadline { deadline: 10, timeout: 60 }
        );
        let text = bad("[program]\nkind='wasm'\nmodule='m'\n[payment]\nmax_price='10 ETH'\n").to_string();
        assert!(text.contains("ETH"), "{text}");
    }
}
