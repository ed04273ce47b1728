//! Who may read what from the provider's API.
//!
//! | caller | proves itself with | may read |
//! |---|---|---|
//! | the operator | `Authorization: Bearer <repo>/operator.token` | every task (`GET /tasks`, `GET /tasks/{job}`) |
//! | a job's requester | an EIP-712 `ApiRead` signature ([`ocean_chain::eip712`]) in the `ocean-*` headers | its own task |
//! | anyone | nothing | a task whose job is finalized (its result is on chain anyway) |
//!
//! Everything else gets the same `401` whether or not the task exists, so a stranger learns nothing, not even
//! which job ids this node works on. The checks are ordered so that a stranger costs the node no RPC call
//! and no memory: headers and clock first, then the signature (local arithmetic), then the task's requester,
//! which is recorded when the task is assigned (read from chain at most once for an older record), and only
//! last the replay cache, so only the requester of a task this node holds can ever add to it.

use std::{collections::HashMap, io::Write, path::Path, sync::Mutex};

use axum::http::{HeaderMap, header::AUTHORIZATION};
use ocean_chain::{Address, B256, eip712};

use ocean_protocol::{HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP};

use crate::{Error, Result};

/// The operator's token, created on first start, readable only by the node's user.
pub const OPERATOR_TOKEN_FILE: &str = "operator.token";
/// How far a signed read's timestamp may be from the node's clock, seconds.
pub const MAX_SKEW_SECS: u64 = 120;
/// Most nonces remembered at once. Only requesters of tasks this node holds reach the cache, and an entry
/// is dropped once its signature is too old to be accepted anyway.
const REPLAY_CAP: usize = 65_536;

/// Why a signed read was refused (logged; the caller only sees `401`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Denied {
    #[error("no signature")]
    Missing,
    #[error("malformed signature headers")]
    Malformed,
    #[error("timestamp too far from the node's clock")]
    Stale,
    #[error("signature does not recover")]
    BadSignature,
    #[error("not the job's requester")]
    NotRequester,
    #[error("nonce already used")]
    Replayed,
    #[error("replay cache full")]
    Busy,
}

/// A signed read, parsed from the request headers.
fn parse(headers: &HeaderMap) -> std::result::Result<eip712::ApiAuth, Denied> {
    let get = |name: &str| headers.get(name).map(|v| v.to_str().map_err(|_| Denied::Malformed));
    let (Some(ts), Some(nonce), Some(sig)) =
        (get(HEADER_TIMESTAMP), get(HEADER_NONCE), get(HEADER_SIGNATURE))
    else {
        return Err(Denied::Missing);
    };
    let timestamp = ts?.parse::<u64>().map_err(|_| Denied::Malformed)?;
    let nonce = nonce?.parse::<B256>().map_err(|_| Denied::Malformed)?;
    let sig = hex::decode(sig?.trim_start_matches("0x")).map_err(|_| Denied::Malformed)?;
    let signature = alloy::signers::Signature::try_from(sig.as_slice()).map_err(|_| Denied::Malformed)?;
    Ok(eip712::ApiAuth { timestamp, nonce, signature })
}

/// The node's view of who is asking.
#[derive(Debug)]
pub(crate) struct Auth {
    domain: alloy::sol_types::Eip712Domain,
    /// keccak256 of the operator token: compared as digests so the comparison's timing reveals nothing.
    operator: B256,
    /// Nonce → unix second after which its signature is stale anyway.
    seen: Mutex<HashMap<B256, u64>>,
}

impl Auth {
    /// Loads the operator token from `repo` (creating it on first start) for the API of `domain`.
    pub(crate) fn open(repo: &Path, domain: alloy::sol_types::Eip712Domain) -> Result<Self> {
        let token = operator_token(repo)?;
        Ok(Self { domain, operator: alloy::primitives::keccak256(token), seen: Mutex::default() })
    }

