//! The evaluator: runs a checked [`Program`] on encrypted values with the server key of the current thread.
//!
//! Every step maps over its operands' elements (broadcasting scalars and clear constants) or folds an array.
//! TFHE evaluation has no randomness (bootstrapping and key switching are deterministic), and the evaluator
//! visits steps and elements in a fixed order, so the same inputs give the same output bytes on every machine.
//! The deadline is checked before every element; the other limits are checked before the run (see
//! [`crate::job`]).

use std::time::Instant;

use tfhe::{
    FheBool, FheUint8, FheUint16, FheUint32, FheUint64,
    prelude::{CastFrom, FheEq, FheMax, FheMin, FheOrd, FheTrivialEncrypt, IfThenElse},
};

use crate::{
    Error, Limit, Result,
    program::{Arg, Op, Program, Scalar},
};

/// One encrypted element.
#[derive(Clone)]
#[allow(missing_docs)]
pub enum Ct {
    Bool(FheBool),
    U8(FheUint8),
    U16(FheUint16),
    U32(FheUint32),
    U64(FheUint64),
}

impl Ct {
    /// Its element type.
    pub fn scalar(&self) -> Scalar {
        match self {
            Self::Bool(_) => Scalar::Bool,
            Self::U8(_) => Scalar::U8,
            Self::U16(_) => Scalar::U16,
            Self::U32(_) => Scalar::U32,
            Self::U64(_) => Scalar::U64,
        }
    }

    fn trivial(scalar: Scalar, v: u64) -> Self {
        match scalar {
            Scalar::Bool => Self::Bool(FheBool::encrypt_trivial(v != 0)),
            Scalar::U8 => Self::U8(FheUint8::encrypt_trivial(v as u8)),
            Scalar::U16 => Self::U16(FheUint16::encrypt_trivial(v as u16)),
            Scalar::U32 => Self::U32(FheUint32::encrypt_trivial(v as u32)),
            Scalar::U64 => Self::U64(FheUint64::encrypt_trivial(v)),
        }
    }
}

/// A value: one element for a scalar, n for an array.
pub type Value = Vec<Ct>;

fn mismatch() -> Error {
    // The type checker rules this out; reaching it is a bug, reported instead of panicking a provider.
    Error::program("internal: operand types disagree with the checked program")
}

/// Same-width encrypted pair → same width.
macro_rules! uu {
    ($a:expr, $b:expr, |$x:ident, $y:ident| $body:expr) => {
        match ($a, $b) {
            (Ct::U8($x), Ct::U8($y)) => Ct::U8($body),
            (Ct::U16($x), Ct::U16($y)) => Ct::U16($body),
            (Ct::U32($x), Ct::U32($y)) => Ct::U32($body),
            (Ct::U64($x), Ct::U64($y)) => Ct::U64($body),
            _ => return Err(mismatch()),
        }
    };
}

/// Same-width encrypted pair → bool.
macro_rules! uu_bool {
    ($a:expr, $b:expr, |$x:ident, $y:ident| $body:expr) => {
        Ct::Bool(match ($a, $b) {
            (Ct::U8($x), Ct::U8($y)) => $body,
            (Ct::U16($x), Ct::U16($y)) => $body,
            (Ct::U32($x), Ct::U32($y)) => $body,
            (Ct::U64($x), Ct::U64($y)) => $body,
            _ => return Err(mismatch()),
        })
    };
}

/// Encrypted and clear (cast to the width) → same width.
macro_rules! uc {
    ($a:expr, $c:expr, |$x:ident, $k:ident| $body:expr) => {
        match $a {
            Ct::U8($x) => {
                let $k = $c as u8;
                Ct::U8($body)
            }
            Ct::U16($x) => {
                let $k = $c as u16;
                Ct::U16($body)
            }
            Ct::U32($x) => {
                let $k = $c as u32;
                Ct::U32($body)
            }
            Ct::U64($x) => {
                let $k = $c;
                Ct::U64($body)
            }
            Ct::Bool(_) => return Err(mismatch()),
        }
    };
}

