//! The protocol's EIP-712 messages: a provider's offer to run a job and its commitment to a result, and a
//! requester's signed read of a provider's API.
//!
//! Providers sign offers and commitments off chain; the requester submits them inside `createJob` and
//! `reveal`, so a 3-replica job needs two transactions instead of eight. Their domain is the JobMarket's
//! (`"Ocean AI JobMarket"`, `"1"`).
//!
//! A requester signs an [`ApiRead`](typed::ApiRead) for every request to a provider that reveals a task's
//! state, result or commitment. It has its own domain (`"Ocean AI Provider API"`, `"1"`, same chain and
//! contract), so no API signature can ever be replayed as an offer or a commitment, nor the other way round.

use alloy::{
    primitives::{Address, B256, U256, Uint, keccak256},
    signers::{SignerSync, local::PrivateKeySigner},
    sol_types::{Eip712Domain, SolStruct, SolValue, eip712_domain},
};

use crate::{bindings::JobMarket, client::JobRequest};

mod typed {
    #![allow(missing_docs, unreachable_pub)]
    alloy::sol! {
        struct Offer { bytes32 jobId; address provider; uint96 price; uint40 expiry; bytes32 terms; }
        struct Commit { bytes32 jobId; bytes32 commitment; }
        struct ApiRead { string method; string path; bytes32 jobId; uint64 timestamp; bytes32 nonce; }
    }
}

/// The provider API's EIP-712 domain on `chain_id` for the JobMarket at `market`.
pub fn api_domain(chain_id: u64, market: Address) -> Eip712Domain {
    eip712_domain! {
        name: "Ocean AI Provider API",
        version: "1",
        chain_id: chain_id,
        verifying_contract: market,
    }
}

/// One signed API read: what the requester sends beside the request (see `docs/protocol.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApiAuth {
    /// Unix seconds when it was signed; providers refuse reads too far from their clock.
    pub timestamp: u64,
    /// Random, never reused: providers refuse a nonce they have seen (replay).
    pub nonce: B256,
    /// The 65-byte signature `r ‖ s ‖ v`.
    pub signature: alloy::signers::Signature,
}

/// The digest a requester signs to read `path` with `method` for `job_id`.
pub fn api_read_digest(
    domain: &Eip712Domain,
    method: &str,
    path: &str,
    job_id: B256,
    timestamp: u64,
    nonce: B256,
) -> B256 {
    typed::ApiRead { method: method.to_owned(), path: path.to_owned(), jobId: job_id, timestamp, nonce }
        .eip712_signing_hash(domain)
}

/// Signs a read of `path` with `method` for `job_id` at `timestamp` with a fresh random nonce.
pub fn sign_api_read(
    signer: &PrivateKeySigner,
    domain: &Eip712Domain,
    method: &str,
    path: &str,
    job_id: B256,
    timestamp: u64,
) -> crate::Result<ApiAuth> {
    let nonce = B256::from(rand::random::<[u8; 32]>());
    let digest = api_read_digest(domain, method, path, job_id, timestamp, nonce);
    Ok(ApiAuth { timestamp, nonce, signature: signer.sign_hash_sync(&digest)? })
}

/// The account that signed `auth` for this read; `None` if the signature is malformed.
pub fn api_read_signer(
    domain: &Eip712Domain,
    method: &str,
    path: &str,
    job_id: B256,
    auth: &ApiAuth,
) -> Option<Address> {
    let digest = api_read_digest(domain, method, path, job_id, auth.timestamp, auth.nonce);
    auth.signature.recover_address_from_prehash(&digest).ok()
}

/// The JobMarket's EIP-712 domain on `chain_id`.
pub fn domain(chain_id: u64, market: Address) -> Eip712Domain {
    eip712_domain! {
        name: "Ocean AI JobMarket",
        version: "1",
        chain_id: chain_id,
        verifying_contract: market,
    }
}

/// `keccak256(abi.encodePacked(resultCid, provider))`: what a provider commits to.
pub fn commitment(result_cid: &[u8], provider: Address) -> B256 {
    let mut packed = Vec::with_capacity(result_cid.len() + 20);
    packed.extend_from_slice(result_cid);
    packed.extend_from_slice(provider.as_slice());
    keccak256(packed)
}

/// `keccak256(abi.encode(memoryMiB, fuel, timeoutSecs, outputMiB, inputMiB))` as `uint32, uint64, uint64,
/// uint32, uint32`: the manifest limits a provider agrees to, bound into the job's terms and its `JobCreated`
/// event (docs/protocol.md §3). A provider refuses to run a manifest whose limits hash to anything else.
pub fn limits_hash(memory_mib: u32, fuel: u64, timeout_secs: u64, output_mib: u32, input_mib: u32) -> B256 {
    keccak256((memory_mib, fuel, timeout_secs, output_mib, input_mib).abi_encode())
}

