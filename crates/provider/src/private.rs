//! Private jobs (`[privacy] encrypt = true`) on the provider.
//!
//! ```text
//!  node store: envelopes ─► decrypt (node identity) ─► memory store: plaintext inputs + module
//!        ─► executor process (inputs materialized under work/<job>/, removed after) ─► result tree (memory store)
//!        ─► CID of the plaintext result (what replicas commit to) + CAR of it ─► encrypt (requester) ─► node store
//! ```
//!
//! Nothing decrypted reaches the node's persistent store: the plaintext lives in a store kept in memory for
//! the run and in the job's scratch folder, which the worker removes whatever happens. Replicas agree on the
//! plaintext result's CID although every envelope is different (age is randomized).

use std::io::Read;

use ocean_crypto::Recipient;
use ocean_store::{Cid, ImportOptions, Store};
use ocean_types::manifest::{Manifest, Source};

use super::Inner;
use crate::{Error, Result};

/// What a private run leaves behind.
pub(super) struct Sealed {
    /// CID of the plaintext result tree (never stored here).
    pub(super) result: Cid,
    /// CID of the result's CAR, age-encrypted to the requester, in the node's store (pinned).
    pub(super) envelope: Cid,
}

fn options() -> ImportOptions {
    ImportOptions { hidden: true, ..ImportOptions::default() }
}

fn cid_of(s: &Source) -> Result<Cid> {
    Ok(s.cid().ok_or_else(|| Error::Job(format!("`{s}` is not a CID")))?.parse()?)
}

/// Copies the DAG under `cid` from the node's store to `to` (blocks are hash-checked on import).
fn copy(from: &Store, to: &Store, cid: &Cid) -> Result<()> {
    let mut car = Vec::new();
    from.export_car(cid, &mut car)?;
    to.import_car(std::io::Cursor::new(car))?;
    Ok(())
}

/// Opens the inputs, runs the job, and seals the result to the requester.
pub(super) async fn execute(inner: &Inner, manifest: &Manifest, work: &std::path::Path) -> Result<Sealed> {
    let identity = inner.config.identity.as_ref().ok_or_else(|| {
        Error::Privacy("this node has no encryption identity, so it cannot open private inputs".into())
    })?;
    let recipient: Recipient = manifest
        .privacy
        .recipient
        .as_deref()
        .ok_or_else(|| Error::Privacy("the manifest names no requester recipient for the result".into()))?
        .parse()
        .map_err(|e| Error::envelope("the requester's recipient", e))?;

    // Everything is checked and decrypted before the guest runs: a wrong key or a tampered envelope is an
    // error before any work.
    let plain = Store::memory();
    let mut inside = manifest.clone();
    let program = &inside.program;
    for source in program.module.iter().chain(program.model.iter()).chain(program.server_key.iter()) {
        copy(&inner.store, &plain, &cid_of(source)?)?;
    }
    for (name, source) in inside.inputs.iter_mut() {
        let cid = cid_of(source)?;
        let mut envelope = Vec::new();
        inner
            .store
            .cat(&cid)?
            .read_to_end(&mut envelope)
            .map_err(|e| Error::io(format!("reading input `{name}`"), e))?;
        let bytes = ocean_crypto::decrypt(identity, &envelope)
            .map_err(|e| Error::envelope(format!("input `{name}`"), e))?;
        *source = Source::Cid(plain.add_bytes(&bytes, &options())?.cid.to_string());
    }

    let executed = super::worker::execute(inner, &plain, &inside, work).await?;
    #[allow(unused_mut)] // changed only by fault injection
    let mut result = executed.result;
    #[cfg(feature = "fault-injection")]
    if inner.config.fault_wrong_result {
        // Fault injection (test builds only): a different, well-formed result.
        result = plain.add_bytes(b"not the result of this private job", &options())?.cid;
    }
    let mut car = Vec::new();
    plain.export_car(&result, &mut car)?;
    let sealed = ocean_crypto::encrypt(&[recipient], &car).map_err(|e| Error::envelope("the result", e))?;
    let envelope = inner.store.add_bytes(&sealed, &options())?.cid;
    inner.store.pin(&envelope)?;
    Ok(Sealed { result, envelope })
}
