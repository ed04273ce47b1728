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
        GovernorBounds, JobMarket, NodeRegistry, OceanGovernor, OceanTimelock, OceanToken, Rewards,
        ZkInferenceVerifier, ZkKeyVerifier,
    },
};

/// The canonical CREATE2 deployer (Arachnid's deterministic-deployment-proxy).
pub const CREATE2_FACTORY: Address = address!("0x4e59b44847b379578588920cA78FbF26c0B4956C");

/// Which governance and safety settings a deployment gets (`ocean deploy --profile`).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// A local development network: one-block voting delay, no proposal threshold, 60-second floors on every
    /// window, so tests and demos finish in seconds. Never for a chain holding real value.
    #[default]
    Devnet,
    /// A public chain: a day of voting delay, three days of voting, a proposal threshold, a guardian that can
    /// cancel queued proposals, a two-day timelock and reveal/arbitration windows with floors of hours.
    Production,
}

/// Immutable bounds of every governable parameter, written into the contracts' constructors: governance can
/// move a parameter only inside them (docs/protocol.md, "Governable parameters").
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Bounds {
    /// JobMarket `feeBps` ≤ this.
    pub max_fee_bps: u16,
    /// JobMarket `slashBps` within `[min, max]`.
    pub slash_bps: (u16, u16),
    /// JobMarket `noShowBps` ≤ this.
    pub max_no_show_bps: u16,
    /// JobMarket `revealWindow` within `[min, max]`, seconds.
    pub reveal_window: (u64, u64),
    /// JobMarket `maxJobDuration` within `[min, max]`, seconds.
    pub max_job_duration: (u64, u64),
    /// JobMarket `arbitrationWindow` within `[min, max]`, seconds.
    pub arbitration_window: (u64, u64),
    /// JobMarket `minRewardFee` ≤ this, wei.
    pub max_min_reward_fee: u128,
    /// NodeRegistry `minStake` within `[min, max]`, wei.
    pub min_stake: (u128, u128),
    /// NodeRegistry `unbondingDelay` ≤ this, seconds.
    pub max_unbonding_delay: u64,
    /// Rewards `emissionPerEpoch` ≤ this, wei.
    pub max_emission_per_epoch: u128,
    /// Rewards `feeFactorBps` ≤ this (always < 10,000: self-dealing must lose money).
    pub max_fee_factor_bps: u16,
    /// Timelock delay within `[min, max]`, seconds.
    pub timelock_delay: (u64, u64),
    /// Governor voting delay within `[min, max]`, blocks.
    pub voting_delay: (u64, u64),
    /// Governor voting period within `[min, max]`, blocks.
    pub voting_period: (u64, u64),
    /// Governor proposal threshold within `[min, max]`, wei of votes.
    pub proposal_threshold: (u128, u128),
    /// Governor quorum within `[min, max]`, percent of supply.
    pub quorum_percent: (u64, u64),
}

const OCAT: u128 = 1_000_000_000_000_000_000;
const HOUR: u64 = 3600;
const DAY: u64 = 24 * HOUR;

impl Bounds {
    /// The bounds of `profile`.
    pub fn of(profile: Profile) -> Self {
        match profile {
            Profile::Devnet => Self {
                max_fee_bps: 1_000,
                slash_bps: (100, 10_000),
                max_no_show_bps: 2_000,
                reveal_window: (60, 7 * DAY),
                max_job_duration: (60, 30 * DAY),
                arbitration_window: (60, 7 * DAY),
                max_min_reward_fee: 1_000 * OCAT,
                min_stake: (OCAT, 1_000_000 * OCAT),
                max_unbonding_delay: 365 * DAY,
                max_emission_per_epoch: 1_000_000 * OCAT,
                max_fee_factor_bps: 9_000,
                timelock_delay: (60, 30 * DAY),
                voting_delay: (1, 50_400),
                voting_period: (10, 201_600),
                proposal_threshold: (0, 10_000_000 * OCAT),
                quorum_percent: (1, 50),
            },
            Profile::Production => Self {
                max_fee_bps: 1_000,
                slash_bps: (500, 5_000),
                max_no_show_bps: 1_000,
                reveal_window: (6 * HOUR, 7 * DAY),
                max_job_duration: (10 * 60, 30 * DAY),
                arbitration_window: (6 * HOUR, 7 * DAY),
                max_min_reward_fee: 1_000 * OCAT,
                min_stake: (100 * OCAT, 1_000_000 * OCAT),
                max_unbonding_delay: 365 * DAY,
                max_emission_per_epoch: 100_000 * OCAT,
                max_fee_factor_bps: 9_000,
                timelock_delay: (2 * DAY, 30 * DAY),
                // Blocks of 12 s: one day to one week of delay, three days to four weeks of voting.
                voting_delay: (7_200, 50_400),
                voting_period: (21_600, 201_600),
                proposal_threshold: (10_000 * OCAT, 10_000_000 * OCAT),
                quorum_percent: (4, 30),
            },
        }
    }
}

