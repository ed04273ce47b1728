//! Transaction nonces for one client's account, resynchronized with the chain after a failed send.
//!
//! alloy's fillers run side by side: the nonce is taken while gas is estimated, so a call that reverts in
//! estimation (or any send the node refuses) has used a nonce that no transaction carries. alloy's own cached
//! manager never gives it back, and every later transaction of that client then waits behind the gap forever.
//! This manager counts locally like alloy's (so concurrent sends get distinct nonces) and forgets its count when
//! a send fails, so the next send asks the node for the pending count again and fills the gap.

use std::sync::Arc;

use alloy::{
    network::Network,
    primitives::Address,
    providers::{Provider, fillers::NonceManager},
    transports::TransportResult,
};
use tokio::sync::Mutex;

/// The next nonce of the client's account, or `None` when it must be asked of the node.
#[derive(Clone, Debug, Default)]
pub(crate) struct Nonces {
    next: Arc<Mutex<Option<u64>>>,
}

impl Nonces {
    /// Forgets the local count: the next transaction takes the node's pending count.
    pub(crate) async fn resync(&self) {
        *self.next.lock().await = None;
    }
}

#[async_trait::async_trait]
impl NonceManager for Nonces {
    async fn get_next_nonce<P, N>(&self, provider: &P, address: Address) -> TransportResult<u64>
    where
        P: Provider<N>,
        N: Network,
    {
        let mut next = self.next.lock().await;
        let nonce = match *next {
            Some(nonce) => nonce,
            None => provider.get_transaction_count(address).pending().await?,
        };
        *next = Some(nonce + 1);
        Ok(nonce)
    }
}
