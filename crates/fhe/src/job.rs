//! A homomorphic job on a provider: program + server key + ciphertext inputs (all bytes fetched by CID)
//! → an outputs file, under the job's limits.
//!
//! Everything that can be refused is refused before any homomorphic work, in this order: the program
//! type-checks; the server key file is one; every declared input is given, is a ciphertext under the server
//! key's key set, of the declared type; no undeclared input is given; the work units (known statically) fit
//! `fuel`, the memory estimate fits `memory_mib`, and the largest possible outputs fit `output_mib`. Only then
//! is the server key decompressed and the program run; the deadline is checked between operations.

use std::{collections::BTreeMap, time::Instant};

use crate::{
    Error, Limit, Result, data, eval,
    format::{self, FileKind},
    keys::{self, Server},
    program::Program,
};

/// Memory of the decompressed server key and the evaluation's working set beyond the values themselves,
/// measured with `/usr/bin/time -v` on the parameters in use (see docs/benchmarks.md, FHE).
pub const SERVER_KEY_MEMORY: u64 = 512 << 20;
/// Memory of one live ciphertext block: (2048 + 1) u64 plus bookkeeping.
pub const BLOCK_MEMORY: u64 = 2049 * 8 + 64;

/// The limits of one evaluation.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Most work units.
    pub work: u64,
    /// Most memory, in bytes.
    pub memory_bytes: u64,
    /// Largest outputs file, in bytes.
    pub output_bytes: u64,
    /// When to stop.
    pub deadline: Option<Instant>,
}

/// What an evaluation produced.
#[derive(Clone, Debug)]
pub struct Evaluated {
    /// The outputs file (decrypt with `ocean fhe decrypt`).
    pub outputs: Vec<u8>,
    /// Work units spent: the program's static count, the billing unit.
    pub work: u64,
    /// The memory estimate the run was admitted with, in bytes.
    pub memory_estimate: u64,
}

/// Everything checked, nothing computed yet.
pub struct Admitted {
    program: Program,
    server_key_id: format::KeyId,
    memory_estimate: u64,
}

impl Admitted {
    /// The checked program.
    pub fn program(&self) -> &Program {
        &self.program
    }
}

/// Checks a job against its inputs and limits without doing any homomorphic work.
pub fn admit(
    program: &[u8],
    server_key: &[u8],
    inputs: &BTreeMap<String, Vec<u8>>,
    budget: &Budget,
) -> Result<Admitted> {
    let text = std::str::from_utf8(program).map_err(|_| Error::program("the program is not UTF-8 text"))?;
    let program = Program::parse(text)?;
    let (header, _, _) = format::read_kind(server_key, FileKind::ServerKey, "server key")?;
    for (name, ty) in &program.inputs {
        let bytes = inputs.get(name).ok_or_else(|| Error::Input(name.clone(), "not given".into()))?;
        let (key_id, found) = data::peek_input(bytes, &format!("input `{name}`"))?;
        if key_id != header.key_id {
            return Err(Error::KeyMismatch {
                what: format!("input `{name}`"),
                against: "the server key".into(),
                expected: header.key_id,
                found: key_id,
            });
        }
        if found != *ty {
            return Err(Error::InputType { name: name.clone(), expected: *ty, found });
        }
    }
    if let Some(extra) = inputs.keys().find(|n| !program.inputs.iter().any(|(p, _)| p == *n)) {
        return Err(Error::Input(extra.clone(), "given, but the program does not declare it".into()));
    }
    if program.work > budget.work {
        return Err(Error::Limit {
            limit: Limit::Work,
            detail: format!(
                "the program needs {} work units, [limits] fuel allows {}",
                program.work, budget.work
            ),
        });
    }
    let input_bytes: u64 = inputs.values().map(|b| b.len() as u64).sum();
    let memory_estimate = SERVER_KEY_MEMORY
        .saturating_add(server_key.len() as u64)
        .saturating_add(input_bytes)
        .saturating_add(program.peak_blocks.saturating_mul(BLOCK_MEMORY));
    if memory_estimate > budget.memory_bytes {
        return Err(Error::Limit {
            limit: Limit::Memory,
            detail: format!(
                "the evaluation needs about {} MiB, [limits] memory_mib allows {}",
                memory_estimate.div_ceil(1 << 20),
                budget.memory_bytes >> 20
            ),
        });
    }
    let output_max: u64 =
        program.outputs.iter().map(|(_, _, t)| t.elements() * data::element_bytes(t.scalar)).sum();
    if output_max > budget.output_bytes {
        return Err(Error::Limit {
            limit: Limit::Output,
            detail: format!(
                "the outputs take up to {} KiB, [limits] output_mib allows {} MiB",
                output_max.div_ceil(1024),
                budget.output_bytes >> 20
            ),
        });
    }
    Ok(Admitted { program, server_key_id: header.key_id, memory_estimate })
}

