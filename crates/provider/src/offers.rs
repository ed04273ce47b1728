//! Offers this node has signed and not yet seen assigned: a bounded table in memory, with expiry.
//!
//! Anyone may ask for an offer, so asking must cost the node nothing durable: an offer is a signature the
//! requester may or may not use. Nothing is written to disk until the chain assigns the job (the watcher
//! then builds the task from the chain alone, so a restart that forgets the table loses nothing). The table
//! is capped in all and per peer, and an entry lives only until its offer expires.
//!
//! It also bounds the disk strangers can fill: uploads for offers (jobs that do not exist on chain yet) take
//! room from the node's offer-data budget as their bytes arrive, and what was uploaded for an offer that expired
//! unassigned still counts until gc has released it (one `gc_interval` after the expiry). Asking for an offer
//! reserves nothing, so honest requesters that declare the default `input_mib` and upload a few KiB do not
//! crowd each other out. A restart forgets those counts; gc releases the data at its first run.

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
    /// Bytes uploaded for it (0 until its data is in).
    pub(crate) uploaded: u64,
    /// Its inputs are all here and unpack within the job's limits (checked once, before the first signature).
    pub(crate) inputs_checked: bool,
}

impl Offer {
    fn is_live(&self, now: u64) -> bool {
        self.expiry + SLACK >= now
    }

    /// Bytes of disk its upload takes now: what was uploaded, until gc releases it after the offer expired.
    fn disk(&self, now: u64, linger: u64) -> u64 {
        if self.is_live(now) || self.expiry + SLACK + linger >= now { self.uploaded } else { 0 }
    }
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

/// The node's offer-data budget is spent: an upload past it is cut off (507).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "uploads for unassigned jobs already take {taken_mib} MiB, this node holds at most {budget_mib} MiB of them"
)]
pub(crate) struct NoRoom {
    /// Taken now, MiB (rounded up).
    pub(crate) taken_mib: u64,
    /// The budget, MiB.
    pub(crate) budget_mib: u64,
}

#[derive(Debug, Default)]
struct Table {
    offers: HashMap<B256, Offer>,
    /// Bytes of offer uploads in progress (admitted as they arrive).
    receiving: u64,
}

/// The table. One lock, never held across an await.
#[derive(Debug)]
pub(crate) struct Offers {
    live: Mutex<Table>,
    cap: usize,
    per_peer: usize,
    /// Most bytes uploaded for offers (in progress, done, or of expired offers gc has not released yet).
    data_budget: u64,
    /// Seconds uploaded data of an expired offer stays on disk: until the next gc run.
    linger: u64,
}

