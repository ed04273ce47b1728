//! A typed client for one account on one deployment.

use alloy::{
    network::EthereumWallet,
    primitives::{Address, B256, Bytes, U256, Uint},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::TransactionReceipt,
    signers::{SignerSync, local::PrivateKeySigner},
    sol_types::{Eip712Domain, SolStruct, eip712_domain},
};

use crate::{
    Deployment, Error, Result,
    bindings::{JobMarket, NodeRegistry, OceanToken},
    eip712,
    nonce::Nonces,
};

/// How a job's result is verified (JobMarket `Mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// One provider, result accepted as is.
    None = 0,
    /// r providers, a majority of matching commitments decides.
    Quorum = 1,
    /// One provider, paid when a verifier contract accepts its proof.
    Proof = 2,
}

impl Mode {
    fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::Quorum,
            2 => Self::Proof,
            _ => Self::None,
        }
    }
}

/// Where a job is in its life (JobMarket `State`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// No such job.
    Nonexistent,
    /// Every replica has a provider (a job is born so); commitments and reveal pending.
    Assigned,
    /// Settled: providers paid, dissenters slashed, no-shows bonded, remainder refunded.
    Finalized,
    /// Expired without a verdict: budget refunded.
    Failed,
    /// No verdict by the reveal deadline: arbiters drawn by the contract run it again (indexes `r..2r`).
    Arbitration,
}

impl State {
    fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::Assigned,
            2 => Self::Finalized,
            3 => Self::Failed,
            4 => Self::Arbitration,
            _ => Self::Nonexistent,
        }
    }

    /// Whether the job can no longer change.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Finalized | Self::Failed)
    }
}

/// What a requester asks for when creating a job.
#[derive(Clone, Debug)]
pub struct JobRequest {
    /// Chosen by the requester; with its address it determines the job id (see [`eip712::job_id`]).
    pub salt: B256,
    /// Binary CID of the job manifest.
    pub manifest_cid: Vec<u8>,
    /// The manifest is made after the offers (a private job seals its inputs to the providers that offered),
    /// so offers bind its limits (`limits_hash`) but not its CID.
    pub late_manifest: bool,
    /// Number of providers.
    pub replicas: u8,
    /// Matching results needed (a strict majority of `replicas`).
    pub quorum: u8,
    /// Verification mode.
    pub mode: Mode,
    /// Most a provider is paid (wei); the escrow is `replicas` times this.
    pub price_per_replica: u128,
    /// Unix time by which providers must commit.
    pub commit_deadline: u64,
    /// For [`Mode::Proof`]: what the verifier checks against (e.g. a model commitment).
    pub proof_spec: B256,
    /// [`eip712::limits_hash`] of the manifest's limits.
    pub limits_hash: B256,
    /// Unix time from which a provider that has not committed may be left out (0: never): a quorum that agrees
    /// settles without it, and the requester may hand its slot to another provider (`JobMarket.reassign`).
    pub rebalance_at: u64,
}

impl JobRequest {
    /// What `createJob` escrows: the replicas' budget, doubled for [`Mode::Quorum`] (the arbitration deposit,
    /// refunded with whatever is not paid).
    pub fn escrow(&self) -> u128 {
        let budget = self.price_per_replica.saturating_mul(u128::from(self.replicas));
        if self.mode == Mode::Quorum { budget.saturating_mul(2) } else { budget }
    }
}

/// A job as stored on chain.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct JobView {
    /// Who pays.
    pub requester: Address,
    /// Unix time by which providers must commit.
    pub commit_deadline: u64,
    /// Number of providers.
    pub replicas: u8,
    /// Matching results needed.
    pub quorum: u8,
    /// Current state.
    pub state: State,
    /// Most a provider is paid (wei).
    pub price_per_replica: u128,
    /// Unix time after which an unsettled job can be expired (or, in arbitration, fails).
    pub reveal_deadline: u64,
    /// How its result is verified.
    pub mode: Mode,
    /// Unix time from which it may be rebalanced (0: never; see [`JobRequest::rebalance_at`]).
    pub rebalance_at: u64,
}

impl JobView {
    /// Whether, at chain time `now`, a silent provider may be left out (the quorum settles without it, or its
    /// slot is handed on): from `rebalance_at` to the commit deadline of a job still in its first round.
    pub fn rebalancing(&self, now: u64) -> bool {
        self.state == State::Assigned
            && self.rebalance_at != 0
            && now >= self.rebalance_at
            && now <= self.commit_deadline
    }
}

/// A provider's assignment to a job, read from a `ProviderAssigned` event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Assigned {
    /// The job.
    pub job_id: B256,
    /// The provider.
    pub provider: Address,
    /// Its position in the job's assignment.
    pub index: u8,
    /// What it is paid if its result is accepted (wei).
    pub price: u128,
    /// Block of the event.
    pub block: u64,
}

impl Assigned {
    /// The on-chain form, as `reveal` takes it.
    pub fn to_assignment(&self) -> JobMarket::Assignment {
        JobMarket::Assignment { provider: self.provider, price: Uint::<96, 2>::saturating_from(self.price) }
    }
}

/// A live log subscription (see [`Client::watch_provider_events`]); the WebSocket closes when it is dropped.
pub struct EventWatch {
    _ws: DynProvider,
    subscription: alloy::pubsub::Subscription<alloy::rpc::types::Log>,
}

