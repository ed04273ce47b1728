//! Deterministic deployment of the whole protocol.
//!
//! Every contract is created by the canonical CREATE2 factory (`0x4e59…956C`, present on Anvil and on most EVM
//! chains) with a fixed salt. A contract's address depends only on the salt and its init code (bytecode and
//! constructor arguments), so the same deployer key and [`Params`] give the same addresses on every chain.
//! Deploying is idempotent: contracts already present are reused and wiring steps already done are skipped,
//! so a deployment interrupted half-way can simply be run again.
//!
//! Order: token (whole supply to the deployer) → registry → rewards → market → timelock → governor → the zk
//! inference verifier; then the wiring (registry and rewards learn the market; the market learns its proof
//! verifier while the deployer still owns it; timelock roles go to the governor; every parameter-owning
//! contract is handed to the timelock), and the token split (reward pool, treasury).

use std::path::{Path, PathBuf};

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, B256, Bytes, U256, address, keccak256},
    providers::{DynProvider, Provider},
    rpc::types::TransactionRequest,
};
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::{
    Error, Result,
    bindings::{
        JobMarket, NodeRegistry, OceanGovernor, OceanToken, Rewards, TimelockController, ZkInferenceVerifier,
    },
};

/// The canonical CREATE2 deployer (Arachnid's deterministic-deployment-proxy).
pub const CREATE2_FACTORY: Address = address!("0x4e59b44847b379578588920cA78FbF26c0B4956C");

/// Protocol parameters fixed at deployment (all but the supply can later be changed by governance).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Params {
    /// Receives protocol fees, slashed stake and its share of the supply.
    pub treasury: Address,
    /// Total OCAT supply in wei, minted once.
    pub supply: u128,
    /// OCAT (wei) moved to the Rewards pool.
    pub reward_pool: u128,
    /// OCAT (wei) moved to the treasury.
    pub treasury_share: u128,
    /// Minimum provider stake (wei).
    pub min_stake: u128,
    /// Seconds between unbond and withdraw; must exceed `max_job_duration + reveal_window`.
    pub unbonding_delay: u64,
    /// Protocol fee on provider payments, basis points.
    pub fee_bps: u16,
    /// Fraction of stake slashed for a wrong result, basis points.
    pub slash_bps: u16,
    /// Seconds after the commit deadline during which results can still be revealed.
    pub reveal_window: u64,
    /// Longest commit deadline a job may ask for, seconds from creation.
    pub max_job_duration: u64,
    /// Rewards epoch length, seconds.
    pub epoch_length: u64,
    /// OCAT (wei) emitted per epoch with work.
    pub emission_per_epoch: u128,
    /// Timelock delay, seconds.
    pub timelock_delay: u64,
    /// Governor voting delay, blocks.
    pub voting_delay: u64,
    /// Governor voting period, blocks.
    pub voting_period: u64,
    /// Governor quorum, percent of supply.
    pub quorum_percent: u64,
}

impl Params {
    /// Parameters for a local development network: short windows so that tests and demos finish quickly.
    pub fn devnet(treasury: Address) -> Self {
        const OCAT: u128 = 1_000_000_000_000_000_000;
        Self {
            treasury,
            supply: 1_000_000_000 * OCAT,
            reward_pool: 100_000_000 * OCAT,
            treasury_share: 100_000_000 * OCAT,
            min_stake: 100 * OCAT,
            unbonding_delay: 7 * 24 * 3600,
            fee_bps: 250,
            slash_bps: 1_000,
            reveal_window: 120,
            max_job_duration: 24 * 3600,
            epoch_length: 24 * 3600,
            emission_per_epoch: 10_000 * OCAT,
            timelock_delay: 3600,
            voting_delay: 1,
            voting_period: 50,
            quorum_percent: 4,
        }
    }
}

/// Where the protocol lives on one chain. Written as JSON by [`deploy`], read by every other component.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// Block at which the deployment started (event scans start here).
    pub start_block: u64,
    /// The account that deployed and wired the contracts.
    pub deployer: Address,
    /// Fee and slash recipient.
    pub treasury: Address,
    /// OceanToken (OCAT).
    pub token: Address,
    /// NodeRegistry.
    pub registry: Address,
    /// JobMarket.
    pub market: Address,
    /// Rewards.
    pub rewards: Address,
    /// TimelockController (owner of every parameter).
    pub timelock: Address,
    /// OceanGovernor.
    pub governor: Address,
    /// ZkInferenceVerifier: the market's `Mode.Proof` verifier (Groth16 proofs of ocean-zk's digits circuit).
    /// Absent from deployment files written before it existed.
    #[serde(default)]
    pub zk_verifier: Address,
}

