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
CARGO_TEST := $(shell if cargo nextest --version >/dev/null 2>&1; then echo "cargo nextest run --workspace --no-fail-fast"; else echo "cargo test --workspace --no-fail-fast"; fi)

.PHONY: all deps deps-node deps-rust contracts build test test-contracts test-rust lint fmt demo snapshot guests clean

all: build

## Toolchain -------------------------------------------------------------------------------------------------
deps: deps-node deps-rust

deps-node: $(CONTRACTS)/node_modules/.installed

$(CONTRACTS)/node_modules/.installed: $(CONTRACTS)/package.json $(CONTRACTS)/package-lock.json
	cd $(CONTRACTS) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

deps-rust:
	@rustup target list --installed 2>/dev/null | grep -q '^wasm32-wasip1$$' || rustup target add wasm32-wasip1

## Build -----------------------------------------------------------------------------------------------------
contracts: deps-node
	cd $(CONTRACTS) && forge build

build: deps contracts
	cargo build --workspace

## Tests -----------------------------------------------------------------------------------------------------
test: deps test-contracts test-rust

test-contracts: deps-node
	cd $(CONTRACTS) && forge test

test-rust: deps contracts
	$(CARGO_TEST)
	cargo test --workspace --doc

lint: deps contracts
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all
	cd $(CONTRACTS) && forge fmt

snapshot: deps-node
	cd $(CONTRACTS) && forge snapshot

## Demo ------------------------------------------------------------------------------------------------------
demo: deps contracts
	cargo run --release -p ocean -- devnet demo

clean:
	rm -rf $(CONTRACTS)/out $(CONTRACTS)/cache
