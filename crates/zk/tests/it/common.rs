//! Shared fixtures: the example model and test set, and the development parameters (cached on disk, since a
//! setup takes seconds and nextest runs every test in its own process).

use std::path::{Path, PathBuf};

use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use ocean_zk::{Input, Model, Params};

pub(crate) fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/zk")
}

pub(crate) fn model() -> Model {
    Model::load(&examples().join("digits-q.json")).unwrap()
}

pub(crate) fn digit(k: usize) -> Input {
    Input::load(&examples().join(format!("digit-{k}.json"))).unwrap()
}

#[derive(serde::Deserialize)]
pub(crate) struct TestSet {
    pub(crate) pixels: Vec<Vec<u8>>,
    pub(crate) labels: Vec<usize>,
    pub(crate) float_predictions: Vec<usize>,
    pub(crate) quantized_logits: Vec<Vec<i64>>,
}

pub(crate) fn test_set() -> TestSet {
    serde_json::from_slice(&std::fs::read(examples().join("digits-test.json")).unwrap()).unwrap()
}

/// The development parameters; the first test to need them makes them and leaves an unchecked, uncompressed
/// copy in the target directory for the others (written to a temp file and renamed, so readers never see half).
pub(crate) fn dev_params() -> Params {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ocean-zk-dev-params.bin");
    if let Ok(bytes) = std::fs::read(&cache)
        && let Ok(pk) = ark_groth16::ProvingKey::deserialize_uncompressed_unchecked(bytes.as_slice())
    {
        return Params { pk, reduction: ocean_zk::groth16::Reduction::Libsnark };
    }
    let params = Params::dev().unwrap();
    let mut bytes = Vec::new();
    params.pk.serialize_uncompressed(&mut bytes).unwrap();
    let tmp = cache.with_extension(format!("{}.tmp", std::process::id()));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, &cache).unwrap();
    params
}