impl Deployment {
    /// Reads a deployment JSON file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| Error::DeploymentFile { path: path.to_owned(), source })?;
        serde_json::from_str(&text)
            .map_err(|source| Error::DeploymentFormat { path: path.to_owned(), source })
    }

    /// Writes the deployment JSON atomically (temp file + rename), so a crash never leaves half a file.
    pub fn save(&self, path: &Path) -> Result<()> {
        let io = |source| Error::DeploymentFile { path: path.to_owned(), source };
        let text = serde_json::to_string_pretty(self)
            .map_err(|source| Error::DeploymentFormat { path: path.to_owned(), source })?;
        let tmp: PathBuf = path.with_extension("json.tmp");
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }
}

fn salt(name: &str) -> B256 {
    keccak256(format!("ocean-ai/v1/{name}"))
}

/// Deploys (or finds) every contract and wires them. `provider` must sign as the deployer.
pub async fn deploy(provider: &DynProvider, deployer: Address, params: &Params) -> Result<Deployment> {
    if provider.get_code_at(CREATE2_FACTORY).await?.is_empty() {
        return Err(Error::NoFactory(CREATE2_FACTORY));
    }
    let chain_id = provider.get_chain_id().await?;
    let start_block = provider.get_block_number().await?;
    let u96 = |v: u128| alloy::primitives::Uint::<96, 2>::saturating_from(v);
    let u40 = |v: u64| alloy::primitives::Uint::<40, 1>::saturating_from(v);
    let u48 = |v: u64| alloy::primitives::Uint::<48, 1>::saturating_from(v);

    let token_code = OceanToken::deploy_builder(provider, vec![deployer], vec![U256::from(params.supply)])
        .calldata()
        .clone();
    let token = create2(provider, "OceanToken", token_code).await?;

    let registry_code = NodeRegistry::deploy_builder(
        provider,
        token,
        deployer,
        u96(params.min_stake),
        u40(params.unbonding_delay),
    )
    .calldata()
    .clone();
    let registry = create2(provider, "NodeRegistry", registry_code).await?;

    let market_code = JobMarket::deploy_builder(
        provider,
        token,
        registry,
        deployer,
        params.treasury,
        params.fee_bps,
        params.slash_bps,
        u40(params.reveal_window),
        u40(params.max_job_duration),
        U256::from(params.epoch_length),
    )
    .calldata()
    .clone();
    let market = create2(provider, "JobMarket", market_code).await?;

    let rewards_code = Rewards::deploy_builder(provider, token, market, deployer, params.emission_per_epoch)
        .calldata()
        .clone();
    let rewards = create2(provider, "Rewards", rewards_code).await?;

    let timelock_code = TimelockController::deploy_builder(
        provider,
        U256::from(params.timelock_delay),
        vec![],
        vec![],
        deployer,
    )
    .calldata()
    .clone();
    let timelock = create2(provider, "TimelockController", timelock_code).await?;

    let governor_code = OceanGovernor::deploy_builder(
        provider,
        token,
        timelock,
        u48(params.voting_delay),
        params.voting_period as u32,
        U256::ZERO,
        U256::from(params.quorum_percent),
    )
    .calldata()
    .clone();
    let governor = create2(provider, "OceanGovernor", governor_code).await?;

    // No constructor arguments: the verifying key is compiled into the contract (ocean-zk generates it).
    let zk_verifier = create2(provider, "ZkInferenceVerifier", ZkInferenceVerifier::BYTECODE.clone()).await?;

    wire(provider, deployer, params, token, registry, rewards, market, timelock, governor, zk_verifier)
        .await?;

    Ok(Deployment {
        chain_id,
        start_block,
        deployer,
        treasury: params.treasury,
        token,
        registry,
        market,
        rewards,
        timelock,
        governor,
        zk_verifier,
    })
}