impl EventWatch {
    /// The block of the next event; `None` once the subscription has ended (the connection dropped).
    pub async fn next(&mut self) -> Option<u64> {
        loop {
            match self.subscription.recv().await {
                Ok(log) => return Some(log.block_number.unwrap_or_default()),
                // Events were dropped because the reader fell behind: the scan finds them anyway.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

impl std::fmt::Debug for EventWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventWatch")
    }
}

/// Nodes read per Multicall3 `aggregate` call: well under any endpoint's `eth_call` gas cap.
const MULTICALL_CHUNK: u64 = 256;

fn node_info(
    address: Address,
    info: NodeRegistry::Info,
    stake: NodeRegistry::stakesReturn,
    active: bool,
) -> NodeInfo {
    NodeInfo {
        address,
        endpoint: info.endpoint,
        cores: info.capabilities.cores,
        memory_mib: info.capabilities.memoryMiB,
        gpu_vram_mib: info.capabilities.gpuVramMiB,
        gpu_model: info.capabilities.gpuModel,
        benchmark_score: info.capabilities.benchmarkScore,
        encryption_key: info.encryptionKey,
        stake: stake.staked.to::<u128>(),
        unbonding: stake.unbonding.to::<u128>(),
        active,
    }
}

/// A registered provider, as the registry stores it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct NodeInfo {
    /// Its account.
    pub address: Address,
    /// Where its HTTP API is.
    pub endpoint: String,
    /// CPU cores.
    pub cores: u32,
    /// Memory, MiB.
    pub memory_mib: u32,
    /// GPU memory, MiB (0 for none).
    pub gpu_vram_mib: u32,
    /// GPU model ("" for none).
    pub gpu_model: String,
    /// Advertised benchmark score.
    pub benchmark_score: u64,
    /// X25519 key for encrypted inputs.
    pub encryption_key: B256,
    /// Active stake (wei).
    pub stake: u128,
    /// Stake being unbonded (wei).
    pub unbonding: u128,
    /// Whether it can be assigned work now.
    pub active: bool,
}

/// The part of a transaction receipt callers account for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// Transaction hash.
    pub tx: B256,
    /// Gas used, including the 21,000 intrinsic gas and calldata.
    pub gas_used: u64,
    /// Block it was mined in.
    pub block: u64,
}

impl From<&TransactionReceipt> for Receipt {
    fn from(r: &TransactionReceipt) -> Self {
        Self { tx: r.transaction_hash, gas_used: r.gas_used, block: r.block_number.unwrap_or_default() }
    }
}

mod permit {
    #![allow(missing_docs, unreachable_pub)]
    alloy::sol! {
        struct Permit { address owner; address spender; uint256 value; uint256 nonce; uint256 deadline; }
    }
}

/// How the client talks to its RPC endpoints: what public providers need (timeouts, rate limits, capped log
/// ranges). The defaults suit a public RPC and cost nothing on a local devnet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RpcOptions {
    /// How long one HTTP request may take before it counts as failed (and is retried, or handed to the next URL).
    pub request_timeout: std::time::Duration,
    /// Retries of a request the endpoint rate-limited (429), could not serve (503) or that timed out.
    pub retries: u32,
    /// The first backoff between retries, ms (it grows with the endpoint's hints and the request rate).
    pub backoff_ms: u64,
    /// Blocks per `eth_getLogs` call; halved, down to one block, while the endpoint answers that a range or
    /// its result is too large.
    pub log_chunk: u64,
    /// How long to wait for a sent transaction's receipt before giving up with [`Error::ReceiptTimeout`].
    pub receipt_timeout: std::time::Duration,
    /// How long a sent transaction may go unmined before it is replaced by one with the same nonce and fees at
    /// least 12.5 % higher (repeated until `receipt_timeout`).
    pub bump_after: std::time::Duration,
}

impl Default for RpcOptions {
    fn default() -> Self {
        Self {
            request_timeout: std::time::Duration::from_secs(30),
            retries: 8,
            backoff_ms: 250,
            log_chunk: 1_000,
            receipt_timeout: std::time::Duration::from_secs(300),
            bump_after: std::time::Duration::from_secs(60),
        }
    }
}

/// The block each job was created in, once the client has seen it (its own `createJob`, a `JobCreated` read):
/// the per-job reads scan from there instead of from the deployment block (every event of a job is at or after
/// its creation). Bounded; forgetting costs only a longer scan.
#[derive(Clone, Debug, Default)]
struct JobBlocks(std::sync::Arc<std::sync::Mutex<std::collections::HashMap<B256, u64>>>);

impl JobBlocks {
    const CAP: usize = 4096;

    fn note(&self, job_id: B256, block: u64) {
        let Ok(mut map) = self.0.lock() else { return };
        if map.len() >= Self::CAP && !map.contains_key(&job_id) {
            map.clear();
        }
        map.entry(job_id).or_insert(block);
    }

    fn get(&self, job_id: &B256) -> Option<u64> {
        self.0.lock().ok()?.get(job_id).copied()
    }
}

/// What the market's public history says about one provider on one job (`Client::verdicts`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Paid: its result was the finalized one.
    Paid,
    /// Slashed: it committed a result the majority outvoted.
    Slashed,
    /// It committed nothing in time and lost its no-show bond.
    NoShow,
}

/// One account's handle on the protocol.
#[derive(Clone, Debug)]
pub struct Client {
    provider: DynProvider,
    nonces: Nonces,
    /// Whether the chain has Multicall3 (reads of many nodes are then batched).
    multicall: bool,
    signer: PrivateKeySigner,
    deployment: Deployment,
    domain: Eip712Domain,
    options: RpcOptions,
    job_blocks: JobBlocks,
}

/// Whether an `eth_getLogs` error says the range or its result was too large. Public providers word it in
/// many ways ("query exceeds max block range 500", "block range is too wide", "query returned more than 10000
/// results", "Log response size exceeded"); their codes say less (Infura's -32005 also means "rate limited"), so
/// the message decides, and a rate limit is never taken for a range error.
fn is_log_range_error(err: &alloy::transports::TransportError) -> bool {
    let Some(resp) = err.as_error_resp() else { return false };
    let message = resp.message.to_lowercase();
    !message.contains("rate")
        && ["range", "more than", "results", "response size", "too large", "too wide"]
            .iter()
            .any(|w| message.contains(w))
}

/// What the client retries: rate limits (429) and unavailable servers (503), as alloy's policy does, and
/// requests that timed out; never an answer that a log range is too large (the scan halves its range instead).
#[derive(Clone, Debug, Default)]
struct PublicRpcPolicy(alloy::transports::layers::RateLimitRetryPolicy);

impl alloy::transports::layers::RetryPolicy for PublicRpcPolicy {
    fn should_retry(&self, error: &alloy::transports::TransportError) -> bool {
        !is_log_range_error(error)
            && (self.0.should_retry(error) || error.to_string().to_lowercase().contains("timed out"))
    }

