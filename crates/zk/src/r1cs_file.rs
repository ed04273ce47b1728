//! The inference circuit as an iden3 `.r1cs` file, and one proof's full assignment as a `.wtns` file: the
//! formats circom writes and snarkjs reads, so an existing, audited ceremony tool (snarkjs' Groth16 phase 2)
//! can make the proving key production uses instead of ocean-zk's public development setup.
//!
//! ```text
//! InferenceCircuit ─► arkworks ConstraintSystem (Constraints goal, finalized) ─► matrices A, B, C
//!                  ─► write_r1cs: header (BN254 prime, wires, 3 public inputs) + constraints + wire map
//! a proof's inputs ─► the same synthesis with values ─► write_wtns: every wire's value
//! ```
//!
//! Wire `i` is arkworks' variable `i`: wire 0 is the constant one, wires 1..=3 the public inputs (job id, spec,
//! packed output), then the witness. Both layouts put the public inputs first, so no renumbering is needed.
//! The exported constraints are the circuit's own: like arkworks' Groth16, snarkjs adds the constraints that
//! make the public inputs' polynomials independent itself. `snarkjs wtns check circuit.r1cs witness.wtns`
//! accepting a real proof's assignment is what ties the two together (`tests/it/r1cs.rs`).

use std::io::Write;

use ark_bn254::Fr;
use ark_ff::{BigInteger, PrimeField};
use ark_relations::r1cs::{ConstraintSynthesizer, ConstraintSystem, OptimizationGoal};

use crate::{Error, Input, Model, circuit::InferenceCircuit, model::fr_from_bytes_mod_order};

/// What an exported circuit holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct R1csInfo {
    /// Constraints (without the public-input constraints every Groth16 setup adds).
    pub constraints: usize,
    /// Wires, the constant one included.
    pub wires: usize,
    /// Public inputs (job id, spec, packed output).
    pub public_inputs: usize,
}

const R1CS_HEADER: u32 = 1;
const R1CS_CONSTRAINTS: u32 = 2;
const R1CS_WIRE_MAP: u32 = 3;
const FIELD_BYTES: u32 = 32;

/// Writes the inference circuit's constraints as an iden3 `.r1cs` (version 1).
pub fn write_r1cs(out: &mut impl Write) -> Result<R1csInfo, Error> {
    write_r1cs_of(crate::groth16::placeholder(), out)
}

/// Writes any circuit's constraints as an iden3 `.r1cs` (version 1); its instance variables are the public
/// inputs.
pub fn write_r1cs_of(
    circuit: impl ConstraintSynthesizer<Fr>,
    out: &mut impl Write,
) -> Result<R1csInfo, Error> {
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    circuit.generate_constraints(cs.clone())?;
    cs.finalize();
    let m = cs.to_matrices().ok_or_else(|| Error::Shape("the constraint system kept no matrices".into()))?;
    let wires = m.num_instance_variables + m.num_witness_variables;
    let info =
        R1csInfo { constraints: m.num_constraints, wires, public_inputs: m.num_instance_variables - 1 };

    let mut header = Vec::new();
    header.extend_from_slice(&FIELD_BYTES.to_le_bytes());
    header.extend_from_slice(&Fr::MODULUS.to_bytes_le());
    header.extend_from_slice(&u32_of(wires)?.to_le_bytes());
    header.extend_from_slice(&0u32.to_le_bytes()); // public outputs: none, all three are inputs
    header.extend_from_slice(&u32_of(info.public_inputs)?.to_le_bytes());
    header.extend_from_slice(&0u32.to_le_bytes()); // private inputs: the rest are internal wires
    header.extend_from_slice(&(wires as u64).to_le_bytes()); // labels: one per wire
    header.extend_from_slice(&u32_of(m.num_constraints)?.to_le_bytes());

    let mut constraints = Vec::new();
    for i in 0..m.num_constraints {
        for lc in [&m.a[i], &m.b[i], &m.c[i]] {
            constraints.extend_from_slice(&u32_of(lc.len())?.to_le_bytes());
            for (coeff, var) in lc {
                constraints.extend_from_slice(&u32_of(*var)?.to_le_bytes());
                constraints.extend_from_slice(&coeff.into_bigint().to_bytes_le());
            }
        }
    }

    let mut map = Vec::with_capacity(wires * 8);
    for w in 0..wires as u64 {
        map.extend_from_slice(&w.to_le_bytes());
    }

    write_file(
        out,
        b"r1cs",
        &[(R1CS_HEADER, &header), (R1CS_CONSTRAINTS, &constraints), (R1CS_WIRE_MAP, &map)],
    )?;
    Ok(info)
}