#[allow(clippy::too_many_arguments)]
async fn wire(
    provider: &DynProvider,
    deployer: Address,
    params: &Params,
    token: Address,
    registry: Address,
    rewards: Address,
    market: Address,
    timelock: Address,
    governor: Address,
    zk_verifier: Address,
) -> Result<()> {
    let reg = NodeRegistry::new(registry, provider);
    if reg.jobMarket().call().await.map_err(|e| Error::from_contract("NodeRegistry", "jobMarket", e))?
        == Address::ZERO
    {
        send(reg.setJobMarket(market), "NodeRegistry", "setJobMarket").await?;
    }
    let rew = Rewards::new(rewards, provider);

    let tok = OceanToken::new(token, provider);
    let pool = U256::from(params.reward_pool);
    if tok.balanceOf(rewards).call().await.map_err(|e| Error::from_contract("OceanToken", "balanceOf", e))?
        < pool
    {
        send(tok.transfer(rewards, pool), "OceanToken", "transfer").await?;
    }
    let share = U256::from(params.treasury_share);
    if params.treasury != deployer
        && tok
            .balanceOf(params.treasury)
            .call()
            .await
            .map_err(|e| Error::from_contract("OceanToken", "balanceOf", e))?
            < share
    {
        send(tok.transfer(params.treasury, share), "OceanToken", "transfer").await?;
    }

    let tl = TimelockController::new(timelock, provider);
    let admin_role =
        tl.DEFAULT_ADMIN_ROLE().call().await.map_err(|e| Error::from_contract("Timelock", "role", e))?;
    if tl
        .hasRole(admin_role, deployer)
        .call()
        .await
        .map_err(|e| Error::from_contract("Timelock", "hasRole", e))?
    {
        let proposer =
            tl.PROPOSER_ROLE().call().await.map_err(|e| Error::from_contract("Timelock", "role", e))?;
        let canceller =
            tl.CANCELLER_ROLE().call().await.map_err(|e| Error::from_contract("Timelock", "role", e))?;
        let executor =
            tl.EXECUTOR_ROLE().call().await.map_err(|e| Error::from_contract("Timelock", "role", e))?;
        send(tl.grantRole(proposer, governor), "Timelock", "grantRole").await?;
        send(tl.grantRole(canceller, governor), "Timelock", "grantRole").await?;
        // Anyone may execute a proposal once its delay has passed.
        send(tl.grantRole(executor, Address::ZERO), "Timelock", "grantRole").await?;
        send(tl.renounceRole(admin_role, deployer), "Timelock", "renounceRole").await?;
    }

    let mkt = JobMarket::new(market, provider);
    if mkt.owner().call().await.map_err(|e| Error::from_contract("JobMarket", "owner", e))? == deployer {
        // Set while the deployer still owns the market; later changes go through governance.
        if mkt
            .proofVerifier()
            .call()
            .await
            .map_err(|e| Error::from_contract("JobMarket", "proofVerifier", e))?
            != zk_verifier
        {
            send(mkt.setProofVerifier(zk_verifier), "JobMarket", "setProofVerifier").await?;
        }
        send(mkt.transferOwnership(timelock), "JobMarket", "transferOwnership").await?;
    }
    if reg.owner().call().await.map_err(|e| Error::from_contract("NodeRegistry", "owner", e))? == deployer {
        send(reg.transferOwnership(timelock), "NodeRegistry", "transferOwnership").await?;
    }
    if rew.owner().call().await.map_err(|e| Error::from_contract("Rewards", "owner", e))? == deployer {
        send(rew.transferOwnership(timelock), "Rewards", "transferOwnership").await?;
    }
    Ok(())
}

/// Creates `init_code` through the CREATE2 factory unless it is already there; returns its address.
async fn create2(provider: &DynProvider, name: &str, init_code: Bytes) -> Result<Address> {
    let salt = salt(name);
    let addr = CREATE2_FACTORY.create2_from_code(salt, &init_code);
    if !provider.get_code_at(addr).await?.is_empty() {
        info!(target: "ocean::chain", %name, %addr, "already deployed");
        return Ok(addr);
    }
    let mut data = salt.to_vec();
    data.extend_from_slice(&init_code);
    let tx = TransactionRequest::default().with_to(CREATE2_FACTORY).with_input(Bytes::from(data));
    let receipt = provider.send_transaction(tx).await?.get_receipt().await?;
    if !receipt.status() {
        return Err(Error::TxFailed(receipt.transaction_hash));
    }
    if provider.get_code_at(addr).await?.is_empty() {
        return Err(Error::NotDeployed(addr));
    }
    info!(target: "ocean::chain", %name, %addr, gas = receipt.gas_used, "deployed");
    Ok(addr)
}

/// Sends a contract call and waits for a successful receipt.
pub(crate) async fn send<P, D>(
    call: alloy::contract::CallBuilder<P, D>,
    contract: &'static str,
    name: &'static str,
) -> Result<alloy::rpc::types::TransactionReceipt>
where
    P: Provider,
    D: alloy::contract::CallDecoder,
{
    let pending = call.send().await.map_err(|e| Error::from_contract(contract, name, e))?;
    let receipt = pending.get_receipt().await?;
    if !receipt.status() {
        return Err(Error::TxFailed(receipt.transaction_hash));
    }
    Ok(receipt)
}
