#!/usr/bin/env node
// Copies ABI + creation bytecode of the deployable contracts from forge's out/ into crates/chain/artifacts/,
// which the Rust bindings (alloy `sol!`) compile against. Committed, so `cargo build` needs no Node or forge;
// ocean-chain's tests fail if they drift from a fresh `forge build`.
'use strict';
const fs = require('fs');
const path = require('path');
// [contract, source file it is declared in]
const CONTRACTS = [
  ['OceanToken', 'OceanToken'], ['NodeRegistry', 'NodeRegistry'], ['JobMarket', 'JobMarket'], ['Rewards', 'Rewards'],
  ['OceanGovernor', 'OceanGovernor'], ['OceanTimelock', 'OceanGovernor'], ['ZkInferenceVerifier', 'ZkInferenceVerifier'],
  ['ZkKeyVerifier', 'ZkKeyVerifier'],
];
const out = path.join(__dirname, '..', 'out');
const dest = path.join(__dirname, '..', '..', 'crates', 'chain', 'artifacts');
const check = process.argv.includes('--check');
fs.mkdirSync(dest, { recursive: true });
let stale = [];
for (const [name, source] of CONTRACTS) {
  const art = JSON.parse(fs.readFileSync(path.join(out, `${source}.sol`, `${name}.json`), 'utf8'));
  const text = JSON.stringify({ abi: art.abi, bytecode: { object: art.bytecode.object } }, null, 1) + '\n';
  const file = path.join(dest, `${name}.json`);
  if (check) {
    if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== text) stale.push(name);
  } else {
    fs.writeFileSync(file, text);
  }
}
if (stale.length) {
  console.error(`crates/chain/artifacts are stale for: ${stale.join(', ')} (run: make artifacts)`);
  process.exit(1);
}
