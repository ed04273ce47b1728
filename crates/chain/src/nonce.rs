//! Transaction nonces for one client's account.
//!
//! The client fixes each transaction's nonce itself (so that a stuck transaction can be replaced by one with the
//! same nonce and a higher fee, see `Client::send`). While some of its transactions are in flight it counts
//! locally, so concurrent sends get distinct nonces; when none is, it asks the node for the account's pending
//! count. That one extra call per idle send keeps the count right whatever happened in between: a send that
//! failed before reaching the chain (its nonce was never used), a chain that was reset or reverted (a devnet's
//! snapshot), another program sending from the same key.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use alloy::{
    network::Network,
    primitives::Address,
    providers::{Provider, fillers::NonceManager},
    transports::TransportResult,
};
use tokio::sync::Mutex;

/// The next nonce of the client's account (`None`: ask the node) and how many sends are in flight.
#[derive(Clone, Debug, Default)]
pub(crate) struct Nonces {
    next: Arc<Mutex<Option<u64>>>,
    in_flight: Arc<AtomicUsize>,
}

/// A nonce taken for one send; the send counts as in flight until this is dropped.
#[derive(Debug)]
pub(crate) struct Taken {
    pub(crate) nonce: u64,
    in_flight: Arc<AtomicUsize>,
}

impl Drop for Taken {
    fn drop(&mut self) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Nonces {
    /// Forgets the local count: the next transaction takes the node's pending count.
    pub(crate) async fn resync(&self) {
        *self.next.lock().await = None;
    }

    /// The nonce for the next transaction of `address`.
    pub(crate) async fn take<P: Provider<N>, N: Network>(
        &self,
        provider: &P,
        address: Address,
    ) -> TransportResult<Taken> {
        let mut next = self.next.lock().await;
        let nonce = match *next {
            Some(nonce) if self.in_flight.load(Ordering::SeqCst) > 0 => nonce,
            _ => provider.get_transaction_count(address).pending().await?,
        };
        *next = Some(nonce + 1);
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        Ok(Taken { nonce, in_flight: self.in_flight.clone() })
    }
}

/// For transactions sent through the provider without a nonce (the client sets its own, see [`Nonces::take`]).
#[async_trait::async_trait]
impl NonceManager for Nonces {
    async fn get_next_nonce<P, N>(&self, provider: &P, address: Address) -> TransportResult<u64>
    where
        P: Provider<N>,
        N: Network,
    {
        Ok(self.take(provider, address).await?.nonce)
    }
}