/// Protocol parameters fixed at deployment (all but the supply and the bounds can later be changed by
/// governance, inside the bounds).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Params {
    /// Which profile these come from; decides the [`Bounds`].
    #[serde(default)]
    pub profile: Profile,
    /// Receives protocol fees, slashed stake and its share of the supply.
    pub treasury: Address,
    /// May cancel a queued governance proposal during the timelock delay (required by the production profile).
    #[serde(default)]
    pub guardian: Option<Address>,
    /// Total OCAT supply in wei, minted once.
    pub supply: u128,
    /// OCAT (wei) moved to the Rewards pool.
    pub reward_pool: u128,
    /// OCAT (wei) moved to the treasury.
    pub treasury_share: u128,
    /// Minimum provider stake (wei).
    pub min_stake: u128,
    /// Seconds between unbond and withdraw; must exceed the longest job life
    /// (`max_job_duration + 2 × reveal_window + arbitration_window`).
    pub unbonding_delay: u64,
    /// Protocol fee on provider payments, basis points.
    pub fee_bps: u16,
    /// Fraction of stake slashed for a wrong result, basis points.
    pub slash_bps: u16,
    /// Fraction of stake a provider loses when it takes a slot and never commits, basis points.
    pub no_show_bps: u16,
    /// Seconds after the commit deadline during which results can still be revealed.
    pub reveal_window: u64,
    /// Longest commit deadline a job may ask for, seconds from creation.
    pub max_job_duration: u64,
    /// Seconds arbiters get to run a disputed job and commit.
    pub arbitration_window: u64,
    /// Least fee (wei) a payment must carry to earn reward units.
    pub min_reward_fee: u128,
    /// Rewards epoch length, seconds.
    pub epoch_length: u64,
    /// OCAT (wei) emitted per epoch with work, at most.
    pub emission_per_epoch: u128,
    /// An epoch emits at most this fraction (basis points) of the fees its work paid.
    pub fee_factor_bps: u16,
    /// Timelock delay, seconds.
    pub timelock_delay: u64,
    /// Governor voting delay, blocks.
    pub voting_delay: u64,
    /// Governor voting period, blocks.
    pub voting_period: u64,
    /// Votes (wei of OCAT) needed to make a proposal.
    pub proposal_threshold: u128,
    /// Governor quorum, percent of supply.
    pub quorum_percent: u64,
}

impl Params {
    /// Parameters for a local development network: short windows so that tests and demos finish quickly.
    pub fn devnet(treasury: Address) -> Self {
        Self {
            profile: Profile::Devnet,
            treasury,
            guardian: None,
            supply: 1_000_000_000 * OCAT,
            reward_pool: 100_000_000 * OCAT,
            treasury_share: 100_000_000 * OCAT,
            min_stake: 100 * OCAT,
            unbonding_delay: 7 * DAY,
            fee_bps: 250,
            slash_bps: 1_000,
            no_show_bps: 500,
            reveal_window: 120,
            max_job_duration: DAY,
            arbitration_window: 300,
            min_reward_fee: 0,
            epoch_length: DAY,
            emission_per_epoch: 10_000 * OCAT,
            fee_factor_bps: 5_000,
            timelock_delay: HOUR,
            voting_delay: 1,
            voting_period: 50,
            proposal_threshold: 0,
            quorum_percent: 4,
        }
    }

    /// Parameters for a public chain: hours-long windows, a real voting delay and period, a proposal threshold
    /// and a guardian.
    pub fn production(treasury: Address, guardian: Address) -> Self {
        Self {
            profile: Profile::Production,
            guardian: Some(guardian),
            unbonding_delay: 14 * DAY,
            no_show_bps: 500,
            reveal_window: 12 * HOUR,
            max_job_duration: 3 * DAY,
            arbitration_window: 12 * HOUR,
            min_reward_fee: OCAT / 100,
            timelock_delay: 2 * DAY,
            voting_delay: 7_200,
            voting_period: 21_600,
            proposal_threshold: 100_000 * OCAT,
            ..Self::devnet(treasury)
        }
    }

