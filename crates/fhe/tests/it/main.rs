//! Integration tests of ocean-fhe: a real key set, data owners encrypting with the public key, a program
//! using every operation, decryption, determinism, and every bad input refused before any work.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs, unreachable_pub)]

mod bad;
mod flow;

use std::collections::BTreeMap;

use ocean_fhe::{
    data, job,
    keys::{self, Cost, KeySet},
    program::Type,
};

/// A generous budget: what the limit tests shrink.
pub fn budget() -> job::Budget {
    job::Budget { work: u64::MAX, memory_bytes: 8 << 30, output_bytes: 1 << 30, deadline: None }
}

/// A key set as files: (client file sealed with "pw", server file, public file).
pub fn files(set: &KeySet) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    (set.client_file(b"pw", Cost::FAST).unwrap(), set.server_file(), set.public_file())
}

/// Encrypts `values` as `ty` with the public key file, as a data owner does.
pub fn encrypt(public: &[u8], ty: &str, values: &[u64]) -> Vec<u8> {
    let public = keys::read_public(public).unwrap();
    data::encrypt(&public, ty.parse::<Type>().unwrap(), values).unwrap()
}

pub fn inputs(pairs: &[(&str, &Vec<u8>)]) -> BTreeMap<String, Vec<u8>> {
    pairs.iter().map(|(n, b)| ((*n).to_owned(), (*b).clone())).collect()
}
