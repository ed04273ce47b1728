//! OCAT amounts: fixed point with 18 decimals, like every ERC-20 with the default `decimals()`.

use std::{fmt, str::FromStr};

/// Decimals of the OCAT token (ERC-20 default).
pub const DECIMALS: u32 = 18;
const ONE: u128 = 10u128.pow(DECIMALS);

/// A non-negative quantity of OCAT, held in the token's smallest unit ("wei").
///
/// `u128` holds 3.4e20 whole OCAT, far above any supply the protocol mints, so arithmetic on amounts that came
/// from the chain (`uint256`) is converted with a checked cast at the boundary.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Amount(u128);

/// Why a text is not an amount.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AmountError {
    /// Nothing to parse.
    #[error("empty amount")]
    Empty,
    /// The unit after the number is not OCAT or wei.
    #[error("unknown unit `{0}` (use OCAT or wei)")]
    UnknownUnit(String),
    /// Not a decimal number.
    #[error("`{0}` is not a decimal number")]
    NotANumber(String),
    /// More fractional digits than the token has decimals.
    #[error("`{0}` has more than 18 decimal places")]
    TooPrecise(String),
    /// Larger than `u128` wei.
    #[error("amount `{0}` is too large")]
    Overflow(String),
}

impl Amount {
    /// Zero OCAT.
    pub const ZERO: Self = Self(0);

    /// An amount of `wei`, the token's smallest unit.
    pub const fn from_wei(wei: u128) -> Self {
        Self(wei)
    }

    /// An amount of whole OCAT. Saturates at `u128::MAX` wei.
    pub const fn from_ocat(ocat: u64) -> Self {
        Self((ocat as u128).saturating_mul(ONE))
    }

    /// The amount in wei.
    pub const fn wei(self) -> u128 {
        self.0
    }

    /// `self + rhs`, or `None` on overflow.
    pub fn checked_add(self, rhs: Self) -> Option<Self> {
        self.0.checked_add(rhs.0).map(Self)
    }

    /// `self - rhs`, or `None` when `rhs` is larger.
    pub fn checked_sub(self, rhs: Self) -> Option<Self> {
        self.0.checked_sub(rhs.0).map(Self)
    }
}

impl FromStr for Amount {
    type Err = AmountError;

    /// Parses `"10"`, `"10 OCAT"`, `"0.25ocat"` (whole tokens) or `"1000 wei"`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err(AmountError::Empty);
        }
        let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_')).unwrap_or(s.len());
        let (number, unit) = s.split_at(split);
        let number = number.replace('_', "");
        match unit.trim().to_ascii_lowercase().as_str() {
            "" | "ocat" => parse_decimal(&number, s),
            "wei" => number.parse::<u128>().map(Self).map_err(|_| AmountError::NotANumber(s.to_owned())),
            other => Err(AmountError::UnknownUnit(other.to_owned())),
        }
    }
}

fn parse_decimal(number: &str, original: &str) -> Result<Amount, AmountError> {
    let not_a_number = || AmountError::NotANumber(original.to_owned());
    let overflow = || AmountError::Overflow(original.to_owned());
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && frac.is_empty() {
        return Err(not_a_number());
    }
    if !whole.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(not_a_number());
    }
    if frac.len() > DECIMALS as usize {
        return Err(AmountError::TooPrecise(original.to_owned()));
    }
    let whole: u128 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| overflow())? };
    let frac_wei: u128 = if frac.is_empty() {
        0
    } else {
        let digits: u128 = frac.parse().map_err(|_| not_a_number())?;
        digits * 10u128.pow(DECIMALS - frac.len() as u32)
    };
    whole.checked_mul(ONE).and_then(|w| w.checked_add(frac_wei)).map(Amount).ok_or_else(overflow)
}

impl fmt::Display for Amount {
    /// Formats as whole OCAT with the fractional part trimmed: `10 OCAT`, `0.25 OCAT`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / ONE;
        let frac = self.0 % ONE;
        if frac == 0 {
            write!(f, "{whole} OCAT")
        } else {
            let digits = format!("{frac:018}");
            write!(f, "{whole}.{} OCAT", digits.trim_end_matches('0'))
        }
    }
}

impl TryFrom<String> for Amount {
    type Error = AmountError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Amount> for String {
    fn from(a: Amount) -> Self {
        a.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_user_forms() {
        assert_eq!("10 OCAT".parse(), Ok(Amount::from_ocat(10)));
        assert_eq!("10".parse(), Ok(Amount::from_ocat(10)));
        assert_eq!("0.25ocat".parse(), Ok(Amount::from_wei(ONE / 4)));
        assert_eq!("1_000 wei".parse(), Ok(Amount::from_wei(1000)));
        assert_eq!(".5".parse(), Ok(Amount::from_wei(ONE / 2)));
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!("".parse::<Amount>(), Err(AmountError::Empty));
        assert!(matches!("10 ETH".parse::<Amount>(), Err(AmountError::UnknownUnit(_))));
        assert!(matches!("1.2.3".parse::<Amount>(), Err(AmountError::NotANumber(_))));
        assert!(matches!("-1".parse::<Amount>(), Err(AmountError::UnknownUnit(_))));
        assert!(matches!("0.0000000000000000001".parse::<Amount>(), Err(AmountError::TooPrecise(_))));
        assert!(matches!("1e40".parse::<Amount>(), Err(AmountError::UnknownUnit(_))));
        assert!(matches!("999999999999999999999999999".parse::<Amount>(), Err(AmountError::Overflow(_))));
    }

    #[test]
    fn displays_trimmed() {
        assert_eq!(Amount::from_ocat(10).to_string(), "10 OCAT");
        assert_eq!(Amount::from_wei(ONE / 4).to_string(), "0.25 OCAT");
        assert_eq!(Amount::from_wei(1).to_string(), "0.000000000000000001 OCAT");
    }

    proptest! {
        #[test]
        fn display_round_trips(wei in any::<u128>()) {
            let a = Amount::from_wei(wei);
            prop_assert_eq!(a.to_string().parse::<Amount>(), Ok(a));
        }
    }
}
