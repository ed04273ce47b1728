//! The program format: a typed expression graph over encrypted integers, in TOML, and its type checker.
//!
//! ```toml
//! outputs = ["total", "mean"]
//!
//! [inputs]            # name = type: bool, u8, u16, u32, u64, or an array such as "u16[250]"
//! a = "u16[500]"
//! b = "u16[500]"
//!
//! [[let]]             # each step names one value; args are earlier names or clear constants
//! name = "x"
//! op = "concat"
//! args = ["a", "b"]
//!
//! [[let]]
//! name = "wide"
//! op = "cast"
//! to = "u32"
//! args = ["x"]
//!
//! [[let]]
//! name = "total"
//! op = "sum"
//! args = ["wide"]
//!
//! [[let]]
//! name = "mean"
//! op = "div"
//! args = ["total", 1000]
//! ```
//!
//! Loops over arrays are implicit and bounded by the declared lengths: element-wise operations *map* over
//! arrays (a scalar or a clear constant is broadcast), and `sum`, `dot`, `count`, unary `min`/`max` *fold* an
//! array into a scalar. Arithmetic wraps modulo 2^width; a negative clear constant means its two's complement.
//!
//! [`Program::parse`] checks everything before any work: names defined before use and defined once, arity,
//! widths, array lengths, clear constants that fit, and it computes the work units (the billing unit, known
//! before the run) and the peak number of live ciphertext blocks (for the memory estimate).

use std::{collections::BTreeMap, fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Longest array a program may declare or build.
pub const MAX_LEN: u32 = 1 << 20;
/// Most steps in one program.
pub const MAX_STEPS: usize = 100_000;

/// The element type of an encrypted value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scalar {
    /// FheBool.
    Bool,
    /// FheUint8.
    U8,
    /// FheUint16.
    U16,
    /// FheUint32.
    U32,
    /// FheUint64.
    U64,
}

impl Scalar {
    /// Bits of the plaintext.
    pub fn bits(self) -> u32 {
        match self {
            Self::Bool => 1,
            Self::U8 => 8,
            Self::U16 => 16,
            Self::U32 => 32,
            Self::U64 => 64,
        }
    }
    /// Ciphertext blocks (2 message bits each with the parameters in use).
    pub fn blocks(self) -> u64 {
        u64::from(self.bits().div_ceil(2))
    }
    /// Largest clear value.
    pub fn max(self) -> u64 {
        if self == Self::U64 { u64::MAX } else { (1u64 << self.bits()) - 1 }
    }
    fn is_uint(self) -> bool {
        self != Self::Bool
    }
    fn name(self) -> &'static str {
        match self {
            Self::Bool => "bool",
            Self::U8 => "u8",
            Self::U16 => "u16",
            Self::U32 => "u32",
            Self::U64 => "u64",
        }
    }
}

impl FromStr for Scalar {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "bool" => Self::Bool,
            "u8" => Self::U8,
            "u16" => Self::U16,
            "u32" => Self::U32,
            "u64" => Self::U64,
            _ => return Err(Error::program(format!("unknown type `{s}` (bool, u8, u16, u32, u64)"))),
        })
    }
}

/// A value's type: a scalar, or an array of a fixed length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Type {
    /// Element type.
    pub scalar: Scalar,
    /// `Some(n)` for an array of n elements.
    pub len: Option<u32>,
}

impl Type {
    /// A scalar type.
    pub fn scalar(scalar: Scalar) -> Self {
        Self { scalar, len: None }
    }
    /// An array type.
    pub fn array(scalar: Scalar, len: u32) -> Self {
        Self { scalar, len: Some(len) }
    }
    /// How many ciphertexts (1 for a scalar).
    pub fn elements(self) -> u64 {
        self.len.map_or(1, u64::from)
    }
    /// Ciphertext blocks of the whole value.
    pub fn blocks(self) -> u64 {
        self.elements() * self.scalar.blocks()
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.len {
            None => f.write_str(self.scalar.name()),
            Some(n) => write!(f, "{}[{n}]", self.scalar.name()),
        }
    }
}

impl FromStr for Type {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        match s.split_once('[') {
            None => Ok(Self::scalar(s.parse()?)),
            Some((scalar, rest)) => {
                let n = rest
                    .strip_suffix(']')
                    .and_then(|n| n.trim().parse::<u32>().ok())
                    .filter(|n| (1..=MAX_LEN).contains(n))
                    .ok_or_else(|| {
                        Error::program(format!(
                            "bad type `{s}`: arrays are written like u16[250] (1..={MAX_LEN})"
                        ))
                    })?;
                Ok(Self::array(scalar.trim().parse()?, n))
            }
        }
    }
}