    fn backoff_hint(&self, error: &alloy::transports::TransportError) -> Option<std::time::Duration> {
        self.0.backoff_hint(error)
    }
}

/// The HTTP transport of one endpoint, or a fallback over several, behind retries with backoff.
fn rpc_client(
    urls: &[alloy::transports::http::reqwest::Url],
    options: &RpcOptions,
) -> Result<alloy::rpc::client::RpcClient> {
    use alloy::transports::{
        http::Http,
        layers::{FallbackLayer, RetryBackoffLayer},
    };
    use tower::Layer as _;
    let http = alloy::transports::http::reqwest::Client::builder()
        .timeout(options.request_timeout)
        .build()
        .map_err(|e| Error::InvalidArgument(format!("HTTP client: {e}")))?;
    let is_local = urls.iter().all(|u| {
        u.host_str().is_some_and(|h| {
            h == "localhost" || h.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
        })
    });
    // Compute units per second: far above any devnet's and public tier's; the backoff hints do the pacing.
    let retry = RetryBackoffLayer::new_with_policy(
        options.retries,
        options.backoff_ms,
        100_000,
        PublicRpcPolicy::default(),
    );
    let transports: Vec<Http<alloy::transports::http::reqwest::Client>> =
        urls.iter().map(|u| Http::with_client(http.clone(), u.clone())).collect();
    Ok(match <[Http<alloy::transports::http::reqwest::Client>; 1]>::try_from(transports) {
        Ok([one]) => alloy::rpc::client::ClientBuilder::default().layer(retry).transport(one, is_local),
        Err(many) => {
            // Reads race the two best-ranked endpoints (the first answer wins, a dead one is passed over); a
            // transaction goes to one endpoint at a time, the next only when it failed.
            let active =
                std::num::NonZeroUsize::new(many.len().min(2)).unwrap_or(std::num::NonZeroUsize::MIN);
            let fallback = FallbackLayer::default()
                .with_active_transport_count(active)
                .with_sequential_methods(
                    [
                        "eth_sendRawTransaction",
                        "eth_sendTransaction",
                        "eth_sendRawTransactionSync",
                        "eth_sendTransactionSync",
                    ]
                    .into_iter()
                    .map(String::from)
                    .collect(),
                )
                .layer(many);
            alloy::rpc::client::ClientBuilder::default().layer(retry).transport(fallback, is_local)
        }
    })
}

fn u96(v: u128) -> Result<Uint<96, 2>> {
    Uint::<96, 2>::try_from(v).map_err(|_| Error::InvalidArgument(format!("{v} wei exceeds uint96")))
}

fn u40(v: u64) -> Result<Uint<40, 1>> {
    Uint::<40, 1>::try_from(v).map_err(|_| Error::InvalidArgument(format!("{v} exceeds uint40")))
}

impl Client {
    /// Connects to `rpc_url` (one URL, or several separated by commas: the next is used when one fails) as
    /// `signer` with the default [`RpcOptions`], and checks that `deployment` is live on that chain.
    pub async fn connect(rpc_url: &str, signer: PrivateKeySigner, deployment: Deployment) -> Result<Self> {
        Self::connect_with(rpc_url, signer, deployment, RpcOptions::default()).await
    }

    /// [`Client::connect`] with `options`.
    pub async fn connect_with(
        rpc_url: &str,
        signer: PrivateKeySigner,
        deployment: Deployment,
        options: RpcOptions,
    ) -> Result<Self> {
        let urls = rpc_url
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(|u| u.parse().map_err(|e| Error::InvalidArgument(format!("RPC URL `{u}`: {e}"))))
            .collect::<Result<Vec<alloy::transports::http::reqwest::Url>>>()?;
        if urls.is_empty() {
            return Err(Error::InvalidArgument("no RPC URL given".into()));
        }
        let nonces = Nonces::default();
        let provider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .with_gas_estimation()
            .with_nonce_management(nonces.clone())
            .fetch_chain_id()
            .wallet(EthereumWallet::from(signer.clone()))
            .connect_client(rpc_client(&urls, &options)?)
            .erased();
        if provider.client().is_local() {
            // A local chain (Anvil) mines on arrival: poll for receipts often instead of every 250 ms.
            provider.client().set_poll_interval(std::time::Duration::from_millis(10));
        }
        let actual = provider.get_chain_id().await?;
        if actual != deployment.chain_id {
            return Err(Error::WrongChain { expected: deployment.chain_id, actual });
        }
        if provider.get_code_at(deployment.market).await?.is_empty() {
            return Err(Error::NotDeployed(deployment.market));
        }
        let domain = eip712::domain(deployment.chain_id, deployment.market);
        // Multicall3 is at its canonical address on most public chains; `deploy` puts it on a local devnet.
        let multicall = !provider.get_code_at(alloy::providers::MULTICALL3_ADDRESS).await?.is_empty();
        Ok(Self {
            provider,
            nonces,
            signer,
            deployment,
            domain,
            options,
            job_blocks: JobBlocks::default(),
            multicall,
        })
    }

    /// This client's account.
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// The deployment this client talks to.
    pub fn deployment(&self) -> &Deployment {
        &self.deployment
    }

    /// The underlying provider (for event subscriptions and raw calls).
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// The JobMarket's EIP-712 domain.
    pub fn domain(&self) -> &Eip712Domain {
        &self.domain
    }

    /// Sends a call of this client's and waits for a successful receipt. A send that fails may have taken a
    /// nonce no transaction carries: the nonce count is then asked of the node again.
    async fn send<P: Provider, D: alloy::contract::CallDecoder>(
        &self,
        call: alloy::contract::CallBuilder<P, D>,
        contract: &'static str,
        name: &'static str,
    ) -> Result<TransactionReceipt> {
        let sent = self.send_replacing(call.into_transaction_request(), contract, name).await;
        if sent.is_err() {
            self.nonces.resync().await;
        }
        sent
    }

