//! Offers this node has signed and not yet seen assigned: a bounded table in memory, with expiry.
//!
//! Anyone may ask for an offer, so asking must cost the node nothing durable: an offer is a signature the
//! requester may or may not use. Nothing is written to disk until the chain assigns the job (the watcher
//! then builds the task from the chain alone, so a restart that forgets the table loses nothing). The table
//! is capped in all and per peer, and an entry lives only until its offer expires.

use std::{collections::HashMap, net::IpAddr, sync::Mutex};

use ocean_chain::B256;

/// Seconds an entry outlives its offer's expiry: a `createJob` mined just before the expiry is seen by the
/// watcher a little later, and uploads for it must still be accepted.
pub(crate) const SLACK: u64 = 60;

/// One live offer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Offer {
    /// When the signed offer stops being valid on chain, unix seconds.
    pub(crate) expiry: u64,
    /// Most bytes of job data the requester may upload for it.
    pub(crate) input_bytes: u64,
    /// Who asked (for the per-peer cap); `None` when the listener did not say.
    pub(crate) peer: Option<IpAddr>,
}

/// Why an offer could not be recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Full {
    /// The node holds its maximum of live offers.
    #[error("too many open offers ({0}); try again when some expire")]
    Node(usize),
    /// This peer holds its maximum of live offers.
    #[error("this peer already holds {0} open offers")]
    Peer(usize),
}

/// The table. One lock, never held across an await.
#[derive(Debug)]
pub(crate) struct Offers {
    live: Mutex<HashMap<B256, Offer>>,
    cap: usize,
    per_peer: usize,
}

impl Offers {
    pub(crate) fn new(cap: usize, per_peer: usize) -> Self {
        Self { live: Mutex::new(HashMap::new()), cap: cap.max(1), per_peer: per_peer.max(1) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<B256, Offer>> {
        // The map holds no invariant a panicking writer could break half-way.
        self.live.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records (or renews) the offer for `job`, dropping expired ones first.
    pub(crate) fn insert(&self, job: B256, offer: Offer, now: u64) -> Result<(), Full> {
        let mut live = self.lock();
        live.retain(|_, o| o.expiry + SLACK >= now);
        if !live.contains_key(&job) {
            if live.len() >= self.cap {
                return Err(Full::Node(live.len()));
            }
            if let Some(peer) = offer.peer {
                let held = live.values().filter(|o| o.peer == Some(peer)).count();
                if held >= self.per_peer {
                    return Err(Full::Peer(held));
                }
            }
        }
        // Asking again (the requester re-asks when the provider set changes) renews the expiry only: the job data
        // cap and the asking peer stay those of the first request, so that nobody who learnt the job id can
        // shrink the cap under the requester's upload or move the entry to another peer's count.
        match live.get_mut(&job) {
            Some(existing) => existing.expiry = existing.expiry.max(offer.expiry),
            None => {
                live.insert(job, offer);
            }
        }
        Ok(())
    }

    /// The live offer for `job`, if any.
    pub(crate) fn get(&self, job: &B256, now: u64) -> Option<Offer> {
        self.lock().get(job).filter(|o| o.expiry + SLACK >= now).cloned()
    }

    /// Forgets the offer for `job` (it was assigned).
    pub(crate) fn remove(&self, job: &B256) {
        self.lock().remove(job);
    }

    /// Live offers now.
    pub(crate) fn len(&self, now: u64) -> usize {
        self.lock().values().filter(|o| o.expiry + SLACK >= now).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(expiry: u64, peer: u8) -> Offer {
        Offer { expiry, input_bytes: 1, peer: Some(IpAddr::from([10, 0, 0, peer])) }
    }

    #[test]
    fn the_table_is_capped_in_all_and_per_peer_and_expired_entries_make_room() {
        let offers = Offers::new(3, 2);
        assert_eq!(offers.insert(B256::repeat_byte(1), offer(100, 1), 0), Ok(()));
        assert_eq!(offers.insert(B256::repeat_byte(2), offer(100, 1), 0), Ok(()));
        assert_eq!(offers.insert(B256::repeat_byte(3), offer(100, 1), 0), Err(Full::Peer(2)));
        // Asking again for the same job renews it and takes no new room.
        assert_eq!(offers.insert(B256::repeat_byte(2), offer(200, 1), 0), Ok(()));
        assert_eq!(offers.insert(B256::repeat_byte(3), offer(100, 2), 0), Ok(()));
        assert_eq!(offers.insert(B256::repeat_byte(4), offer(100, 3), 0), Err(Full::Node(3)));
        assert_eq!(offers.len(0), 3);
        // Once job 1 and 3 expire (past the slack), there is room again.
        let later = 100 + SLACK + 1;
        assert_eq!(offers.get(&B256::repeat_byte(1), later), None);
        assert_eq!(offers.get(&B256::repeat_byte(2), later).map(|o| o.expiry), Some(200));
        assert_eq!(offers.insert(B256::repeat_byte(4), offer(300, 3), later), Ok(()));
        assert_eq!(offers.len(later), 2);
        offers.remove(&B256::repeat_byte(4));
        assert_eq!(offers.get(&B256::repeat_byte(4), later), None);
    }
}