/// Encrypted and clear → bool.
macro_rules! uc_bool {
    ($a:expr, $c:expr, |$x:ident, $k:ident| $body:expr) => {
        Ct::Bool(match $a {
            Ct::U8($x) => {
                let $k = $c as u8;
                $body
            }
            Ct::U16($x) => {
                let $k = $c as u16;
                $body
            }
            Ct::U32($x) => {
                let $k = $c as u32;
                $body
            }
            Ct::U64($x) => {
                let $k = $c;
                $body
            }
            Ct::Bool(_) => return Err(mismatch()),
        })
    };
}

/// Casts one element to an unsigned `to`.
fn cast(x: &Ct, to: Scalar) -> Result<Ct> {
    macro_rules! into {
        ($t:ident, $v:expr) => {
            match to {
                Scalar::U8 => Ct::U8(FheUint8::cast_from($v)),
                Scalar::U16 => Ct::U16(FheUint16::cast_from($v)),
                Scalar::U32 => Ct::U32(FheUint32::cast_from($v)),
                Scalar::U64 => Ct::U64(FheUint64::cast_from($v)),
                Scalar::Bool => return Err(mismatch()),
            }
        };
    }
    Ok(match x {
        Ct::Bool(v) => into!(b, v.clone()),
        Ct::U8(v) if to == Scalar::U8 => Ct::U8(v.clone()),
        Ct::U16(v) if to == Scalar::U16 => Ct::U16(v.clone()),
        Ct::U32(v) if to == Scalar::U32 => Ct::U32(v.clone()),
        Ct::U64(v) if to == Scalar::U64 => Ct::U64(v.clone()),
        Ct::U8(v) => into!(u, v.clone()),
        Ct::U16(v) => into!(u, v.clone()),
        Ct::U32(v) => into!(u, v.clone()),
        Ct::U64(v) => into!(u, v.clone()),
    })
}

/// One element of a binary element-wise op with an encrypted right operand.
fn binary(op: Op, a: &Ct, b: &Ct) -> Result<Ct> {
    Ok(match op {
        Op::Add => uu!(a, b, |x, y| x + y),
        Op::Sub => uu!(a, b, |x, y| x - y),
        Op::Mul => uu!(a, b, |x, y| x * y),
        Op::Min => uu!(a, b, |x, y| x.min(y)),
        Op::Max => uu!(a, b, |x, y| x.max(y)),
        Op::Eq => uu_bool!(a, b, |x, y| x.eq(y)),
        Op::Ne => uu_bool!(a, b, |x, y| x.ne(y)),
        Op::Lt => uu_bool!(a, b, |x, y| x.lt(y)),
        Op::Le => uu_bool!(a, b, |x, y| x.le(y)),
        Op::Gt => uu_bool!(a, b, |x, y| x.gt(y)),
        Op::Ge => uu_bool!(a, b, |x, y| x.ge(y)),
        Op::And | Op::Or | Op::Xor => match (a, b) {
            (Ct::Bool(x), Ct::Bool(y)) => Ct::Bool(match op {
                Op::And => x & y,
                Op::Or => x | y,
                _ => x ^ y,
            }),
            _ => return Err(mismatch()),
        },
        _ => return Err(mismatch()),
    })
}

/// One element of a binary element-wise op with a clear right operand.
fn binary_clear(op: Op, a: &Ct, c: u64) -> Result<Ct> {
    Ok(match op {
        Op::Add => uc!(a, c, |x, k| x + k),
        Op::Sub => uc!(a, c, |x, k| x - k),
        Op::Mul => uc!(a, c, |x, k| x * k),
        Op::Div => uc!(a, c, |x, k| x / k),
        Op::Rem => uc!(a, c, |x, k| x % k),
        Op::Min => uc!(a, c, |x, k| x.min(k)),
        Op::Max => uc!(a, c, |x, k| x.max(k)),
        Op::Eq => uc_bool!(a, c, |x, k| x.eq(k)),
        Op::Ne => uc_bool!(a, c, |x, k| x.ne(k)),
        Op::Lt => uc_bool!(a, c, |x, k| x.lt(k)),
        Op::Le => uc_bool!(a, c, |x, k| x.le(k)),
        Op::Gt => uc_bool!(a, c, |x, k| x.gt(k)),
        Op::Ge => uc_bool!(a, c, |x, k| x.ge(k)),
        _ => return Err(mismatch()),
    })
}