    /// Sends `tx` and follows it to its receipt, replacing it with the same nonce and a higher fee each time
    /// `bump_after` passes without one (a public mempool drops or starves an underpriced transaction), until
    /// `receipt_timeout`. The gas limit is estimated once, before a nonce is taken, so a call that would revert
    /// fails here with its decoded error and uses no nonce.
    async fn send_replacing(
        &self,
        mut tx: alloy::rpc::types::TransactionRequest,
        contract: &'static str,
        name: &'static str,
    ) -> Result<TransactionReceipt> {
        let reverted = |e| Error::from_contract(contract, name, alloy::contract::Error::TransportError(e));
        tx.from = Some(self.address());
        let gas = self.provider.estimate_gas(tx.clone()).await.map_err(reverted)?;
        // A fifth more than the estimate: a call's path may depend on the block it lands in (the arbiter draw
        // reads `prevrandao`, deadlines read the timestamp), and an unused limit costs nothing. A limit the caller
        // set (`expire` leaves room for every draw attempt) is kept when it is higher.
        tx.gas = Some(gas.saturating_add(gas / 5).max(tx.gas.unwrap_or(0)));
        let fees = self.provider.estimate_eip1559_fees().await?;
        let (mut max_fee, mut tip) = (fees.max_fee_per_gas, fees.max_priority_fee_per_gas);
        let taken = self.nonces.take(&self.provider, self.address()).await?;
        tx.nonce = Some(taken.nonce);
        let deadline = tokio::time::Instant::now() + self.options.receipt_timeout;
        let mut sent: Vec<B256> = Vec::new();
        loop {
            tx.max_fee_per_gas = Some(max_fee);
            tx.max_priority_fee_per_gas = Some(tip);
            match self.provider.send_transaction(tx.clone()).await {
                Ok(pending) => sent.push(*pending.tx_hash()),
                // A replacement refused ("nonce too low", "replacement underpriced", "already known"): an earlier
                // one was mined or is still pending; keep waiting for it.
                Err(e) if !sent.is_empty() => {
                    tracing::debug!(target: "ocean::chain", nonce = taken.nonce, "replacement not accepted: {e}");
                }
                Err(e) => return Err(reverted(e)),
            }
            let bump_at = (tokio::time::Instant::now() + self.options.bump_after).min(deadline);
            loop {
                for hash in &sent {
                    if let Some(receipt) = self.provider.get_transaction_receipt(*hash).await? {
                        if !receipt.status() {
                            return Err(Error::TxFailed(receipt.transaction_hash));
                        }
                        return Ok(receipt);
                    }
                }
                if tokio::time::Instant::now() >= bump_at {
                    break;
                }
                tokio::time::sleep(self.provider.client().poll_interval()).await;
            }
            if tokio::time::Instant::now() >= deadline {
                let tx = sent.first().copied().unwrap_or_default();
                return Err(Error::ReceiptTimeout { tx, secs: self.options.receipt_timeout.as_secs() });
            }
            // Nodes accept a replacement only with both fees at least 10 % higher; follow the market if it rose
            // further.
            let now = self.provider.estimate_eip1559_fees().await?;
            tip = (tip + tip / 8 + 1).max(now.max_priority_fee_per_gas);
            max_fee = (max_fee + max_fee / 8 + 1).max(now.max_fee_per_gas).max(tip);
            tracing::warn!(target: "ocean::chain", %contract, call = name, nonce = taken.nonce, max_fee, tip, "transaction not mined after {:?}: replacing it with a higher fee", self.options.bump_after);
        }
    }

    fn token(&self) -> OceanToken::OceanTokenInstance<&DynProvider> {
        OceanToken::new(self.deployment.token, &self.provider)
    }

    fn registry(&self) -> NodeRegistry::NodeRegistryInstance<&DynProvider> {
        NodeRegistry::new(self.deployment.registry, &self.provider)
    }

    fn market(&self) -> JobMarket::JobMarketInstance<&DynProvider> {
        JobMarket::new(self.deployment.market, &self.provider)
    }

    /// Timestamp of the latest block (deadlines are compared against chain time, not the local clock).
    pub async fn chain_time(&self) -> Result<u64> {
        let block = self
            .provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await?
            .ok_or_else(|| Error::InvalidArgument("the chain has no latest block".into()))?;
        Ok(block.header.timestamp)
    }

    /// OCAT balance of `who` (wei).
    pub async fn ocat_balance(&self, who: Address) -> Result<u128> {
        let v = self
            .token()
            .balanceOf(who)
            .call()
            .await
            .map_err(|e| Error::from_contract("OceanToken", "balanceOf", e))?;
        eip712::to_u128(v)
    }

    /// OCAT the JobMarket owes `who` (wei), withdrawable with [`Client::withdraw`].
    pub async fn owed(&self, who: Address) -> Result<u128> {
        let v =
            self.market().owed(who).call().await.map_err(|e| Error::from_contract("JobMarket", "owed", e))?;
        eip712::to_u128(v)
    }

    /// Sends `amount` OCAT (wei) to `to`.
    pub async fn transfer(&self, to: Address, amount: u128) -> Result<Receipt> {
        let r = self.send(self.token().transfer(to, U256::from(amount)), "OceanToken", "transfer").await?;
        Ok(Receipt::from(&r))
    }

    /// Registers this account as a provider with `stake` (approving the registry first if needed).
    pub async fn register_node(
        &self,
        stake: u128,
        capabilities: NodeRegistry::Capabilities,
        encryption_key: B256,
        endpoint: String,
    ) -> Result<Vec<Receipt>> {
        let mut receipts = Vec::new();
        let allowance = self
            .token()
            .allowance(self.address(), self.deployment.registry)
            .call()
            .await
            .map_err(|e| Error::from_contract("OceanToken", "allowance", e))?;
        if allowance < U256::from(stake) {
            let r = self
                .send(
                    self.token().approve(self.deployment.registry, U256::from(stake)),
                    "OceanToken",
                    "approve",
                )
                .await?;
            receipts.push(Receipt::from(&r));
        }
        let registry = self.registry();
        let call = registry.register(u96(stake)?, capabilities, encryption_key, endpoint);
        let r = self.send(call, "NodeRegistry", "register").await?;
        receipts.push(Receipt::from(&r));
        Ok(receipts)
    }