/// Decompressed server keys, so that a provider decompresses a key (seconds, and most of
/// [`SERVER_KEY_MEMORY`]) once rather than for every job that uses it. It keeps the most recent key only.
///
/// Keys are looked up by a name the caller vouches for: a content address of the compressed key file (the
/// runtime uses its CID, which the store checked). A key id from the file's header would not do: anyone can
/// write a file with another key set's id, and a replica with a warm cache would then compute with a
/// different key than a cold one.
#[derive(Default)]
pub struct Keys {
    last: std::sync::Mutex<Option<(String, tfhe::ServerKey)>>,
}

impl Keys {
    /// An empty cache.
    pub const fn new() -> Self {
        Self { last: std::sync::Mutex::new(None) }
    }

    fn get(&self, address: &str, file: &[u8]) -> Result<tfhe::ServerKey> {
        if !address.is_empty()
            && let Ok(last) = self.last.lock()
            && let Some((cached, key)) = last.as_ref()
            && cached == address
        {
            // Cheap: tfhe-rs shares the key material behind an `Arc`.
            return Ok(key.clone());
        }
        let started = Instant::now();
        let Server { key, .. } = keys::read_server(file)?;
        let key = key.decompress();
        tracing::debug!(target: "ocean::fhe", elapsed = ?started.elapsed(), "server key decompressed");
        if !address.is_empty()
            && let Ok(mut last) = self.last.lock()
        {
            *last = Some((address.to_owned(), key.clone()));
        }
        Ok(key)
    }
}

/// Admits, then evaluates a job on this thread (it installs the server key as this thread's tfhe-rs key).
pub fn evaluate(
    program: &[u8],
    server_key: &[u8],
    inputs: &BTreeMap<String, Vec<u8>>,
    budget: &Budget,
) -> Result<Evaluated> {
    evaluate_with(&Keys::new(), "", program, server_key, inputs, budget)
}

/// [`evaluate`], taking the decompressed server key from `keys` when it holds the one at `key_address`
/// (a content address of `server_key`, e.g. its CID).
pub fn evaluate_with(
    keys: &Keys,
    key_address: &str,
    program: &[u8],
    server_key: &[u8],
    inputs: &BTreeMap<String, Vec<u8>>,
    budget: &Budget,
) -> Result<Evaluated> {
    let admitted = admit(program, server_key, inputs, budget)?;
    tfhe::set_server_key(keys.get(key_address, server_key)?);
    let program = &admitted.program;
    let values = program
        .inputs
        .iter()
        .map(|(name, _)| data::read_input(&inputs[name], &format!("input `{name}`")))
        .collect::<Result<Vec<_>>>()?;
    let started = Instant::now();
    let outputs = eval::run(program, values, budget.deadline)?;
    let shapes: Vec<_> = program.outputs.iter().map(|(n, _, t)| (n.clone(), *t)).collect();
    let file = data::write_outputs(admitted.server_key_id, &shapes, &outputs)?;
    if file.len() as u64 > budget.output_bytes {
        return Err(Error::Limit {
            limit: Limit::Output,
            detail: format!("the outputs take {} bytes, more than [limits] output_mib", file.len()),
        });
    }
    tracing::debug!(target: "ocean::fhe", work = program.work, elapsed = ?started.elapsed(), "evaluated");
    Ok(Evaluated { outputs: file, work: program.work, memory_estimate: admitted.memory_estimate })
}
