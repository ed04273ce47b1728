//! Proof jobs (`verification.mode = "zk"`, JobMarket `Mode.Proof`): what both sides read from a job.
//!
//! A zk job's `[program] model` is a quantized model file in ocean-zk's format (`examples/zk/digits-q.json`)
//! and its one input an image (`{"pixels": [...]}`). The requester puts `spec(model, input)` on chain as the
//! job's `proofSpec`; the provider proves the inference for that spec and the job id; the chain pays when the
//! verifier accepts. The result the chain records is the 32-byte packed logits, which [`result_dir`] turns
//! into the same kind of result every other job has: a directory (here holding `result.json`) addressed by CID.

use std::{io::Read, path::Path};

use ocean_store::{Cid, Entry, ImportOptions, Store};
use ocean_types::manifest::Manifest;
use ocean_zk_model::{Input, Model, Output};

use crate::{Error, Result};

fn read(store: &Store, cid: &str, what: &str) -> Result<Vec<u8>> {
    let cid: Cid = cid.parse()?;
    let mut bytes = Vec::new();
    store.cat(&cid)?.read_to_end(&mut bytes).map_err(|e| Error::io(format!("reading {what} {cid}"), e))?;
    Ok(bytes)
}

/// The model and the input of a resolved zk job (every source a CID in `store`).
pub fn model_and_input(store: &Store, manifest: &Manifest) -> Result<(Model, Input)> {
    let model = manifest
        .program
        .model
        .as_ref()
        .and_then(|m| m.cid())
        .ok_or_else(|| Error::Job("a zk job names its quantized model in [program] model".into()))?;
    let mut inputs = manifest.inputs.iter();
    let (name, input) = match (inputs.next(), inputs.next()) {
        (Some(one), None) => one,
        _ => {
            return Err(Error::Job(format!(
                "a zk job proves one inference: it takes exactly one input (an image), not {}",
                manifest.inputs.len()
            )));
        }
    };
    let input = input.cid().ok_or_else(|| Error::Job(format!("input `{name}` is not resolved to a CID")))?;
    let model = Model::from_json(&read(store, model, "model")?, Path::new("[program] model"))?;
    let input = Input::from_json(&read(store, input, "input")?, Path::new(name))?;
    // A model whose activations leave the circuit's range cannot be proven: say so before anything is paid.
    model.infer(&input)?;
    Ok((model, input))
}

/// The `proofSpec` of a zk job (a `bytes32` on chain): the commitment to its model and input.
pub fn spec(model: &Model, input: &Input) -> [u8; 32] {
    let spec = ocean_zk_model::spec(
        ocean_zk_model::model_commitment(model),
        ocean_zk_model::input_commitment(input),
    );
    ocean_zk_model::model::fr_to_bytes(&spec)
}

/// What `result.json` of a proven inference holds.
#[derive(Debug, serde::Serialize)]
struct Proven<'a> {
    /// The class with the largest logit.
    class: usize,
    logits: &'a [i64],
    /// The bytes the chain recorded as the result, which the verifier checked against the proof.
    onchain_result: String,
}

/// Stores the result directory of a proven inference (`result.json`) and returns its CID. The directory
/// depends only on the on-chain result, so everyone who reads the chain gets the same CID.
pub fn result_dir(store: &Store, onchain: &[u8]) -> Result<(Cid, Output)> {
    let output = Output::from_bytes(onchain)?;
    let json = serde_json::to_vec_pretty(&Proven {
        class: output.class(),
        logits: &output.0,
        onchain_result: format!("0x{}", hex::encode(onchain)),
    })
    .map_err(|e| Error::Job(format!("encoding result.json: {e}")))?;
    let opts = ImportOptions::default();
    let added = store.add_bytes(&json, &opts)?;
    let dir = store.put_dir(&[Entry::from_added("result.json", &added)], &opts)?.cid;
    store.pin(&dir)?;
    Ok((dir, output))
}