/// The JobMarket's `termsHash(req, providers)`: everything an offer agrees to besides its own price — the
/// manifest CID (zero when `late_manifest`), r, q, mode, price cap, commit deadline, proof spec, limits hash and
/// the ordered providers. The market refuses a job whose terms differ from what each provider signed.
pub fn terms_hash(req: &JobRequest, providers: &[Address]) -> B256 {
    let manifest = if req.late_manifest { B256::ZERO } else { keccak256(&req.manifest_cid) };
    // `abi.encodePacked(address[])` pads every element of an array to a 32-byte word.
    let mut packed = Vec::with_capacity(providers.len() * 32);
    for p in providers {
        packed.extend_from_slice(p.into_word().as_slice());
    }
    keccak256(
        (
            manifest,
            // uint8 values: ABI-encoded as one padded word each, like any uint.
            U256::from(req.replicas),
            U256::from(req.quorum),
            U256::from(req.mode as u8),
            Uint::<96, 2>::saturating_from(req.price_per_replica),
            Uint::<40, 1>::saturating_from(req.commit_deadline),
            req.proof_spec,
            req.limits_hash,
            // uint32: one padded word.
            U256::from(req.rebalance_at),
            keccak256(packed),
        )
            .abi_encode(),
    )
}

/// `keccak256(abi.encode(assignment))`: what the JobMarket stores as a job's `assignmentHash`.
pub fn assignment_hash(assignment: &[JobMarket::Assignment]) -> B256 {
    // `abi.encode` of one dynamic array: the offset of its data (one word), then the array.
    keccak256((assignment.to_vec(),).abi_encode_params())
}

/// The `terms` an offer to join a running job signs (`JobMarket.reassignTerms`): the job's assignment now and as
/// it becomes with the new provider in its slot (binding both, the offer cannot be replayed into a later
/// assignment). The rest of the job's terms are on chain and cannot change.
pub fn reassign_terms(current: &[JobMarket::Assignment], next: &[JobMarket::Assignment]) -> B256 {
    keccak256(
        (keccak256(b"Ocean AI reassignment"), assignment_hash(current), assignment_hash(next)).abi_encode(),
    )
}

/// The digest a provider signs to offer to run `job_id` for `price` (wei) until `expiry` (unix seconds) on the
/// terms whose hash is `terms` ([`terms_hash`]).
pub fn offer_digest(
    domain: &Eip712Domain,
    job_id: B256,
    provider: Address,
    price: u128,
    expiry: u64,
    terms: B256,
) -> B256 {
    typed::Offer {
        jobId: job_id,
        provider,
        price: Uint::<96, 2>::saturating_from(price),
        expiry: Uint::<40, 1>::saturating_from(expiry),
        terms,
    }
    .eip712_signing_hash(domain)
}

/// Signs an offer; the result goes straight into `createJob`.
pub fn sign_offer(
    signer: &PrivateKeySigner,
    domain: &Eip712Domain,
    job_id: B256,
    price: u128,
    expiry: u64,
    terms: B256,
) -> crate::Result<JobMarket::Offer> {
    let provider = signer.address();
    let digest = offer_digest(domain, job_id, provider, price, expiry, terms);
    let (r, vs) = compact(&signer.sign_hash_sync(&digest)?);
    Ok(JobMarket::Offer {
        provider,
        price: alloy::primitives::Uint::<96, 2>::saturating_from(price),
        expiry: alloy::primitives::Uint::<40, 1>::saturating_from(expiry),
        r,
        vs,
    })
}

/// The digest a provider signs to commit to `commitment` for `job_id`.
pub fn commit_digest(domain: &Eip712Domain, job_id: B256, commitment: B256) -> B256 {
    typed::Commit { jobId: job_id, commitment }.eip712_signing_hash(domain)
}

/// Signs the commitment to `result_cid` for the provider at `index` of the job's assignment.
pub fn sign_commit(
    signer: &PrivateKeySigner,
    domain: &Eip712Domain,
    job_id: B256,
    index: u8,
    result_cid: &[u8],
) -> crate::Result<JobMarket::SignedCommit> {
    let c = commitment(result_cid, signer.address());
    let (r, vs) = compact(&signer.sign_hash_sync(&commit_digest(domain, job_id, c))?);
    Ok(JobMarket::SignedCommit { index, commitment: c, r, vs })
}