    /// The registry's minimum stake (wei).
    pub async fn min_stake(&self) -> Result<u128> {
        let v = self
            .registry()
            .minStake()
            .call()
            .await
            .map_err(|e| Error::from_contract("NodeRegistry", "minStake", e))?;
        Ok(v.to::<u128>())
    }

    /// Whether `node` is registered with at least the minimum stake.
    pub async fn is_active(&self, node: Address) -> Result<bool> {
        self.registry()
            .isActive(node)
            .call()
            .await
            .map_err(|e| Error::from_contract("NodeRegistry", "isActive", e))
    }

    /// The id a job with `salt` from this account will get on this deployment.
    pub fn job_id(&self, salt: B256) -> B256 {
        eip712::job_id(self.deployment.chain_id, self.deployment.market, self.address(), salt)
    }

    /// Signs an offer to run `job_id` for `price` wei until `expiry` on the terms hashed to `terms`
    /// ([`eip712::terms_hash`]), this account as provider.
    pub fn sign_offer(
        &self,
        job_id: B256,
        price: u128,
        expiry: u64,
        terms: B256,
    ) -> Result<JobMarket::Offer> {
        eip712::sign_offer(&self.signer, &self.domain, job_id, price, expiry, terms)
    }

    /// The provider API's EIP-712 domain (see [`eip712::api_domain`]).
    pub fn api_domain(&self) -> Eip712Domain {
        eip712::api_domain(self.deployment.chain_id, self.deployment.market)
    }

    /// Signs a read of a provider's `path` with `method` for `job_id`, as this account, now.
    pub fn sign_api_read(&self, method: &str, path: &str, job_id: B256) -> Result<eip712::ApiAuth> {
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        eip712::sign_api_read(&self.signer, &self.api_domain(), method, path, job_id, now)
    }

    /// Signs this provider's commitment to `result_cid` for `job_id` (it is at `index` in the assignment).
    pub fn sign_commit(&self, job_id: B256, index: u8, result_cid: &[u8]) -> Result<JobMarket::SignedCommit> {
        eip712::sign_commit(&self.signer, &self.domain, job_id, index, result_cid)
    }

    /// Creates a job and escrows its budget in one transaction: with the existing allowance when it covers the
    /// budget, otherwise with an EIP-2612 permit signed here.
    pub async fn create_job(
        &self,
        req: &JobRequest,
        offers: Vec<JobMarket::Offer>,
    ) -> Result<(B256, Receipt)> {
        let budget = U256::from(req.escrow());
        let request = JobMarket::JobRequest {
            salt: req.salt,
            manifestCid: Bytes::from(req.manifest_cid.clone()),
            lateManifest: req.late_manifest,
            replicas: req.replicas,
            quorum: req.quorum,
            mode: req.mode as u8,
            pricePerReplica: u96(req.price_per_replica)?,
            commitDeadline: u40(req.commit_deadline)?,
            proofSpec: req.proof_spec,
            limitsHash: req.limits_hash,
            rebalanceAt: u32::try_from(req.rebalance_at).map_err(|_| {
                Error::InvalidArgument(format!("rebalance time {} exceeds uint32", req.rebalance_at))
            })?,
        };
        let market = self.market();
        let allowance = self
            .token()
            .allowance(self.address(), self.deployment.market)
            .call()
            .await
            .map_err(|e| Error::from_contract("OceanToken", "allowance", e))?;
        let r = if allowance >= budget {
            self.send(market.createJob(request, offers), "JobMarket", "createJob").await?
        } else {
            let (deadline, v, r, s) = self.sign_permit(budget, U256::from(req.commit_deadline)).await?;
            self.send(
                market.createJobWithPermit(request, offers, deadline, v, r, s),
                "JobMarket",
                "createJobWithPermit",
            )
            .await?
        };
        let job_id = self.job_id(req.salt);
        if let Some(block) = r.block_number {
            self.job_blocks.note(job_id, block);
        }
        Ok((job_id, Receipt::from(&r)))
    }

    /// Approves the JobMarket to escrow up to `amount` (wei) for future jobs, so that each job then needs no
    /// permit signature (cheaper: no ECDSA recovery and no nonce or allowance write per job).
    pub async fn approve_market(&self, amount: U256) -> Result<Receipt> {
        let r =
            self.send(self.token().approve(self.deployment.market, amount), "OceanToken", "approve").await?;
        Ok(Receipt::from(&r))
    }

    async fn sign_permit(&self, value: U256, deadline: U256) -> Result<(U256, u8, B256, B256)> {
        let nonce = self
            .token()
            .nonces(self.address())
            .call()
            .await
            .map_err(|e| Error::from_contract("OceanToken", "nonces", e))?;
        let token_domain = eip712_domain! {
            name: "Ocean AI",
            version: "1",
            chain_id: self.deployment.chain_id,
            verifying_contract: self.deployment.token,
        };
        let digest =
            permit::Permit { owner: self.address(), spender: self.deployment.market, value, nonce, deadline }
                .eip712_signing_hash(&token_domain);
        let sig = self.signer.sign_hash_sync(&digest)?;
        Ok((deadline, 27 + u8::from(sig.v()), B256::from(sig.r()), B256::from(sig.s())))
    }

    /// Commits on chain to `result_cid` (the fallback when the requester does not settle in time).
    pub async fn commit(&self, job_id: B256, result_cid: &[u8]) -> Result<Receipt> {
        let c = eip712::commitment(result_cid, self.address());
        let r = self.send(self.market().commit(job_id, c), "JobMarket", "commit").await?;
        Ok(Receipt::from(&r))
    }

    /// Reveals `result_cid` with the providers' signed commitments; settles the job on quorum.
    pub async fn reveal(
        &self,
        job_id: B256,
        assignment: Vec<JobMarket::Assignment>,
        result_cid: &[u8],
        signed: Vec<JobMarket::SignedCommit>,
    ) -> Result<Receipt> {
        let market = self.market();
        let call = market.reveal(job_id, assignment, Bytes::copy_from_slice(result_cid), signed);
        let r = self.send(call, "JobMarket", "reveal").await?;
        Ok(Receipt::from(&r))
    }