fn select(c: &Ct, a: &Ct, b: &Ct) -> Result<Ct> {
    let Ct::Bool(c) = c else { return Err(mismatch()) };
    Ok(match (a, b) {
        (Ct::Bool(x), Ct::Bool(y)) => Ct::Bool(c.select(x, y)),
        (Ct::U8(x), Ct::U8(y)) => Ct::U8(c.select(x, y)),
        (Ct::U16(x), Ct::U16(y)) => Ct::U16(c.select(x, y)),
        (Ct::U32(x), Ct::U32(y)) => Ct::U32(c.select(x, y)),
        (Ct::U64(x), Ct::U64(y)) => Ct::U64(c.select(x, y)),
        _ => return Err(mismatch()),
    })
}

/// Sums same-width elements (tfhe-rs reduces them as a tree, propagating carries once).
fn sum(xs: &[Ct], scalar: Scalar) -> Result<Ct> {
    macro_rules! fold {
        ($v:ident, $t:ident) => {{
            let refs = xs
                .iter()
                .map(|x| if let Ct::$v(x) = x { Ok(x) } else { Err(mismatch()) })
                .collect::<Result<Vec<_>>>()?;
            Ct::$v(refs.into_iter().sum::<$t>())
        }};
    }
    if xs.is_empty() {
        return Ok(Ct::trivial(scalar, 0));
    }
    Ok(match scalar {
        Scalar::U8 => fold!(U8, FheUint8),
        Scalar::U16 => fold!(U16, FheUint16),
        Scalar::U32 => fold!(U32, FheUint32),
        Scalar::U64 => fold!(U64, FheUint64),
        Scalar::Bool => return Err(mismatch()),
    })
}

struct Clock {
    deadline: Option<Instant>,
}

impl Clock {
    fn tick(&self) -> Result<()> {
        match self.deadline {
            Some(d) if Instant::now() >= d => {
                Err(Error::Limit { limit: Limit::Timeout, detail: "the wall-clock deadline passed".into() })
            }
            _ => Ok(()),
        }
    }
}

/// Element `i` of a value, broadcasting scalars.
fn at(v: &Value, i: usize) -> &Ct {
    if v.len() == 1 { &v[0] } else { &v[i] }
}

