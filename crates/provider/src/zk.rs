//! Proof jobs on the provider: prove the inference instead of replicating it.
//!
//! ```text
//!  node store: model + input ─► spec, checked against the job's on-chain proofSpec
//!        ─► Groth16 proof for (job id, spec, output) ─► Task.proof (persisted) ─► settler: submitProof
//!        ─► the verifier contract accepts ─► paid
//! ```
//!
//! The proving key is loaded (or, for the development parameters `ocean deploy` installs, derived) once, at
//! the first zk job, and kept for the node's life. A crash before `submitProof` lands re-proves on restart
//! (the task is still `running`) or resubmits (`committing`); a proof the chain already accepted leaves the
//! job finalized, which the settler records.

use std::sync::Arc;

use ocean_chain::B256;
use ocean_types::manifest::Manifest;
use ocean_zk::Params;
use tracing::info;

use super::Inner;
use crate::{Error, Result, db::Proof};

/// The proving key this node uses: from `Config::zk_params`, or the development parameters.
async fn params(inner: &Inner) -> Result<Arc<Params>> {
    let path = inner.config.zk_params.clone();
    let params = inner
        .zk_params
        .get_or_try_init(|| async move {
            let started = std::time::Instant::now();
            let params = tokio::task::spawn_blocking(move || -> Result<Params> {
                Ok(match &path {
                    Some(path) => {
                        let bytes = std::fs::read(path)
                            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
                        // A ceremony's .zkey or `ocean zk setup`'s parameters.
                        Params::from_file_bytes(&bytes)?
                    }
                    None => Params::dev()?,
                })
            })
            .await
            .map_err(|e| Error::Job(format!("zk parameters task: {e}")))??;
            info!(target: "ocean::node", elapsed = ?started.elapsed(), "zk proving key ready");
            Ok::<_, Error>(Arc::new(params))
        })
        .await?;
    Ok(params.clone())
}

/// Proves a zk job's inference for `job_id`.
pub(super) async fn prove(inner: &Inner, manifest: &Manifest, job_id: B256) -> Result<Proof> {
    let (model, input) = ocean_job::proof::model_and_input(&inner.store, manifest)?;
    let spec = B256::from(ocean_job::proof::spec(&model, &input));
    let onchain = inner.client.proof_spec(job_id).await?;
    if onchain != spec {
        // No proof for this model and input could be accepted: fail now rather than spend the proving time.
        return Err(Error::Job(format!(
            "the job's on-chain proof spec {onchain} is not the spec of its model and input ({spec})"
        )));
    }
    let params = params(inner).await?;
    let proven = tokio::task::spawn_blocking(move || params.prove_os(&model, &input, job_id.0))
        .await
        .map_err(|e| Error::Job(format!("proving task: {e}")))??;
    Ok(Proof {
        result: format!("0x{}", hex::encode(proven.statement.output.to_bytes())),
        proof: format!("0x{}", hex::encode(proven.proof)),
    })
}