    /// Settles a job in arbitration: `all` is its assignment followed by its arbiters (indexes `r..2r` of its
    /// `ProviderAssigned` events); needs `r + 1` matching commitments.
    pub async fn reveal_arbitration(
        &self,
        job_id: B256,
        all: Vec<JobMarket::Assignment>,
        result_cid: &[u8],
        signed: Vec<JobMarket::SignedCommit>,
    ) -> Result<Receipt> {
        // One `reveal` in the market for both rounds: in arbitration it takes the arbiters after the assignment.
        self.reveal(job_id, all, result_cid, signed).await
    }

    /// `Mode::Proof`: the assigned provider submits its result with a proof; paid when the market's verifier
    /// (for zk jobs, `ZkInferenceVerifier`) accepts it. Reverts with `InvalidProof` otherwise.
    pub async fn submit_proof(
        &self,
        job_id: B256,
        assignment: Vec<JobMarket::Assignment>,
        result: &[u8],
        proof: &[u8],
    ) -> Result<Receipt> {
        let market = self.market();
        let call = market.submitProof(
            job_id,
            assignment,
            Bytes::copy_from_slice(result),
            Bytes::copy_from_slice(proof),
        );
        let r = self.send(call, "JobMarket", "submitProof").await?;
        Ok(Receipt::from(&r))
    }

    /// Moves an overdue job on: no-shows lose their bond, then a disputed quorum job goes to arbitration and
    /// any other fails with a refund (an arbitration past its deadline fails). Reads the job's assignment
    /// from its events.
    pub async fn expire(&self, job_id: B256) -> Result<Receipt> {
        let view = self.job(job_id).await?;
        let assignment: Vec<JobMarket::Assignment> = self
            .assignment(job_id)
            .await?
            .iter()
            .filter(|a| a.index < view.replicas)
            .map(Assigned::to_assignment)
            .collect();
        let market = self.market();
        let call = market.expire(job_id, assignment);
        // Starting arbitration draws arbiters from the block's randomness, so the estimate (made on another
        // block) can fall short of what the mined transaction needs: leave room for every draw attempt.
        let estimate =
            call.estimate_gas().await.map_err(|e| Error::from_contract("JobMarket", "expire", e))?;
        let r = self.send(call.gas(estimate * 2 + 100_000), "JobMarket", "expire").await?;
        Ok(Receipt::from(&r))
    }

    /// Withdraws everything the JobMarket owes this account.
    pub async fn withdraw(&self) -> Result<Receipt> {
        let r = self.send(self.market().withdraw(), "JobMarket", "withdraw").await?;
        Ok(Receipt::from(&r))
    }

    /// Latest block number.
    pub async fn block_number(&self) -> Result<u64> {
        Ok(self.provider.get_block_number().await?)
    }

    /// The hash of block `number`, `None` when the chain has no such block (yet).
    pub async fn block_hash(&self, number: u64) -> Result<Option<B256>> {
        Ok(self.provider.get_block_by_number(number.into()).await?.map(|b| b.header.hash))
    }