    /// Whether the request carries the operator's token.
    pub(crate) fn is_operator(&self, headers: &HeaderMap) -> bool {
        headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| alloy::primitives::keccak256(t.trim()) == self.operator)
    }

    /// Checks a signed read of `path` for `job`, up to (not including) who the requester is: returns the
    /// signer. Costs no I/O.
    pub(crate) fn signer(
        &self,
        headers: &HeaderMap,
        method: &str,
        path: &str,
        job: B256,
        now: u64,
    ) -> std::result::Result<(Address, eip712::ApiAuth), Denied> {
        let auth = parse(headers)?;
        if auth.timestamp.abs_diff(now) > MAX_SKEW_SECS {
            return Err(Denied::Stale);
        }
        let signer =
            eip712::api_read_signer(&self.domain, method, path, job, &auth).ok_or(Denied::BadSignature)?;
        Ok((signer, auth))
    }

    /// Records the nonce of an accepted read; refuses one seen before.
    pub(crate) fn consume(&self, auth: &eip712::ApiAuth, now: u64) -> std::result::Result<(), Denied> {
        // Nothing in the map can be left half-updated by a panic.
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.contains_key(&auth.nonce) {
            return Err(Denied::Replayed);
        }
        if seen.len() >= REPLAY_CAP {
            seen.retain(|_, stale_after| *stale_after >= now);
            if seen.len() >= REPLAY_CAP {
                return Err(Denied::Busy);
            }
        }
        seen.insert(auth.nonce, auth.timestamp.saturating_add(MAX_SKEW_SECS));
        Ok(())
    }
}

/// The operator token of the node whose data directory is `repo`, created (mode 0600) if missing.
pub fn operator_token(repo: &Path) -> Result<String> {
    let path = repo.join(OPERATOR_TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(t) if !t.trim().is_empty() => return Ok(t.trim().to_owned()),
        Ok(_) => {
            return Err(Error::Db(format!("{} is empty; delete it to make a new token", path.display())));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
    }
    std::fs::create_dir_all(repo).map_err(|e| Error::io(format!("creating {}", repo.display()), e))?;
    let token = hex::encode(rand::random::<[u8; 32]>());
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
    file.write_all(token.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use ocean_chain::PrivateKeySigner;

    fn headers(auth: &eip712::ApiAuth) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(HEADER_TIMESTAMP, auth.timestamp.to_string().parse().unwrap());
        h.insert(HEADER_NONCE, format!("{:#x}", auth.nonce).parse().unwrap());
        h.insert(HEADER_SIGNATURE, format!("0x{}", hex::encode(auth.signature.as_bytes())).parse().unwrap());
        h
    }

    #[test]
    fn a_signed_read_is_accepted_once_and_only_for_its_request() {
        let dir = tempfile::tempdir().unwrap();
        let domain = eip712::api_domain(31337, Address::repeat_byte(1));
        let auth = Auth::open(dir.path(), domain.clone()).unwrap();
        let requester = PrivateKeySigner::random();
        let job = B256::repeat_byte(5);
        let signed = eip712::sign_api_read(&requester, &domain, "GET", "/tasks/0x05", job, 1_000).unwrap();
        let h = headers(&signed);

        let (who, a) = auth.signer(&h, "GET", "/tasks/0x05", job, 1_010).unwrap();
        assert_eq!(who, requester.address());
        // Another job's path recovers someone else; an old signature is stale; a reused nonce is a replay.
        assert_ne!(auth.signer(&h, "GET", "/tasks/0x06", B256::repeat_byte(6), 1_010).unwrap().0, who);
        assert_eq!(
            auth.signer(&h, "GET", "/tasks/0x05", job, 1_000 + MAX_SKEW_SECS + 1).unwrap_err(),
            Denied::Stale
        );
        // A timestamp far in the future is as stale as one in the past (no overflow in the window).
        let future = eip712::sign_api_read(&requester, &domain, "GET", "/tasks/0x05", job, u64::MAX).unwrap();
        assert_eq!(
            auth.signer(&headers(&future), "GET", "/tasks/0x05", job, 1_010).unwrap_err(),
            Denied::Stale
        );
        assert_eq!(auth.consume(&a, 1_010), Ok(()));
        assert_eq!(auth.consume(&a, 1_011), Err(Denied::Replayed));
        assert_eq!(
            auth.signer(&HeaderMap::new(), "GET", "/tasks/0x05", job, 1_010).unwrap_err(),
            Denied::Missing
        );
        let mut bad = h;
        bad.insert(HEADER_SIGNATURE, "0x1234".parse().unwrap());
        assert_eq!(auth.signer(&bad, "GET", "/tasks/0x05", job, 1_010).unwrap_err(), Denied::Malformed);
    }

    #[test]
    fn the_operator_token_is_made_once_private_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let token = operator_token(dir.path()).unwrap();
        assert_eq!(operator_token(dir.path()).unwrap(), token);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(OPERATOR_TOKEN_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let auth = Auth::open(dir.path(), eip712::api_domain(1, Address::ZERO)).unwrap();
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
        assert!(auth.is_operator(&h));
        h.insert(AUTHORIZATION, "Bearer not-the-token".parse().unwrap());
        assert!(!auth.is_operator(&h));
        assert!(!auth.is_operator(&HeaderMap::new()));
    }
}
