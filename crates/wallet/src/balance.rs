//! Balances of an account: ETH for gas, OCAT held, and OCAT the JobMarket owes it (withdrawable).

use alloy::{
    primitives::{Address, U256},
    providers::Provider,
    signers::local::PrivateKeySigner,
};
use ocean_chain::{Client, Deployment};

use crate::Result;

/// What an account holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balance {
    /// The account.
    pub address: Address,
    /// Native balance (wei).
    pub eth: U256,
    /// OCAT held (wei, 18 decimals).
    pub ocat: u128,
    /// OCAT the JobMarket owes it, withdrawable (wei).
    pub owed: u128,
}

/// Reads the balances of `who` on the chain at `rpc_url` where `deployment` lives. Needs no key: the client
/// connects with a throwaway random signer that never signs anything.
pub async fn balance(rpc_url: &str, deployment: Deployment, who: Address) -> Result<Balance> {
    let client = Client::connect(rpc_url, PrivateKeySigner::random(), deployment).await?;
    let eth = client.provider().get_balance(who).await.map_err(ocean_chain::Error::from)?;
    let ocat = client.ocat_balance(who).await?;
    let owed = client.owed(who).await?;
    Ok(Balance { address: who, eth, ocat, owed })
}

/// Formats an 18-decimal amount in whole units, without trailing zeros: `1500000000000000000` → `1.5`.
pub fn format_units(wei: U256) -> String {
    let unit = U256::from(10u64).pow(U256::from(18u64));
    let whole = wei / unit;
    let frac = wei % unit;
    if frac.is_zero() {
        return whole.to_string();
    }
    let digits = format!("{:0>18}", frac.to_string());
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_18_decimals() {
        let e18 = U256::from(10u64).pow(U256::from(18u64));
        assert_eq!(format_units(U256::ZERO), "0");
        assert_eq!(format_units(e18), "1");
        assert_eq!(format_units(e18 * U256::from(3u64) / U256::from(2u64)), "1.5");
        assert_eq!(format_units(U256::from(1u64)), "0.000000000000000001");
        assert_eq!(
            format_units(U256::from(10_000u64) * e18 + U256::from(10u64).pow(U256::from(15u64))),
            "10000.001"
        );
    }
}
