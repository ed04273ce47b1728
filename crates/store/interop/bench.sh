#!/usr/bin/env bash
# Side-by-side store benchmark for docs/benchmarks.md ("Store"): one 1 GiB random file through
#   openssl (single-core SHA-256), the JS importer (ipfs-unixfs-importer, store keeps nothing),
#   ocean --only-hash, ocean add (persisted in redb, fsync'ed at commit), ocean cat.
# usage: crates/store/interop/bench.sh [FILE]   (run `make deps-store` first)
set -euo pipefail
cd "$(dirname "$0")/../../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ocean/target}"
FILE="${1:-/tmp/ocean-bench-1g.bin}"
[ -f "$FILE" ] || head -c 1073741824 /dev/urandom > "$FILE"
cargo build --release -q -p ocean-store --example bench
B="$CARGO_TARGET_DIR/release/examples/bench"
STORE="$(mktemp -d)"
trap 'rm -rf "$STORE"' EXIT
cat "$FILE" > /dev/null # warm the page cache so every tool reads from memory
echo "== $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== openssl speed -evp sha256 (one core, 256 KiB blocks)"
openssl speed -evp sha256 -bytes 262144 -seconds 3 2>/dev/null | tail -1
echo "== JS ipfs-unixfs-importer (kubo --cid-version=1 defaults), blockstore keeps nothing"
/usr/bin/time -f "   %e s wall, %U s user + %S s sys CPU, peak RSS %M KiB" node crates/store/interop/import.mjs default "$FILE"
echo "== ocean --only-hash"
/usr/bin/time -f "   %e s wall, %U s user + %S s sys CPU, peak RSS %M KiB" "$B" hash "$FILE"
echo "== ocean add, persisted (redb, fsync at commit)"
/usr/bin/time -f "   %e s wall, %U s user + %S s sys CPU, peak RSS %M KiB" "$B" add "$FILE" "$STORE"
CID="$("$B" hash "$FILE" | cut -d' ' -f2)"
echo "== ocean cat"
/usr/bin/time -f "   %e s wall, %U s user + %S s sys CPU, peak RSS %M KiB" "$B" cat "$CID" "$STORE"
echo "== disk: dd 1 GiB with fdatasync"
dd if=/dev/zero of="$STORE/dd" bs=1M count=1024 conv=fdatasync 2>&1 | tail -1