    /// The bounds this deployment's contracts enforce.
    pub fn bounds(&self) -> Bounds {
        Bounds::of(self.profile)
    }

    /// Checks what the contracts would refuse, with a readable message instead of a revert.
    pub fn check(&self) -> Result<()> {
        let b = self.bounds();
        let profile = self.profile;
        let within = |name: &str, v: u128, lo: u128, hi: u128| {
            if v < lo || v > hi {
                return Err(Error::InvalidArgument(format!(
                    "{name} = {v} is outside the {profile:?} profile's bounds [{lo}, {hi}]"
                )));
            }
            Ok(())
        };
        macro_rules! within {
            ($name:literal, $v:expr, $lo:expr, $hi:expr) => {
                within($name, u128::from($v), u128::from($lo), u128::from($hi))?
            };
        }
        within!("fee_bps", self.fee_bps, 0u8, b.max_fee_bps);
        within!("slash_bps", self.slash_bps, b.slash_bps.0, b.slash_bps.1);
        within!("no_show_bps", self.no_show_bps, 0u8, b.max_no_show_bps);
        within!("reveal_window", self.reveal_window, b.reveal_window.0, b.reveal_window.1);
        within!("max_job_duration", self.max_job_duration, b.max_job_duration.0, b.max_job_duration.1);
        within!(
            "arbitration_window",
            self.arbitration_window,
            b.arbitration_window.0,
            b.arbitration_window.1
        );
        within!("min_reward_fee", self.min_reward_fee, 0u8, b.max_min_reward_fee);
        within!("min_stake", self.min_stake, b.min_stake.0, b.min_stake.1);
        within!("unbonding_delay", self.unbonding_delay, 0u8, b.max_unbonding_delay);
        within!("emission_per_epoch", self.emission_per_epoch, 0u8, b.max_emission_per_epoch);
        within!("fee_factor_bps", self.fee_factor_bps, 0u8, b.max_fee_factor_bps);
        within!("timelock_delay", self.timelock_delay, b.timelock_delay.0, b.timelock_delay.1);
        within!("voting_delay", self.voting_delay, b.voting_delay.0, b.voting_delay.1);
        within!("voting_period", self.voting_period, b.voting_period.0, b.voting_period.1);
        within!(
            "proposal_threshold",
            self.proposal_threshold,
            b.proposal_threshold.0,
            b.proposal_threshold.1
        );
        within!("quorum_percent", self.quorum_percent, b.quorum_percent.0, b.quorum_percent.1);
        let life = self.max_job_duration + 2 * self.reveal_window + self.arbitration_window;
        if self.unbonding_delay <= life {
            return Err(Error::InvalidArgument(format!(
                "unbonding_delay ({}) must exceed the longest job life ({life} s)",
                self.unbonding_delay
            )));
        }
        if self.profile == Profile::Production && self.guardian.is_none() {
            return Err(Error::InvalidArgument(
                "the production profile needs a guardian (an address that can cancel queued proposals)"
                    .into(),
            ));
        }
        Ok(())
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
    /// OceanTimelock (owner of every parameter).
    pub timelock: Address,
    /// OceanGovernor.
    pub governor: Address,
    /// ZkInferenceVerifier: the market's `Mode.Proof` verifier (Groth16 proofs of ocean-zk's digits circuit).
    /// Zero where zk jobs are off: anywhere but a local devnet, since its key is the public development key.
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
    deploy_with_zk_key(provider, deployer, params, None).await
}

/// [`deploy`], with the market's zk proof verifier made from `zk_key`: the 22 words of a Groth16 verifying key
/// (`ocean_zk::Params::evm_key_words`, from a key ceremony) given to `ZkKeyVerifier`'s constructor, on any
/// chain. Without one, only a local devnet gets the development verifier (see [`is_local_devnet`]). Refusing the
/// public development key away from a devnet is the caller's job (the CLI knows it; this crate does not).
pub async fn deploy_with_zk_key(
    provider: &DynProvider,
    deployer: Address,
    params: &Params,
    zk_key: Option<&[B256]>,
) -> Result<Deployment> {
    if provider.get_code_at(CREATE2_FACTORY).await?.is_empty() {
        return Err(Error::NoFactory(CREATE2_FACTORY));
    }
    params.check()?;
    let b = params.bounds();
    let chain_id = provider.get_chain_id().await?;
    let start_block = provider.get_block_number().await?;
    let u96 = |v: u128| alloy::primitives::Uint::<96, 2>::saturating_from(v);
    let u40 = |v: u64| alloy::primitives::Uint::<40, 1>::saturating_from(v);
    let u48 = |v: u64| alloy::primitives::Uint::<48, 1>::saturating_from(v);
    let u80 = |v: u128| alloy::primitives::Uint::<80, 2>::saturating_from(v);

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
        [u96(b.min_stake.0), u96(b.min_stake.1)],
        u40(b.max_unbonding_delay),
    )
    .calldata()
    .clone();
    let registry = create2(provider, "NodeRegistry", registry_code).await?;