impl TryFrom<String> for Type {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<Type> for String {
    fn from(t: Type) -> Self {
        t.to_string()
    }
}

/// An operation of a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Min,
    Max,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    Xor,
    Not,
    Select,
    Sum,
    Dot,
    Count,
    Cast,
    Concat,
    Index,
}

impl FromStr for Op {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "add" => Self::Add,
            "sub" => Self::Sub,
            "mul" => Self::Mul,
            "div" => Self::Div,
            "rem" => Self::Rem,
            "min" => Self::Min,
            "max" => Self::Max,
            "eq" => Self::Eq,
            "ne" => Self::Ne,
            "lt" => Self::Lt,
            "le" => Self::Le,
            "gt" => Self::Gt,
            "ge" => Self::Ge,
            "and" => Self::And,
            "or" => Self::Or,
            "xor" => Self::Xor,
            "not" => Self::Not,
            "select" => Self::Select,
            "sum" => Self::Sum,
            "dot" => Self::Dot,
            "count" => Self::Count,
            "cast" => Self::Cast,
            "concat" => Self::Concat,
            "index" => Self::Index,
            _ => {
                return Err(Error::program(format!(
                    "unknown op `{s}` (add sub mul div rem min max eq ne lt le gt ge and or xor not select \
                     sum dot count cast concat index)"
                )));
            }
        })
    }
}

/// An argument of a checked step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arg {
    /// An encrypted value: the slot of an input or an earlier step.
    Var(usize),
    /// A clear integer, already reduced to the width it is used at.
    Clear(u64),
    /// A clear boolean.
    Bool(bool),
    /// Clear weights (for `dot`), reduced to the width.
    Clears(Vec<u64>),
}

/// One checked step: its result goes to the next slot.
#[derive(Clone, Debug)]
pub struct Step {
    /// The step's name.
    pub name: String,
    /// What it does.
    pub op: Op,
    /// Its arguments.
    pub args: Vec<Arg>,
    /// The result type.
    pub ty: Type,
    /// Work units of this step.
    pub work: u64,
}