/// Runs `program` on `inputs` (in the program's input order) with the server key already set on this thread
/// (`tfhe::set_server_key`); returns the outputs in the program's output order.
pub fn run(program: &Program, inputs: Vec<Value>, deadline: Option<Instant>) -> Result<Vec<Value>> {
    if inputs.len() != program.inputs.len() {
        return Err(mismatch());
    }
    let clock = Clock { deadline };
    let mut dead_after: Vec<Vec<usize>> = vec![Vec::new(); program.steps.len()];
    for (slot, lu) in program.last_use.iter().enumerate() {
        if let Some(step) = lu {
            dead_after[*step].push(slot);
        }
    }
    let mut slots: Vec<Option<Value>> = inputs.into_iter().map(Some).collect();
    for (i, step) in program.steps.iter().enumerate() {
        let get = |arg: &Arg| -> Result<&Value> {
            match arg {
                Arg::Var(s) => slots.get(*s).and_then(Option::as_ref).ok_or_else(mismatch),
                _ => Err(mismatch()),
            }
        };
        let n = step.ty.elements() as usize;
        let out: Value = match step.op {
            Op::Add
            | Op::Sub
            | Op::Mul
            | Op::Div
            | Op::Rem
            | Op::Eq
            | Op::Ne
            | Op::Lt
            | Op::Le
            | Op::Gt
            | Op::Ge
            | Op::And
            | Op::Or
            | Op::Xor
            | Op::Min
            | Op::Max
                if step.args.len() == 2 =>
            {
                let a = get(&step.args[0])?;
                let mut out = Vec::with_capacity(n);
                for e in 0..n {
                    clock.tick()?;
                    out.push(match &step.args[1] {
                        Arg::Var(_) => binary(step.op, at(a, e), at(get(&step.args[1])?, e))?,
                        Arg::Clear(c) => binary_clear(step.op, at(a, e), *c)?,
                        Arg::Bool(c) => binary(step.op, at(a, e), &Ct::Bool(FheBool::encrypt_trivial(*c)))?,
                        Arg::Clears(_) => return Err(mismatch()),
                    });
                }
                out
            }
            Op::Min | Op::Max => {
                let a = get(&step.args[0])?;
                let mut acc = a.first().ok_or_else(mismatch)?.clone();
                for x in &a[1..] {
                    clock.tick()?;
                    acc = binary(step.op, &acc, x)?;
                }
                vec![acc]
            }
            Op::Not => {
                let a = get(&step.args[0])?;
                let mut out = Vec::with_capacity(n);
                for x in a {
                    clock.tick()?;
                    let Ct::Bool(x) = x else { return Err(mismatch()) };
                    out.push(Ct::Bool(!x));
                }
                out
            }
            Op::Select => {
                let c = get(&step.args[0])?;
                let branch = |arg: &Arg| -> Result<Value> {
                    Ok(match arg {
                        Arg::Var(_) => get(arg)?.clone(),
                        Arg::Clear(v) => vec![Ct::trivial(step.ty.scalar, *v)],
                        Arg::Bool(v) => vec![Ct::trivial(Scalar::Bool, u64::from(*v))],
                        Arg::Clears(_) => return Err(mismatch()),
                    })
                };
                let (a, b) = (branch(&step.args[1])?, branch(&step.args[2])?);
                let mut out = Vec::with_capacity(n);
                for e in 0..n {
                    clock.tick()?;
                    out.push(select(at(c, e), at(&a, e), at(&b, e))?);
                }
                out
            }
            Op::Sum => {
                clock.tick()?;
                vec![sum(get(&step.args[0])?, step.ty.scalar)?]
            }
            Op::Dot => {
                let a = get(&step.args[0])?;
                let Arg::Clears(w) = &step.args[1] else { return Err(mismatch()) };
                let mut terms = Vec::with_capacity(a.len());
                for (x, w) in a.iter().zip(w) {
                    clock.tick()?;
                    // Zero weights contribute nothing; skipping them is the same on every machine.
                    if *w != 0 {
                        terms.push(binary_clear(Op::Mul, x, *w)?);
                    }
                }
                clock.tick()?;
                vec![sum(&terms, step.ty.scalar)?]
            }
            Op::Count => {
                let a = get(&step.args[0])?;
                let mut terms = Vec::with_capacity(a.len());
                for x in a {
                    clock.tick()?;
                    terms.push(cast(x, step.ty.scalar)?);
                }
                clock.tick()?;
                vec![sum(&terms, step.ty.scalar)?]
            }
            Op::Cast => {
                let a = get(&step.args[0])?;
                let mut out = Vec::with_capacity(n);
                for x in a {
                    clock.tick()?;
                    out.push(cast(x, step.ty.scalar)?);
                }
                out
            }
            Op::Concat => {
                let mut out = Vec::with_capacity(n);
                for arg in &step.args {
                    out.extend(get(arg)?.iter().cloned());
                }
                out
            }
            Op::Index => {
                let a = get(&step.args[0])?;
                let Arg::Clear(k) = step.args[1] else { return Err(mismatch()) };
                vec![a.get(k as usize).ok_or_else(mismatch)?.clone()]
            }
            _ => return Err(mismatch()),
        };
        if out.len() != n {
            return Err(mismatch());
        }
        slots.push(Some(out));
        // Free what no later step reads (outputs are kept: their last_use is None).
        for s in &dead_after[i] {
            slots[*s] = None;
        }
        let own = program.inputs.len() + i;
        if program.last_use[own].is_none() && !program.outputs.iter().any(|(_, s, _)| *s == own) {
            slots[own] = None;
        }
    }
    program
        .outputs
        .iter()
        .map(|(_, s, _)| slots.get_mut(*s).and_then(Option::take).ok_or_else(mismatch))
        .collect()
}