    let market_code = JobMarket::deploy_builder(
        provider,
        token,
        registry,
        deployer,
        JobMarket::Params {
            treasury: params.treasury,
            feeBps: params.fee_bps,
            slashBps: params.slash_bps,
            noShowBps: params.no_show_bps,
            revealWindow: u40(params.reveal_window),
            maxJobDuration: u40(params.max_job_duration),
            arbitrationWindow: u40(params.arbitration_window),
            minRewardFee: u80(params.min_reward_fee),
            epochLength: U256::from(params.epoch_length),
        },
        JobMarket::Bounds {
            maxFeeBps: b.max_fee_bps,
            minSlashBps: b.slash_bps.0,
            maxSlashBps: b.slash_bps.1,
            maxNoShowBps: b.max_no_show_bps,
            minRevealWindow: u40(b.reveal_window.0),
            maxRevealWindow: u40(b.reveal_window.1),
            minJobDuration: u40(b.max_job_duration.0),
            maxJobDuration: u40(b.max_job_duration.1),
            minArbitrationWindow: u40(b.arbitration_window.0),
            maxArbitrationWindow: u40(b.arbitration_window.1),
            maxMinRewardFee: u80(b.max_min_reward_fee),
        },
    )
    .calldata()
    .clone();
    let market = create2(provider, "JobMarket", market_code).await?;

    let rewards_code = Rewards::deploy_builder(
        provider,
        token,
        market,
        deployer,
        params.emission_per_epoch,
        params.fee_factor_bps,
        b.max_emission_per_epoch,
        b.max_fee_factor_bps,
    )
    .calldata()
    .clone();
    let rewards = create2(provider, "Rewards", rewards_code).await?;

    let timelock_code = OceanTimelock::deploy_builder(
        provider,
        U256::from(params.timelock_delay),
        vec![],
        vec![],
        deployer,
        U256::from(b.timelock_delay.0),
        U256::from(b.timelock_delay.1),
    )
    .calldata()
    .clone();
    let timelock = create2(provider, "OceanTimelock", timelock_code).await?;

    let governor_code = OceanGovernor::deploy_builder(
        provider,
        token,
        timelock,
        u48(params.voting_delay),
        u32::try_from(params.voting_period).unwrap_or(u32::MAX),
        U256::from(params.proposal_threshold),
        U256::from(params.quorum_percent),
        GovernorBounds::Bounds {
            minVotingDelay: u48(b.voting_delay.0),
            maxVotingDelay: u48(b.voting_delay.1),
            minVotingPeriod: u32::try_from(b.voting_period.0).unwrap_or(u32::MAX),
            maxVotingPeriod: u32::try_from(b.voting_period.1).unwrap_or(u32::MAX),
            minProposalThreshold: U256::from(b.proposal_threshold.0),
            maxProposalThreshold: U256::from(b.proposal_threshold.1),
            minQuorumPercent: U256::from(b.quorum_percent.0),
            maxQuorumPercent: U256::from(b.quorum_percent.1),
        },
    )
    .calldata()
    .clone();
    let governor = create2(provider, "OceanGovernor", governor_code).await?;

    // The only verifying key there is comes from ocean-zk's public development parameters (a fixed seed):
    // whoever re-runs that setup knows its trapdoor and can prove any output. It is installed on a local
    // devnet only; anywhere else zk (Mode.Proof) jobs stay off (the market refuses them, `NoVerifier`) until a
    // key from a multi-party ceremony exists.
    let zk_verifier = if let Some(key) = zk_key {
        let words: [U256; 22] =
            key.iter()
                .map(|w| U256::from_be_bytes(w.0))
                .collect::<Vec<_>>()
                .try_into()
                .map_err(|_| Error::InvalidArgument("a zk verifying key is 22 words".into()))?;
        let code = ZkKeyVerifier::deploy_builder(provider, words).calldata().clone();
        create2(provider, "ZkKeyVerifier", code).await?
    } else if is_local_devnet(provider, chain_id, params.profile) {
        // No constructor arguments: the development key is compiled into the contract.
        create2(provider, "ZkInferenceVerifier", ZkInferenceVerifier::BYTECODE.clone()).await?
    } else {
        tracing::warn!(
            target: "ocean::chain",
            chain_id,
            "zk jobs are disabled on this deployment: the development verifying key is public (anyone can forge \
             proofs with it) and is installed on a local devnet only"
        );
        Address::ZERO
    };