    /// The market's `E` events matching `topics` (topic1, topic2; `None` = any) in blocks `from..=to`
    /// (`to = None`: latest), decoded, with their block numbers, in chain order. Scanned in chunks of
    /// [`RpcOptions::log_chunk`] blocks, halved while the endpoint says a range or its result is too large.
    async fn events<E: alloy::sol_types::SolEvent>(
        &self,
        topic1: Option<B256>,
        topic2: Option<B256>,
        from: u64,
        to: Option<u64>,
    ) -> Result<Vec<(E, u64)>> {
        let to = match to {
            Some(to) => to,
            None => self.block_number().await?,
        };
        let mut out = Vec::new();
        let mut chunk = self.options.log_chunk.max(1);
        let mut start = from;
        while start <= to {
            let end = start.saturating_add(chunk - 1).min(to);
            let mut filter = alloy::rpc::types::Filter::new()
                .address(self.deployment.market)
                .event_signature(E::SIGNATURE_HASH)
                .from_block(start)
                .to_block(end);
            if let Some(t) = topic1 {
                filter = filter.topic1(t);
            }
            if let Some(t) = topic2 {
                filter = filter.topic2(t);
            }
            let logs = match self.provider.get_logs(&filter).await {
                Ok(logs) => logs,
                Err(e) if chunk > 1 && is_log_range_error(&e) => {
                    chunk = (chunk / 2).max(1);
                    tracing::debug!(target: "ocean::chain", chunk, "the endpoint refused the log range: {e}");
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            out.extend(logs.iter().filter_map(|log| {
                Some((E::decode_log(&log.inner).ok()?.data, log.block_number.unwrap_or_default()))
            }));
            start = end.saturating_add(1);
            if end == u64::MAX {
                break;
            }
        }
        Ok(out)
    }

    /// Where the per-job reads of `job_id` start: the block the client saw it in, else the deployment's.
    fn job_from(&self, job_id: &B256) -> u64 {
        self.job_blocks.get(job_id).unwrap_or(self.deployment.start_block)
    }

    fn assigned((ev, block): (JobMarket::ProviderAssigned, u64)) -> Assigned {
        Assigned {
            job_id: ev.jobId,
            provider: ev.provider,
            index: ev.index,
            price: ev.price.to::<u128>(),
            block,
        }
    }

    /// Assignments in blocks `from..=to`, optionally only those of `provider`, in chain order.
    pub async fn assignments(&self, provider: Option<Address>, from: u64, to: u64) -> Result<Vec<Assigned>> {
        let events = self
            .events::<JobMarket::ProviderAssigned>(None, provider.map(|p| p.into_word()), from, Some(to))
            .await?;
        Ok(events.into_iter().map(Self::assigned).collect())
    }

    /// The full assignment of `job_id`, in index order (from its `ProviderAssigned` events; a slot handed on
    /// by `reassign` has a later event for the same index, which wins).
    pub async fn assignment(&self, job_id: B256) -> Result<Vec<Assigned>> {
        let events = self
            .events::<JobMarket::ProviderAssigned>(Some(job_id), None, self.job_from(&job_id), None)
            .await?;
        let mut slots = std::collections::BTreeMap::new();
        // Chain order: a later event for an index replaces the slot's earlier provider.
        for a in events.into_iter().map(Self::assigned) {
            slots.insert(a.index, a);
        }
        Ok(slots.into_values().collect())
    }

    /// Live `ProviderAssigned` events of `provider` from a WebSocket endpoint
    /// (`eth_subscribe("logs")`): a hint that there is something to scan, never the record. The scan reads the
    /// logs itself, with its cursor, confirmation depth and reorganization checks, so an event lost with a
    /// dropped connection costs only the delay until the next poll.
    pub async fn watch_provider_events(&self, ws_url: &str, provider: Address) -> Result<EventWatch> {
        use alloy::providers::WsConnect;
        let ws = ProviderBuilder::new().connect_ws(WsConnect::new(ws_url)).await?;
        let filter = alloy::rpc::types::Filter::new()
            .address(self.deployment.market)
            .event_signature(<JobMarket::ProviderAssigned as alloy::sol_types::SolEvent>::SIGNATURE_HASH)
            .topic2(provider.into_word());
        let subscription = ws.subscribe_logs(&filter).await?;
        Ok(EventWatch { _ws: ws.erased(), subscription })
    }

    /// Hands slot `index` of a job (whose assignment is `assignment` today) to the provider of `offer`, signed
    /// over [`eip712::reassign_terms`] of the new assignment. Only the requester, only while the job is
    /// [`JobView::rebalancing`], only for a slot without an on-chain commitment.
    pub async fn reassign(
        &self,
        job_id: B256,
        assignment: Vec<JobMarket::Assignment>,
        index: u8,
        offer: JobMarket::Offer,
    ) -> Result<Receipt> {
        let market = self.market();
        let call = market.reassign(job_id, assignment, index, offer);
        let r = self.send(call, "JobMarket", "reassign").await?;
        Ok(Receipt::from(&r))
    }

    /// The manifest CID (binary) a job was created with, from its `JobCreated` event.
    pub async fn manifest_cid(&self, job_id: B256) -> Result<Option<Vec<u8>>> {
        let events =
            self.events::<JobMarket::JobCreated>(Some(job_id), None, self.job_from(&job_id), None).await?;
        Ok(events.into_iter().next().map(|(ev, block)| {
            self.job_blocks.note(job_id, block);
            ev.manifestCid.to_vec()
        }))
    }

    /// Every provider verdict of the market in blocks `from..=to` (all requesters' jobs), in chain order within
    /// each kind: `(job id, provider, verdict, block)`.
    pub async fn verdicts(&self, from: u64, to: u64) -> Result<Vec<(B256, Address, Verdict, u64)>> {
        let mut out = Vec::new();
        for (ev, block) in self.events::<JobMarket::ProviderPaid>(None, None, from, Some(to)).await? {
            out.push((ev.jobId, ev.provider, Verdict::Paid, block));
        }
        for (ev, block) in self.events::<JobMarket::ProviderSlashed>(None, None, from, Some(to)).await? {
            out.push((ev.jobId, ev.provider, Verdict::Slashed, block));
        }
        for (ev, block) in self.events::<JobMarket::NoShowBondTaken>(None, None, from, Some(to)).await? {
            out.push((ev.jobId, ev.provider, Verdict::NoShow, block));
        }
        Ok(out)
    }

    /// Jobs created by `requester`, oldest first: `(job id, manifest CID, block)`.
    pub async fn jobs_of(&self, requester: Address) -> Result<Vec<(B256, Vec<u8>, u64)>> {
        let events = self
            .events::<JobMarket::JobCreated>(
                None,
                Some(requester.into_word()),
                self.deployment.start_block,
                None,
            )
            .await?;
        Ok(events.into_iter().map(|(ev, block)| (ev.jobId, ev.manifestCid.to_vec(), block)).collect())
    }

    /// How a finalized job treated `provider`: `(paid wei, slashed wei)` from its settlement events.
    pub async fn settlement(&self, job_id: B256, provider: Address) -> Result<(u128, u128)> {
        let (from, who) = (self.job_from(&job_id), Some(provider.into_word()));
        let mut paid = 0u128;
        for (ev, _) in self.events::<JobMarket::ProviderPaid>(Some(job_id), who, from, None).await? {
            paid += eip712::to_u128(ev.amount)?;
        }
        let mut slashed = 0u128;
        for (ev, _) in self.events::<JobMarket::ProviderSlashed>(Some(job_id), who, from, None).await? {
            slashed += eip712::to_u128(ev.amount)?;
        }
        Ok((paid, slashed))
    }

    /// The finalized result CID of a job (binary), from its `JobFinalized` event.
    pub async fn result_cid(&self, job_id: B256) -> Result<Option<Vec<u8>>> {
        let events =
            self.events::<JobMarket::JobFinalized>(Some(job_id), None, self.job_from(&job_id), None).await?;
        Ok(events.into_iter().next().map(|(ev, _)| ev.resultCid.to_vec()))
    }

    /// The commitment `provider` made on chain for `job_id` (zero if none).
    pub async fn onchain_commitment(&self, job_id: B256, provider: Address) -> Result<B256> {
        self.market()
            .commitments(job_id, provider)
            .call()
            .await
            .map_err(|e| Error::from_contract("JobMarket", "commitments", e))
    }

    /// Every registered provider with its advertised data and stake.
    pub async fn nodes(&self) -> Result<Vec<NodeInfo>> {
        let registry = self.registry();
        let map = |e| Error::from_contract("NodeRegistry", "read", e);
        let count = registry.nodeCount().call().await.map_err(map)?;
        let count = u64::try_from(count).map_err(|_| Error::InvalidArgument("node count".into()))?;
        if self.multicall && count > 0 {
            match self.nodes_batched(count).await {
                Ok(nodes) => return Ok(nodes),
                Err(e) => {
                    tracing::debug!(target: "ocean::chain", "Multicall3 read failed, reading node by node: {e}")
                }
            }
        }
        let mut out = Vec::new();
        for i in 0..count {
            let address = registry.nodes(U256::from(i)).call().await.map_err(map)?;
            let info = registry.info(address).call().await.map_err(map)?;
            let stake = registry.stakes(address).call().await.map_err(map)?;
            let active = registry.isActive(address).call().await.map_err(map)?;
            out.push(node_info(address, info, stake, active));
        }
        Ok(out)
    }

    /// [`Client::nodes`] through Multicall3's `aggregate`: the four reads of each node cost four calls per
    /// [`MULTICALL_CHUNK`] nodes instead of four per node.
    async fn nodes_batched(
        &self,
        count: u64,
    ) -> std::result::Result<Vec<NodeInfo>, alloy::providers::MulticallError> {
        let registry = self.registry();
        let mut out = Vec::new();
        let mut start = 0;
        while start < count {
            let end = start.saturating_add(MULTICALL_CHUNK).min(count);
            let mut addresses = self.provider.multicall().dynamic::<NodeRegistry::nodesCall>();
            for i in start..end {
                addresses = addresses.add_dynamic(registry.nodes(U256::from(i)));
            }
            let addresses = addresses.aggregate().await?;
            let mut infos = self.provider.multicall().dynamic::<NodeRegistry::infoCall>();
            let mut stakes = self.provider.multicall().dynamic::<NodeRegistry::stakesCall>();
            let mut active = self.provider.multicall().dynamic::<NodeRegistry::isActiveCall>();
            for a in &addresses {
                infos = infos.add_dynamic(registry.info(*a));
                stakes = stakes.add_dynamic(registry.stakes(*a));
                active = active.add_dynamic(registry.isActive(*a));
            }
            let (infos, stakes, active) =
                tokio::try_join!(infos.aggregate(), stakes.aggregate(), active.aggregate())?;
            for (((address, info), stake), active) in addresses.into_iter().zip(infos).zip(stakes).zip(active)
            {
                out.push(node_info(address, info, stake, active));
            }
            start = end;
        }
        Ok(out)
    }

    /// Starts unbonding `amount` of this node's stake.
    pub async fn unbond(&self, amount: u128) -> Result<Receipt> {
        let r = self.send(self.registry().unbond(u96(amount)?), "NodeRegistry", "unbond").await?;
        Ok(Receipt::from(&r))
    }

    /// Withdraws this node's unbonded stake once the delay has passed.
    pub async fn withdraw_stake(&self) -> Result<Receipt> {
        let r = self.send(self.registry().withdraw(), "NodeRegistry", "withdraw").await?;
        Ok(Receipt::from(&r))
    }

    /// ETH balance of `who` (wei), for gas.
    pub async fn eth_balance(&self, who: Address) -> Result<U256> {
        Ok(self.provider.get_balance(who).await?)
    }

    /// Reads a job.
    pub async fn job(&self, job_id: B256) -> Result<JobView> {
        let j = self
            .market()
            .jobOf(job_id)
            .call()
            .await
            .map_err(|e| Error::from_contract("JobMarket", "jobOf", e))?;
        Ok(JobView {
            requester: j.requester,
            commit_deadline: j.commitDeadline.to::<u64>(),
            replicas: j.replicas,
            quorum: j.quorum,
            state: State::from_u8(j.state),
            price_per_replica: j.pricePerReplica.to::<u128>(),
            reveal_deadline: j.revealDeadline.to::<u64>(),
            mode: Mode::from_u8(j.mode),
            rebalance_at: u64::from(j.rebalanceAt),
        })
    }

    /// What a proof-mode job's proof must be about (the verifier's `spec`); zero for other jobs.
    pub async fn proof_spec(&self, job_id: B256) -> Result<B256> {
        let t = self
            .market()
            .proofTerms(job_id)
            .call()
            .await
            .map_err(|e| Error::from_contract("JobMarket", "proofTerms", e))?;
        Ok(t.spec)
    }

    /// The limits hash a job was created with, from its `JobCreated` event (`None`: no such job).
    pub async fn limits_hash(&self, job_id: B256) -> Result<Option<B256>> {
        Ok(self.job_created(job_id).await?.map(|(_, limits)| limits))
    }

    /// The manifest CID (binary) and limits hash a job was created with, from its `JobCreated` event.
    pub async fn job_created(&self, job_id: B256) -> Result<Option<(Vec<u8>, B256)>> {
        let events =
            self.events::<JobMarket::JobCreated>(Some(job_id), None, self.job_from(&job_id), None).await?;
        Ok(events.into_iter().next().map(|(ev, block)| {
            self.job_blocks.note(job_id, block);
            (ev.manifestCid.to_vec(), ev.limitsHash)
        }))
    }
}

#[cfg(test)]
mod tests {
    use alloy::transports::layers::RetryPolicy as _;

    use super::*;

    fn answer(code: i64, message: &'static str) -> alloy::transports::TransportError {
        alloy::transports::TransportError::ErrorResp(alloy::rpc::json_rpc::ErrorPayload {
            code,
            message: message.into(),
            data: None,
        })
    }

    #[test]
    fn range_refusals_of_public_providers_are_told_from_rate_limits() {
        for (code, message) in [
            (-32005, "query exceeds max block range 500"),
            (-32602, "eth_getLogs block range is too wide"),
            (-32005, "query returned more than 10000 results. Try with this block range [0x1, 0x2]."),
            (
                -32000,
                "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range",
            ),
        ] {
            let e = answer(code, message);
            assert!(is_log_range_error(&e), "{message}");
            assert!(!PublicRpcPolicy::default().should_retry(&e), "halved, not retried: {message}");
        }
        for (code, message) in
            [(-32005, "daily request count exceeded, request rate limited"), (429, "Too Many Requests")]
        {
            let e = answer(code, message);
            assert!(!is_log_range_error(&e), "{message}");
            assert!(PublicRpcPolicy::default().should_retry(&e), "retried: {message}");
        }
        assert!(!PublicRpcPolicy::default().should_retry(&answer(3, "execution reverted")));
    }
}