/// The EIP-2098 compact form `(r, vs)`: 64 bytes instead of 65, and a static ABI type (cheaper calldata).
pub fn compact(sig: &alloy::signers::Signature) -> (B256, B256) {
    let bytes = sig.as_erc2098();
    (B256::from_slice(&bytes[..32]), B256::from_slice(&bytes[32..]))
}

/// `keccak256(abi.encode(chainid, market, requester, salt))`: the id a job will get, known before it is created,
/// and valid on this one deployment only (no signature or proof for it means anything on another chain or
/// market).
pub fn job_id(chain_id: u64, market: Address, requester: Address, salt: B256) -> B256 {
    keccak256((U256::from(chain_id), market, requester, salt).abi_encode())
}

/// Converts a `U256` read from the chain into `u128`, which holds any OCAT amount the protocol can mint.
pub fn to_u128(value: U256) -> crate::Result<u128> {
    u128::try_from(value).map_err(|_| crate::Error::InvalidArgument(format!("{value} does not fit in u128")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn signatures_recover_to_the_provider() {
        let signer = PrivateKeySigner::random();
        let d = domain(31337, Address::repeat_byte(7));
        let job = B256::repeat_byte(1);
        let terms = B256::repeat_byte(3);
        let offer = sign_offer(&signer, &d, job, 10, 1000, terms).unwrap();
        let sig =
            alloy::signers::Signature::from_erc2098(&[offer.r.as_slice(), offer.vs.as_slice()].concat());
        let digest = offer_digest(&d, job, signer.address(), 10, 1000, terms);
        assert_eq!(sig.recover_address_from_prehash(&digest).unwrap(), signer.address());

        let sc = sign_commit(&signer, &d, job, 2, b"cid").unwrap();
        assert_eq!(sc.commitment, commitment(b"cid", signer.address()));
        let sig = alloy::signers::Signature::from_erc2098(&[sc.r.as_slice(), sc.vs.as_slice()].concat());
        assert_eq!(
            sig.recover_address_from_prehash(&commit_digest(&d, job, sc.commitment)).unwrap(),
            signer.address()
        );
    }

    #[test]
    fn api_reads_recover_to_the_requester_and_bind_every_field() {
        let signer = PrivateKeySigner::random();
        let d = api_domain(31337, Address::repeat_byte(7));
        let job = B256::repeat_byte(1);
        let auth = sign_api_read(&signer, &d, "GET", "/tasks/0x01", job, 1000).unwrap();
        assert_eq!(api_read_signer(&d, "GET", "/tasks/0x01", job, &auth), Some(signer.address()));
        // Any other method, path, job, time, nonce, chain or contract recovers someone else.
        let other = |m: &str, p: &str, j: B256, a: &ApiAuth, d: &Eip712Domain| api_read_signer(d, m, p, j, a);
        assert_ne!(other("POST", "/tasks/0x01", job, &auth, &d), Some(signer.address()));
        assert_ne!(other("GET", "/tasks/0x02", job, &auth, &d), Some(signer.address()));
        assert_ne!(other("GET", "/tasks/0x01", B256::repeat_byte(2), &auth, &d), Some(signer.address()));
        let later = ApiAuth { timestamp: 1001, ..auth };
        assert_ne!(other("GET", "/tasks/0x01", job, &later, &d), Some(signer.address()));
        let renonced = ApiAuth { nonce: B256::repeat_byte(9), ..auth };
        assert_ne!(other("GET", "/tasks/0x01", job, &renonced, &d), Some(signer.address()));
        let chain = api_domain(1, Address::repeat_byte(7));
        assert_ne!(other("GET", "/tasks/0x01", job, &auth, &chain), Some(signer.address()));
        // The market's own domain is a different one: an API signature is never an offer or commitment.
        assert_ne!(
            other("GET", "/tasks/0x01", job, &auth, &domain(31337, Address::repeat_byte(7))),
            Some(signer.address())
        );
    }

    #[test]
    fn job_id_is_abi_encoded_and_bound_to_chain_and_market() {
        let (m, a, s) = (Address::repeat_byte(0x77), Address::repeat_byte(0xaa), B256::repeat_byte(0x01));
        let mut manual = Vec::new();
        manual.extend_from_slice(&U256::from(31337u64).to_be_bytes::<32>());
        manual.extend_from_slice(&[0u8; 12]);
        manual.extend_from_slice(m.as_slice());
        manual.extend_from_slice(&[0u8; 12]);
        manual.extend_from_slice(a.as_slice());
        manual.extend_from_slice(s.as_slice());
        assert_eq!(job_id(31337, m, a, s), keccak256(manual));
        assert_ne!(job_id(1, m, a, s), job_id(31337, m, a, s));
        assert_ne!(job_id(31337, Address::repeat_byte(0x78), a, s), job_id(31337, m, a, s));
    }
}
