//! Integration tests of ocean-crypto: interoperability with the reference `age` tool (Debian package `age`,
//! installed by `make deps`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs, unreachable_pub)]

mod interop;