/// Writes every wire's value for proving `model` on `input` for `job_id`, as an iden3 `.wtns` (version 2).
pub fn write_wtns(model: &Model, input: &Input, job_id: [u8; 32], out: &mut impl Write) -> Result<(), Error> {
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    let circuit = InferenceCircuit {
        job: fr_from_bytes_mod_order(&job_id),
        model: model.clone(),
        input: input.clone(),
    };
    circuit.generate_constraints(cs.clone())?;
    cs.finalize();
    if !cs.is_satisfied()? {
        return Err(Error::Shape("the model's own run does not satisfy the circuit".into()));
    }
    let inner = cs.borrow().ok_or_else(|| Error::Shape("the constraint system is gone".into()))?;
    let values: Vec<&Fr> = inner.instance_assignment.iter().chain(&inner.witness_assignment).collect();

    let mut header = Vec::new();
    header.extend_from_slice(&FIELD_BYTES.to_le_bytes());
    header.extend_from_slice(&Fr::MODULUS.to_bytes_le());
    header.extend_from_slice(&u32_of(values.len())?.to_le_bytes());
    let mut data = Vec::with_capacity(values.len() * 32);
    for v in values {
        data.extend_from_slice(&v.into_bigint().to_bytes_le());
    }
    write_file(out, b"wtns", &[(1, &header), (2, &data)])
}

/// An iden3 binary file: magic, version (1 for r1cs, 2 for wtns), then `(type, u64 size, bytes)` sections.
fn write_file(out: &mut impl Write, magic: &[u8; 4], sections: &[(u32, &Vec<u8>)]) -> Result<(), Error> {
    let io = |source| Error::Io { path: "<output>".into(), source };
    let version: u32 = if magic == b"wtns" { 2 } else { 1 };
    out.write_all(magic).map_err(io)?;
    out.write_all(&version.to_le_bytes()).map_err(io)?;
    out.write_all(&u32_of(sections.len())?.to_le_bytes()).map_err(io)?;
    for (kind, bytes) in sections {
        out.write_all(&kind.to_le_bytes()).map_err(io)?;
        out.write_all(&(bytes.len() as u64).to_le_bytes()).map_err(io)?;
        out.write_all(bytes).map_err(io)?;
    }
    Ok(())
}

fn u32_of(n: usize) -> Result<u32, Error> {
    u32::try_from(n).map_err(|_| Error::Shape(format!("{n} does not fit the format's 32-bit counts")))
}

/// A circuit of three constraints (x · y = z and (x + y)² · x = w, z and w public), as an `.r1cs`: for tests
/// of the ceremony tooling, which a 2^15 phase 1 would make slow.
#[cfg(feature = "test-utils")]
pub fn write_toy_r1cs(out: &mut impl Write) -> Result<R1csInfo, Error> {
    use ark_relations::{
        lc,
        r1cs::{ConstraintSystemRef, SynthesisError},
    };
    struct Toy;
    impl ConstraintSynthesizer<Fr> for Toy {
        fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
            let (x, y) = (Fr::from(3u64), Fr::from(11u64));
            let z = cs.new_input_variable(|| Ok(x * y))?;
            let w = cs.new_input_variable(|| Ok((x + y) * (x + y) * x))?;
            let xv = cs.new_witness_variable(|| Ok(x))?;
            let yv = cs.new_witness_variable(|| Ok(y))?;
            let s2 = cs.new_witness_variable(|| Ok((x + y) * (x + y)))?;
            cs.enforce_constraint(lc!() + xv, lc!() + yv, lc!() + z)?;
            cs.enforce_constraint(lc!() + xv + yv, lc!() + xv + yv, lc!() + s2)?;
            cs.enforce_constraint(lc!() + s2, lc!() + xv, lc!() + w)?;
            Ok(())
        }
    }
    write_r1cs_of(Toy, out)
}
