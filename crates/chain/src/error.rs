//! Errors of the chain client.

use alloy::contract::Error as ContractError;

/// What can go wrong talking to the chain.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The RPC endpoint could not be reached or answered with an error. Usually retryable.
    #[error("RPC error: {0}")]
    Rpc(#[from] alloy::transports::TransportError),
    /// A contract call reverted; `reason` is the decoded custom error when the ABI knows it.
    #[error("{contract}.{call} reverted: {reason}")]
    Reverted {
        /// Contract name.
        contract: &'static str,
        /// Function name.
        call: &'static str,
        /// Decoded reason.
        reason: String,
    },
    /// A sent transaction had no receipt within the client's receipt timeout: the chain may still mine it, so
    /// check before sending again.
    #[error("transaction {tx} was not mined within {secs} s")]
    ReceiptTimeout {
        /// The transaction.
        tx: alloy::primitives::B256,
        /// The timeout.
        secs: u64,
    },
    /// A transaction was mined but failed.
    #[error("transaction {0} failed on chain")]
    TxFailed(alloy::primitives::B256),
    /// Waiting for a receipt failed.
    #[error("waiting for transaction: {0}")]
    Pending(#[from] alloy::providers::PendingTransactionError),
    /// Signing failed (bad key, keystore).
    #[error("signer: {0}")]
    Signer(#[from] alloy::signers::Error),
    /// A private key or keystore could not be read.
    #[error("key: {0}")]
    Key(#[from] alloy::signers::local::LocalSignerError),
    /// The deployment file could not be read or written.
    #[error("deployment file {path}: {source}")]
    DeploymentFile {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The deployment file is not valid JSON of the expected shape.
    #[error("deployment file {path} is malformed: {source}")]
    DeploymentFormat {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// The chain the client connected to is not the one the deployment was made on.
    #[error("deployment is for chain {expected}, but the RPC serves chain {actual}")]
    WrongChain {
        /// Chain id in the deployment file.
        expected: u64,
        /// Chain id the RPC reports.
        actual: u64,
    },
    /// No contract code at a deployment address (wrong chain, or not deployed).
    #[error("no contract code at {0}: is the protocol deployed on this chain?")]
    NotDeployed(alloy::primitives::Address),
    /// The CREATE2 factory is missing on this chain.
    #[error("the CREATE2 factory {0} is not deployed on this chain")]
    NoFactory(alloy::primitives::Address),
    /// Starting Anvil failed.
    #[error("starting anvil: {0}")]
    Anvil(String),
    /// An argument is out of range (e.g. an amount that does not fit the contract's integer width).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl Error {
    /// Whether retrying the same call later may succeed (network trouble rather than a revert).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Rpc(_) | Self::Pending(_))
    }

    /// Wraps a contract error, decoding the protocol's custom errors into their names and arguments.
    pub(crate) fn from_contract(contract: &'static str, call: &'static str, err: ContractError) -> Self {
        use crate::bindings::{JobMarket, NodeRegistry, OceanToken, Rewards};
        let reason = if let Some(e) = err.as_decoded_interface_error::<JobMarket::JobMarketErrors>() {
            format!("{e:?}")
        } else if let Some(e) = err.as_decoded_interface_error::<NodeRegistry::NodeRegistryErrors>() {
            format!("{e:?}")
        } else if let Some(e) = err.as_decoded_interface_error::<OceanToken::OceanTokenErrors>() {
            format!("{e:?}")
        } else if let Some(e) = err.as_decoded_interface_error::<Rewards::RewardsErrors>() {
            format!("{e:?}")
        } else {
            match err {
                ContractError::TransportError(t) => return Self::Rpc(t),
                ContractError::PendingTransactionError(p) => return Self::Pending(p),
                other => other.to_string(),
            }
        };
        Self::Reverted { contract, call, reason }
    }
}
