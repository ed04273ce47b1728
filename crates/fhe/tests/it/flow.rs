//! The whole flow on one key set: owners encrypt, a provider evaluates twice, the requester decrypts.

use ocean_fhe::{data, job, keys, keys::KeySet};

use crate::{budget, encrypt, files, inputs};

/// Uses every operation: concat, cast, sum, div, rem, lt, count, min/max (fold and element-wise), dot with a
/// negative weight, gt, mul by an encrypted scalar, select with a clear branch, index, add, sub, eq, ne, le,
/// ge, and, or, xor, not.
const PROGRAM: &str = r#"
outputs = ["total", "mean", "odd", "below", "hi", "lo", "score", "flag", "clipped", "mixed", "first",
           "shifted", "diff", "logic", "cmp"]

[inputs]
a = "u8[2]"
b = "u8[2]"
k = "u8"

[[let]]
name = "all"
op = "concat"
args = ["a", "b"]
[[let]]
name = "wide"
op = "cast"
to = "u16"
args = ["all"]
[[let]]
name = "total"
op = "sum"
args = ["wide"]
[[let]]
name = "mean"
op = "div"
args = ["total", 4]
[[let]]
name = "odd"
op = "rem"
args = ["total", 2]
[[let]]
name = "small"
op = "lt"
args = ["all", 50]
[[let]]
name = "below"
op = "count"
to = "u16"
args = ["small"]
[[let]]
name = "hi"
op = "max"
args = ["all"]
[[let]]
name = "lo"
op = "min"
args = ["all"]
[[let]]
name = "score"
op = "dot"
args = ["wide", [300, 7, 250, -1]]
[[let]]
name = "flag"
op = "gt"
args = ["score", 1000]
[[let]]
name = "clipped"
op = "min"
args = ["all", 100]
[[let]]
name = "scaled"
op = "mul"
args = ["all", "k"]
[[let]]
name = "mixed"
op = "select"
args = ["small", "scaled", 7]
[[let]]
name = "first"
op = "index"
args = ["all", 0]
[[let]]
name = "shifted"
op = "add"
args = ["a", "b"]
[[let]]
name = "diff"
op = "sub"
args = ["shifted", 3]
[[let]]
name = "e"
op = "eq"
args = ["a", "b"]
[[let]]
name = "n"
op = "ne"
args = ["a", 9]
[[let]]
name = "x1"
op = "and"
args = ["e", "n"]
[[let]]
name = "x2"
op = "or"
args = ["x1", false]
[[let]]
name = "x3"
op = "xor"
args = ["x2", true]
[[let]]
name = "logic"
op = "not"
args = ["x3"]
[[let]]
name = "le"
op = "le"
args = ["a", "b"]
[[let]]
name = "ge"
op = "ge"
args = ["a", 200]
[[let]]
name = "cmp"
op = "max"
args = ["clipped", "all"]
"#;

#[test]
fn owners_encrypt_provider_evaluates_twice_identically_requester_decrypts() {
    let set = KeySet::generate();
    let (client_file, server_file, public_file) = files(&set);
    drop(set);
    let (a, b, k) = ([3u64, 250], [3u64, 40], 3u64);
    // Two data owners and the requester's scalar, each with the public key only.
    let ca = encrypt(&public_file, "u8[2]", &a);
    let cb = encrypt(&public_file, "u8[2]", &b);
    let ck = encrypt(&public_file, "u8", &[k]);
    let ins = inputs(&[("a", &ca), ("b", &cb), ("k", &ck)]);

    let first = job::evaluate(PROGRAM.as_bytes(), &server_file, &ins, &budget()).unwrap();
    // The provider's path: a key cache, cold then warm (the key decompressed once).
    let keys = job::Keys::new();
    let evaluate =
        || job::evaluate_with(&keys, "cid-of-the-key", PROGRAM.as_bytes(), &server_file, &ins, &budget());
    let second = evaluate().unwrap();
    let third = evaluate().unwrap();
    assert_eq!(first.outputs, second.outputs, "two evaluations give identical bytes (quorum needs it)");
    assert_eq!(first.outputs, third.outputs, "a cached key gives the same bytes");
    assert_eq!(first.work, second.work);
    assert!(first.work > 0);

    let client = keys::open_client(&client_file, b"pw").unwrap();
    let got = data::decrypt(&client, &first.outputs).unwrap();
    let by = |n: &str| got.iter().find(|p| p.name == n).unwrap_or_else(|| panic!("no {n}")).values.clone();

    // The same computation in the clear.
    let all: Vec<u64> = a.iter().chain(&b).copied().collect();
    let total: u64 = all.iter().sum();
    assert_eq!(by("total"), [total]);
    assert_eq!(by("mean"), [total / 4]);
    assert_eq!(by("odd"), [total % 2]);
    assert_eq!(by("below"), [all.iter().filter(|v| **v < 50).count() as u64]);
    assert_eq!(by("hi"), [*all.iter().max().unwrap()]);
    assert_eq!(by("lo"), [*all.iter().min().unwrap()]);
    let w: [i64; 4] = [300, 7, 250, -1];
    let score = all.iter().zip(w).fold(0u16, |s, (v, w)| s.wrapping_add((*v as u16).wrapping_mul(w as u16)));
    assert_eq!(by("score"), [u64::from(score)]);
    assert_eq!(by("flag"), [u64::from(score > 1000)]);
    assert_eq!(by("clipped"), all.iter().map(|v| (*v).min(100)).collect::<Vec<_>>());
    let mixed: Vec<u64> =
        all.iter().map(|v| if *v < 50 { u64::from((*v as u8).wrapping_mul(k as u8)) } else { 7 }).collect();
    assert_eq!(by("mixed"), mixed);
    assert_eq!(by("first"), [a[0]]);
    let shifted: Vec<u8> = a.iter().zip(&b).map(|(x, y)| (*x as u8).wrapping_add(*y as u8)).collect();
    assert_eq!(by("shifted"), shifted.iter().map(|v| u64::from(*v)).collect::<Vec<_>>());
    assert_eq!(by("diff"), shifted.iter().map(|v| u64::from(v.wrapping_sub(3))).collect::<Vec<_>>());
    let logic: Vec<u64> = a.iter().zip(&b).map(|(x, y)| u64::from(!(((x == y) && *x != 9) ^ true))).collect();
    assert_eq!(by("logic"), logic);
    assert_eq!(by("cmp"), all, "max(min(x, 100), x) = x");
    assert_eq!(got[0].to_string(), format!("total = {total}"));

    // A data owner's ciphertext decrypts with the client key too (the requester may check an input).
    let back = data::decrypt(&client, &ca).unwrap();
    assert_eq!(back[0].values, a);
}