/// A type-checked program. Slots `0..inputs.len()` are the inputs, then one slot per step.
#[derive(Clone, Debug)]
pub struct Program {
    /// Declared inputs, by name order.
    pub inputs: Vec<(String, Type)>,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Outputs: name, slot, type.
    pub outputs: Vec<(String, usize, Type)>,
    /// For every slot, the index of the last step that reads it (`None`: never read, or an output).
    pub last_use: Vec<Option<usize>>,
    /// Work units of the whole program.
    pub work: u64,
    /// Most ciphertext blocks alive at once (inputs included).
    pub peak_blocks: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Source {
    outputs: Vec<String>,
    inputs: BTreeMap<String, Type>,
    #[serde(default, rename = "let")]
    steps: Vec<StepSource>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepSource {
    name: String,
    op: String,
    #[serde(default)]
    args: Vec<ArgSource>,
    #[serde(default)]
    to: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ArgSource {
    Bool(bool),
    Int(i64),
    Ints(Vec<i64>),
    Name(String),
}

/// Work units of one element of `op` on `b`-block operands (a rough count of programmable bootstraps, the
/// unit of cost in TFHE). Documented in the crate README; part of the billing rules, so changes are breaking.
fn unit_cost(op: Op, b: u64, clear: bool) -> u64 {
    match op {
        Op::Add | Op::Sub | Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge => b,
        Op::Mul if clear => 2 * b,
        Op::Mul => b * b,
        Op::Div | Op::Rem => b * b,
        Op::Min | Op::Max | Op::Select => 2 * b,
        Op::And | Op::Or | Op::Xor | Op::Not => 1,
        Op::Cast => 1,
        Op::Sum | Op::Count => b,
        Op::Dot => 3 * b,
        Op::Concat | Op::Index => 0,
    }
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 64
}

/// Reduces a clear constant to `scalar`'s width, refusing values that do not fit (negative values down to
/// -2^(bits-1) are two's complement).
fn clear(v: i64, scalar: Scalar, at: &str) -> Result<u64> {
    let bits = scalar.bits();
    let fits = if v >= 0 { v as u64 <= scalar.max() } else { bits >= 64 || v >= -(1i64 << (bits - 1)) };
    if !fits || scalar == Scalar::Bool {
        return Err(Error::program(format!("{at}: constant {v} does not fit {}", scalar.name())));
    }
    Ok((v as u64) & scalar.max())
}

impl Program {
    /// Parses and type-checks program text.
    pub fn parse(text: &str) -> Result<Self> {
        let src: Source = toml::from_str(text).map_err(|e| Error::program(e.to_string()))?;
        Self::check(src)
    }

    fn check(src: Source) -> Result<Self> {
        if src.steps.len() > MAX_STEPS {
            return Err(Error::program(format!("{} steps (at most {MAX_STEPS})", src.steps.len())));
        }
        let mut slots: BTreeMap<String, usize> = BTreeMap::new();
        let mut types: Vec<Type> = Vec::new();
        let mut inputs = Vec::new();
        for (name, ty) in src.inputs {
            if !is_name(&name) {
                return Err(Error::program(format!("input name `{name}` is not an identifier")));
            }
            slots.insert(name.clone(), types.len());
            types.push(ty);
            inputs.push((name, ty));
        }
        let mut steps: Vec<Step> = Vec::with_capacity(src.steps.len());
        for (i, s) in src.steps.into_iter().enumerate() {
            let at = format!("step {} (`{}`)", i + 1, s.name);
            if !is_name(&s.name) {
                return Err(Error::program(format!("{at}: the name is not an identifier")));
            }
            if slots.contains_key(&s.name) {
                return Err(Error::program(format!("{at}: `{}` is already defined", s.name)));
            }
            let op: Op = s.op.parse().map_err(|e: Error| Error::program(format!("{at}: {e}")))?;
            let step = check_step(&at, s.name.clone(), op, &s.args, s.to.as_deref(), &slots, &types)?;
            slots.insert(s.name, types.len());
            types.push(step.ty);
            steps.push(step);
        }
        if src.outputs.is_empty() {
            return Err(Error::program("`outputs` is empty: name at least one value"));
        }
        let mut outputs = Vec::new();
        for name in src.outputs {
            let slot =
                *slots.get(&name).ok_or_else(|| Error::program(format!("output `{name}` is not defined")))?;
            if outputs.iter().any(|(n, _, _)| *n == name) {
                return Err(Error::program(format!("output `{name}` is listed twice")));
            }
            outputs.push((name, slot, types[slot]));
        }
        // Liveness: a slot can be dropped after the last step reading it, unless it is an output.
        let mut last_use: Vec<Option<usize>> = vec![None; types.len()];
        for (i, step) in steps.iter().enumerate() {
            for a in &step.args {
                if let Arg::Var(v) = a {
                    last_use[*v] = Some(i);
                }
            }
        }
        for (_, slot, _) in &outputs {
            last_use[*slot] = None;
        }
        let n_in = inputs.len();
        let mut live: u64 = inputs.iter().map(|(_, t)| t.blocks()).sum();
        let mut peak = live;
        let mut dead_at: Vec<Vec<usize>> = vec![Vec::new(); steps.len()];
        for (slot, lu) in last_use.iter().enumerate() {
            if let Some(step) = lu {
                dead_at[*step].push(slot);
            }
        }
        for (i, step) in steps.iter().enumerate() {
            live += step.ty.blocks();
            peak = peak.max(live);
            for slot in &dead_at[i] {
                live -= types[*slot].blocks();
            }
            // A step nobody reads and that is not an output is dropped at once.
            let own = n_in + i;
            if last_use[own].is_none() && !outputs.iter().any(|(_, s, _)| *s == own) {
                live -= step.ty.blocks();
            }
        }
        let work = steps.iter().fold(0u64, |w, s| w.saturating_add(s.work));
        Ok(Self { inputs, steps, outputs, last_use, work, peak_blocks: peak })
    }
}

fn check_step(
    at: &str,
    name: String,
    op: Op,
    args: &[ArgSource],
    to: Option<&str>,
    slots: &BTreeMap<String, usize>,
    types: &[Type],
) -> Result<Step> {
    let err = |m: String| Error::program(format!("{at}: {m}"));
    let var = |a: &ArgSource| -> Result<Option<(usize, Type)>> {
        match a {
            ArgSource::Name(n) => {
                let slot =
                    *slots.get(n).ok_or_else(|| err(format!("`{n}` is not defined (define it above)")))?;
                Ok(Some((slot, types[slot])))
            }
            _ => Ok(None),
        }
    };
    let arity = |n: usize| -> Result<()> {
        if args.len() == n {
            Ok(())
        } else {
            Err(err(format!("`{op:?}` takes {n} argument(s), got {}", args.len()).to_lowercase()))
        }
    };
    let needs_var = |i: usize| -> Result<(usize, Type)> {
        var(&args[i])?.ok_or_else(|| err(format!("argument {} must be an encrypted value (a name)", i + 1)))
    };
    let to = match (to, op) {
        (None, Op::Cast | Op::Count) => {
            return Err(err("needs `to` (the result type, e.g. to = \"u32\")".into()));
        }
        (Some(t), Op::Cast | Op::Count) => {
            let s: Scalar = t.parse().map_err(|e: Error| err(e.to_string()))?;
            if !s.is_uint() {
                return Err(err("`to` must be an unsigned type (use `ne x 0` for a boolean)".into()));
            }
            Some(s)
        }
        (Some(_), _) => return Err(err("`to` is only for cast and count".into())),
        (None, _) => None,
    };
    // Broadcasting: array lengths must agree; scalars go with anything.
    let shape = |lens: &[Option<u32>]| -> Result<Option<u32>> {
        let mut out = None;
        for l in lens.iter().flatten() {
            match out {
                Some(o) if o != *l => return Err(err(format!("array lengths differ ({o} and {l})"))),
                _ => out = Some(*l),
            }
        }
        Ok(out)
    };
    let want_uint = |t: Type, i: usize| -> Result<()> {
        if t.scalar.is_uint() {
            Ok(())
        } else {
            Err(err(format!("argument {} is {t}; expected an unsigned integer", i + 1)))
        }
    };
    let (out, vargs, clear_cost): (Type, Vec<Arg>, bool) = match op {
        Op::Min | Op::Max if args.len() == 1 => {
            let (a, ta) = needs_var(0)?;
            want_uint(ta, 0)?;
            if ta.len.is_none() {
                return Err(err("with one argument, min/max fold an array; this is a scalar".into()));
            }
            (Type::scalar(ta.scalar), vec![Arg::Var(a)], false)
        }
        Op::Add
        | Op::Sub
        | Op::Mul
        | Op::Min
        | Op::Max
        | Op::Eq
        | Op::Ne
        | Op::Lt
        | Op::Le
        | Op::Gt
        | Op::Ge => {
            arity(2)?;
            let (a, ta) = needs_var(0)?;
            want_uint(ta, 0)?;
            let (b, len_b, is_clear) = match (&args[1], var(&args[1])?) {
                (_, Some((b, tb))) => {
                    if tb.scalar != ta.scalar {
                        return Err(err(format!("widths differ: {ta} and {tb} (cast one first)")));
                    }
                    (Arg::Var(b), tb.len, false)
                }
                (ArgSource::Int(v), None) => (Arg::Clear(clear(*v, ta.scalar, at)?), None, true),
                _ => return Err(err("argument 2 must be a name or an integer".into())),
            };
            let len = shape(&[ta.len, len_b])?;
            let scalar = if matches!(op, Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge) {
                Scalar::Bool
            } else {
                ta.scalar
            };
            (Type { scalar, len }, vec![Arg::Var(a), b], is_clear)
        }
        Op::Div | Op::Rem => {
            arity(2)?;
            let (a, ta) = needs_var(0)?;
            want_uint(ta, 0)?;
            let ArgSource::Int(v) = &args[1] else {
                return Err(err("the divisor must be a clear integer".into()));
            };
            let d = clear(*v, ta.scalar, at)?;
            if d == 0 {
                return Err(err("division by zero".into()));
            }
            (ta, vec![Arg::Var(a), Arg::Clear(d)], true)
        }
        Op::And | Op::Or | Op::Xor => {
            arity(2)?;
            let (a, ta) = needs_var(0)?;
            if ta.scalar != Scalar::Bool {
                return Err(err(format!("argument 1 is {ta}; expected bool")));
            }
            let (b, len_b) = match (&args[1], var(&args[1])?) {
                (_, Some((b, tb))) if tb.scalar == Scalar::Bool => (Arg::Var(b), tb.len),
                (_, Some((_, tb))) => return Err(err(format!("argument 2 is {tb}; expected bool"))),
                (ArgSource::Bool(v), None) => (Arg::Bool(*v), None),
                _ => return Err(err("argument 2 must be a name or true/false".into())),
            };
            (Type { scalar: Scalar::Bool, len: shape(&[ta.len, len_b])? }, vec![Arg::Var(a), b], false)
        }
        Op::Not => {
            arity(1)?;
            let (a, ta) = needs_var(0)?;
            if ta.scalar != Scalar::Bool {
                return Err(err(format!("argument 1 is {ta}; expected bool")));
            }
            (ta, vec![Arg::Var(a)], false)
        }
        Op::Select => {
            arity(3)?;
            let (c, tc) = needs_var(0)?;
            if tc.scalar != Scalar::Bool {
                return Err(err(format!("the condition is {tc}; expected bool")));
            }
            let branches = [var(&args[1])?, var(&args[2])?];
            let scalar = branches
                .iter()
                .flatten()
                .map(|(_, t)| t.scalar)
                .next()
                .ok_or_else(|| err("at least one branch must be an encrypted value".into()))?;
            let mut lens = vec![tc.len];
            let mut out_args = vec![Arg::Var(c)];
            for (i, b) in branches.iter().enumerate() {
                match (b, &args[i + 1]) {
                    (Some((s, t)), _) => {
                        if t.scalar != scalar {
                            return Err(err(
                                format!("branches differ in type ({scalar:?} and {t})").to_lowercase()
                            ));
                        }
                        lens.push(t.len);
                        out_args.push(Arg::Var(*s));
                    }
                    (None, ArgSource::Int(v)) if scalar.is_uint() => {
                        out_args.push(Arg::Clear(clear(*v, scalar, at)?))
                    }
                    (None, ArgSource::Bool(v)) if scalar == Scalar::Bool => out_args.push(Arg::Bool(*v)),
                    _ => return Err(err(format!("branch {} does not match the other branch's type", i + 1))),
                }
            }
            (Type { scalar, len: shape(&lens)? }, out_args, false)
        }
        Op::Sum => {
            arity(1)?;
            let (a, ta) = needs_var(0)?;
            want_uint(ta, 0)?;
            if ta.len.is_none() {
                return Err(err("sum folds an array; this is a scalar".into()));
            }
            (Type::scalar(ta.scalar), vec![Arg::Var(a)], false)
        }
        Op::Dot => {
            arity(2)?;
            let (a, ta) = needs_var(0)?;
            want_uint(ta, 0)?;
            let ArgSource::Ints(w) = &args[1] else {
                return Err(err("argument 2 must be a list of clear weights".into()));
            };
            let n = ta.len.ok_or_else(|| err("dot needs an array".into()))?;
            if w.len() != n as usize {
                return Err(err(format!("{} weights for an array of {n}", w.len())));
            }
            let w = w.iter().map(|v| clear(*v, ta.scalar, at)).collect::<Result<Vec<_>>>()?;
            (Type::scalar(ta.scalar), vec![Arg::Var(a), Arg::Clears(w)], true)
        }
        Op::Count => {
            arity(1)?;
            let (a, ta) = needs_var(0)?;
            if ta.scalar != Scalar::Bool || ta.len.is_none() {
                return Err(err(format!("count needs a bool array, got {ta}")));
            }
            (Type::scalar(to.expect("checked above")), vec![Arg::Var(a)], false)
        }
        Op::Cast => {
            arity(1)?;
            let (a, ta) = needs_var(0)?;
            (Type { scalar: to.expect("checked above"), len: ta.len }, vec![Arg::Var(a)], false)
        }
        Op::Concat => {
            if args.is_empty() {
                return Err(err("concat needs at least one argument".into()));
            }
            let mut total: u64 = 0;
            let mut scalar = None;
            let mut out_args = Vec::new();
            for i in 0..args.len() {
                let (s, t) = needs_var(i)?;
                if scalar.is_some_and(|sc| sc != t.scalar) {
                    return Err(err(
                        format!("argument {} is {t}; the others are {:?}", i + 1, scalar).to_lowercase()
                    ));
                }
                scalar = Some(t.scalar);
                total += t.elements();
                out_args.push(Arg::Var(s));
            }
            if total > u64::from(MAX_LEN) {
                return Err(err(format!("the result has {total} elements (at most {MAX_LEN})")));
            }
            (Type::array(scalar.expect("at least one argument"), total as u32), out_args, false)
        }
        Op::Index => {
            arity(2)?;
            let (a, ta) = needs_var(0)?;
            let n = ta.len.ok_or_else(|| err("index needs an array".into()))?;
            let ArgSource::Int(i) = &args[1] else {
                return Err(err("the index must be a clear integer".into()));
            };
            if *i < 0 || *i >= i64::from(n) {
                return Err(err(format!("index {i} is out of bounds (0..{n})")));
            }
            (Type::scalar(ta.scalar), vec![Arg::Var(a), Arg::Clear(*i as u64)], false)
        }
    };
    // Cost is per element of the operands (folds: of the array folded).
    let operand = match vargs.first() {
        Some(Arg::Var(s)) => types[*s],
        _ => out,
    };
    let b = match op {
        Op::Count | Op::Cast => out.scalar.blocks(),
        _ => operand.scalar.blocks(),
    };
    let elements = match op {
        Op::Sum | Op::Dot | Op::Count | Op::Min | Op::Max if out.len.is_none() && operand.len.is_some() => {
            operand.elements()
        }
        _ => out.elements(),
    };
    let work = unit_cost(op, b, clear_cost).saturating_mul(elements);
    Ok(Step { name, op, args: vargs, ty: out, work })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn bad(text: &str) -> String {
        Program::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn types_parse_and_print() {
        assert_eq!("u16[250]".parse::<Type>().unwrap(), Type::array(Scalar::U16, 250));
        assert_eq!("bool".parse::<Type>().unwrap().to_string(), "bool");
        assert!("u12".parse::<Type>().is_err());
        assert!("u8[0]".parse::<Type>().is_err());
    }

    #[test]
    fn checks_a_histogram_and_counts_its_work() {
        let p = Program::parse(
            r#"
outputs = ["below", "n"]
[inputs]
x = "u8[10]"
[[let]]
name = "small"
op = "lt"
args = ["x", 100]
[[let]]
name = "below"
op = "count"
to = "u16"
args = ["small"]
[[let]]
name = "n"
op = "sum"
args = ["x"]
"#,
        )
        .unwrap();
        assert_eq!(p.steps[0].ty, Type::array(Scalar::Bool, 10));
        assert_eq!(p.steps[1].ty, Type::scalar(Scalar::U16));
        assert_eq!(p.outputs.len(), 2);
        // lt on 10 u8 (4 blocks) + count of 10 into u16 (8 blocks) + sum of 10 u8.
        assert_eq!(p.work, 10 * 4 + 10 * 8 + 10 * 4);
        assert_eq!(p.last_use[0], Some(2), "x is last read by step 3");
        assert!(p.peak_blocks >= 40 + 10);
    }

    #[test]
    fn refuses_programs_that_do_not_type_check() {
        let head = "outputs = [\"y\"]\n[inputs]\na = \"u8[4]\"\nb = \"u16[4]\"\nc = \"u8[3]\"\n";
        let step =
            |op: &str, args: &str| format!("{head}[[let]]\nname = \"y\"\nop = \"{op}\"\nargs = {args}\n");
        assert!(bad(&step("add", "[\"a\", \"b\"]")).contains("widths differ"));
        assert!(bad(&step("add", "[\"a\", \"c\"]")).contains("lengths differ"));
        assert!(bad(&step("add", "[\"a\", \"zz\"]")).contains("`zz` is not defined"));
        assert!(bad(&step("add", "[\"a\"]")).contains("takes 2"));
        assert!(bad(&step("add", "[\"a\", 256]")).contains("does not fit u8"));
        assert!(bad(&step("frob", "[\"a\"]")).contains("unknown op"));
        assert!(bad(&step("div", "[\"a\", 0]")).contains("division by zero"));
        assert!(bad(&step("dot", "[\"a\", [1, 2]]")).contains("2 weights for an array of 4"));
        assert!(bad(&step("index", "[\"a\", 4]")).contains("out of bounds"));
        assert!(bad(&step("and", "[\"a\", true]")).contains("expected bool"));
        assert!(bad(&step("cast", "[\"a\"]")).contains("needs `to`"));
        assert!(
            bad(&format!("{head}[[let]]\nname = \"a\"\nop = \"not\"\nargs = [\"a\"]\n"))
                .contains("already defined")
        );
        assert!(bad("outputs = [\"q\"]\n[inputs]\na = \"u8\"\n").contains("output `q` is not defined"));
        // A negative constant is its two's complement.
        let p = Program::parse(&step("add", "[\"a\", -1]")).unwrap();
        assert_eq!(p.steps[0].args[1], Arg::Clear(255));
    }
}