impl Offers {
    pub(crate) fn new(cap: usize, per_peer: usize, data_budget: u64, linger: u64) -> Self {
        Self {
            live: Mutex::new(Table::default()),
            cap: cap.max(1),
            per_peer: per_peer.max(1),
            data_budget,
            linger,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        // The table holds no invariant a panicking writer could break half-way.
        self.live.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records (or renews) the offer for `job`, dropping expired ones first.
    pub(crate) fn insert(&self, job: B256, offer: Offer, now: u64) -> Result<(), Full> {
        let mut table = self.lock();
        let linger = self.linger;
        let live = &mut table.offers;
        live.retain(|_, o| o.disk(now, linger) > 0 || o.is_live(now));
        if !live.get(&job).is_some_and(|o| o.is_live(now)) {
            let open = live.values().filter(|o| o.is_live(now)).count();
            if open >= self.cap {
                return Err(Full::Node(open));
            }
            if let Some(peer) = offer.peer {
                let held = live.values().filter(|o| o.is_live(now) && o.peer == Some(peer)).count();
                if held >= self.per_peer {
                    return Err(Full::Peer(held));
                }
            }
        }
        // Asking again (the requester re-asks when the provider set changes) renews the expiry only: the job data
        // cap and the asking peer stay those of the first request, so that nobody who learnt the job id can
        // shrink the cap under the requester's upload or move the entry to another peer's count.
        match live.get_mut(&job) {
            Some(existing) if existing.is_live(now) => existing.expiry = existing.expiry.max(offer.expiry),
            Some(expired) => {
                // A new offer for a job id whose old offer expired: its old upload still counts until gc.
                let uploaded = expired.uploaded;
                *expired = Offer { uploaded, ..offer };
            }
            None => {
                live.insert(job, offer);
            }
        }
        Ok(())
    }

    /// Takes `bytes` more of the offer-data budget for an upload in progress, or says it is spent.
    pub(crate) fn admit(&self, bytes: u64, now: u64) -> Result<(), NoRoom> {
        let mut table = self.lock();
        let on_disk: u64 = table.offers.values().map(|o| o.disk(now, self.linger)).sum();
        let taken = on_disk.saturating_add(table.receiving);
        if taken.saturating_add(bytes) > self.data_budget {
            return Err(NoRoom { taken_mib: taken.div_ceil(1 << 20), budget_mib: self.data_budget >> 20 });
        }
        table.receiving += bytes;
        Ok(())
    }

    /// An upload for `job` that [`Offers::admit`] took `received` bytes for has ended: those bytes are on disk
    /// (a cut-off upload's too) until gc releases them, counted against the offer even once it expired.
    pub(crate) fn received(&self, job: B256, received: u64, now: u64) {
        let mut table = self.lock();
        table.receiving = table.receiving.saturating_sub(received);
        let lingering = Offer {
            expiry: now.saturating_sub(SLACK + 1),
            input_bytes: 0,
            peer: None,
            uploaded: 0,
            inputs_checked: false,
        };
        let o = table.offers.entry(job).or_insert(lingering);
        o.uploaded = o.uploaded.saturating_add(received);
    }

    /// Records that `job`'s inputs passed the data check.
    pub(crate) fn inputs_checked(&self, job: &B256, now: u64) {
        if let Some(o) = self.lock().offers.get_mut(job).filter(|o| o.is_live(now)) {
            o.inputs_checked = true;
        }
    }

    /// The live offer for `job`, if any.
    pub(crate) fn get(&self, job: &B256, now: u64) -> Option<Offer> {
        self.lock().offers.get(job).filter(|o| o.is_live(now)).cloned()
    }

    /// Forgets the offer for `job` (it was assigned).
    pub(crate) fn remove(&self, job: &B256) {
        self.lock().offers.remove(job);
    }

    /// Live offers now.
    pub(crate) fn len(&self, now: u64) -> usize {
        self.lock().offers.values().filter(|o| o.is_live(now)).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(expiry: u64, peer: u8) -> Offer {
        Offer {
            expiry,
            input_bytes: 1,
            peer: Some(IpAddr::from([10, 0, 0, peer])),
            uploaded: 0,
            inputs_checked: false,
        }
    }

    #[test]
    fn uploads_take_the_offer_data_budget_as_they_arrive_and_count_until_gc() {
        const MIB: u64 = 1 << 20;
        let offers = Offers::new(100, 100, 1000 * MIB, 3600);
        // Asking reserves nothing: two offers declaring 600 MiB each are both taken.
        let big = |expiry, peer| Offer { input_bytes: 600 * MIB, ..offer(expiry, peer) };
        assert_eq!(offers.insert(B256::repeat_byte(1), big(100, 1), 0), Ok(()));
        assert_eq!(offers.insert(B256::repeat_byte(2), big(100, 2), 0), Ok(()));
        // Their uploads take room as bytes arrive: the second stops where the budget ends.
        assert_eq!(offers.admit(600 * MIB, 1), Ok(()));
        assert_eq!(offers.admit(399 * MIB, 1), Ok(()));
        assert_eq!(offers.admit(2 * MIB, 1), Err(NoRoom { taken_mib: 999, budget_mib: 1000 }));
        offers.received(B256::repeat_byte(1), 600 * MIB, 2);
        offers.received(B256::repeat_byte(2), 399 * MIB, 2);
        assert_eq!(offers.admit(2 * MIB, 3), Err(NoRoom { taken_mib: 999, budget_mib: 1000 }));
        // Assigned: the data is the task's now, outside the offer budget.
        offers.remove(&B256::repeat_byte(2));
        assert_eq!(offers.admit(2 * MIB, 3), Ok(()));
        offers.received(B256::repeat_byte(3), 2 * MIB, 3);
        // Job 1 expires unassigned: its 600 MiB stay on disk until gc's next pass, then the room is back.
        let expired = 100 + SLACK + 1;
        assert_eq!(offers.get(&B256::repeat_byte(1), expired), None);
        assert!(offers.admit(400 * MIB, expired).is_err());
        let collected = expired + 3600;
        assert_eq!(offers.insert(B256::repeat_byte(4), offer(collected + 100, 4), collected), Ok(()));
        assert_eq!(offers.admit(900 * MIB, collected), Ok(()));
    }

    #[test]
    fn the_table_is_capped_in_all_and_per_peer_and_expired_entries_make_room() {
        let offers = Offers::new(3, 2, u64::MAX, 0);
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