    wire(provider, deployer, params, token, registry, rewards, market, timelock, governor, zk_verifier)
        .await?;
    if is_local_devnet(provider, chain_id, params.profile) {
        ensure_multicall3(provider).await?;
    }

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

    let tl = OceanTimelock::new(timelock, provider);
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
        if let Some(guardian) = params.guardian {
            // The guardian can stop a queued proposal during the delay, never make or execute one.
            send(tl.grantRole(canceller, guardian), "Timelock", "grantRole").await?;
        }
        // Anyone may execute a proposal once its delay has passed.
        send(tl.grantRole(executor, Address::ZERO), "Timelock", "grantRole").await?;
        send(tl.renounceRole(admin_role, deployer), "Timelock", "renounceRole").await?;
    }

    let mkt = JobMarket::new(market, provider);
    if mkt.owner().call().await.map_err(|e| Error::from_contract("JobMarket", "owner", e))? == deployer {
        // Set while the deployer still owns the market; later changes go through governance.
        if zk_verifier != Address::ZERO
            && mkt
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

/// Whether `provider` is a local development chain that may carry the public development zk key: the devnet
/// profile, Anvil's chain id (31337) and an RPC on this machine. Anything else may hold value.
pub fn is_local_devnet(provider: &DynProvider, chain_id: u64, profile: Profile) -> bool {
    profile == Profile::Devnet && chain_id == ANVIL_CHAIN_ID && provider.client().is_local()
}

/// Puts Multicall3 at its canonical address on a local devnet that lacks it, as public chains have it there:
/// deploys its published creation code (the one alloy ships) with a plain transaction and copies the runtime
/// code to the canonical address with Anvil's `anvil_setCode`. Clients batch their registry reads through it.
async fn ensure_multicall3(provider: &DynProvider) -> Result<()> {
    use alloy::{network::TransactionBuilder as _, providers::MULTICALL3_ADDRESS};
    if !provider.get_code_at(MULTICALL3_ADDRESS).await?.is_empty() {
        return Ok(());
    }
    let tx = alloy::rpc::types::TransactionRequest::default()
        .with_deploy_code(alloy::providers::bindings::IMulticall3::BYTECODE.clone());
    let receipt = provider.send_transaction(tx).await?.get_receipt().await?;
    let deployed = receipt.contract_address.ok_or(Error::TxFailed(receipt.transaction_hash))?;
    let code = provider.get_code_at(deployed).await?;
    let () = provider.raw_request("anvil_setCode".into(), (MULTICALL3_ADDRESS, code)).await?;
    info!(target: "ocean::chain", address = %MULTICALL3_ADDRESS, "Multicall3 installed on the devnet");
    Ok(())
}

/// The chain id Anvil (and Hardhat) use for a local chain.
pub const ANVIL_CHAIN_ID: u64 = 31_337;

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
    send_within(call, contract, name, crate::client::RpcOptions::default().receipt_timeout).await
}

/// Sends `call` and waits at most `timeout` for its receipt ([`Error::ReceiptTimeout`] after that: the
/// transaction may still be mined later).
pub(crate) async fn send_within<P, D>(
    call: alloy::contract::CallBuilder<P, D>,
    contract: &'static str,
    name: &'static str,
    timeout: std::time::Duration,
) -> Result<alloy::rpc::types::TransactionReceipt>
where
    P: Provider,
    D: alloy::contract::CallDecoder,
{
    let pending = call.send().await.map_err(|e| Error::from_contract(contract, name, e))?;
    let tx = *pending.tx_hash();
    let receipt = match pending.with_timeout(Some(timeout)).get_receipt().await {
        Ok(receipt) => receipt,
        Err(alloy::providers::PendingTransactionError::TxWatcher(_)) => {
            return Err(Error::ReceiptTimeout { tx, secs: timeout.as_secs() });
        }
        Err(e) => return Err(e.into()),
    };
    if !receipt.status() {
        return Err(Error::TxFailed(receipt.transaction_hash));
    }
    Ok(receipt)
}
