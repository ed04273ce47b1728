#!/usr/bin/env bash
# "Provider node under attack" (docs/benchmarks.md): peak RSS of a provider node receiving a 1 GiB upload, and
# the requests/s its API answers under a flood from another address (scripts/flood.py binds 127.0.0.2) while an
# honest 3-replica job, from 127.0.0.1, is placed, run, finalized and paid.
#
#   cargo build -p ocean && make guests
#   OCEAN=$CARGO_TARGET_DIR/debug/ocean scripts/bench-node-attack.sh
set -euo pipefail
OCEAN=${OCEAN:-target/debug/ocean}
OCEAN=$(realpath "$OCEAN")
work=$(mktemp -d)
dn=$work/devnet
cleanup() { "$OCEAN" devnet down --dir "$dn" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

"$OCEAN" devnet up --nodes 3 --dir "$dn" --port 8645 --base-port 7800 >/dev/null
node=http://127.0.0.1:7800
pid=$(python3 -c "import json,sys; print(json.load(open('$dn/devnet.json'))['node_pids'][0])")
hwm() { awk '/VmHWM/ {print $2 " " $3}' "/proc/$pid/status"; }
rss() { awk '/VmRSS/ {print $2 " " $3}' "/proc/$pid/status"; }
echo "node pid $pid: VmRSS $(rss), VmHWM $(hwm) before the upload"

# 1 GiB of incompressible data as a CAR, from a scratch store (not the node's).
head -c 1G /dev/urandom >"$work/big"
cid=$("$OCEAN" --repo "$work/scratch" store add "$work/big" | tail -1)
"$OCEAN" --repo "$work/scratch" store export "$cid" -o "$work/big.car"
rm "$work/big"
job=0x$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
deadline=$(( $(date +%s) + 3600 ))
me=$(curl -sf "$node/telemetry" | python3 -c "import json,sys; print(json.load(sys.stdin)['address'])")
# A 1-replica offer for this CAR (two-step offers: the node reserves the slot and takes the data before it signs).
curl -sf -X POST "$node/offers" -H 'content-type: application/json' -d @- >/dev/null <<JSON
{"job_id":"$job","manifest_cid":"$cid","price_cap_wei":"1000000000000000000000","commit_deadline":$deadline,
 "input_mib":1100,"terms":{"replicas":1,"quorum":1,"mode":"none",
 "proof_spec":"0x0000000000000000000000000000000000000000000000000000000000000000",
 "limits":{"memory_mib":64,"fuel":1000000,"timeout_secs":60,"output_mib":1,"input_mib":1100},"providers":["$me"]}}
JSON
# curl -T streams the file (never reads it whole); the node streams it into its store.
start=$(date +%s.%N)
curl -sf -X POST -T "$work/big.car" -H 'content-type: application/vnd.ipld.car' "$node/car?job=$job" >/dev/null
end=$(date +%s.%N)
echo "1 GiB upload: $(python3 -c "print(round($end-$start,1))") s; node VmRSS $(rss), VmHWM $(hwm) after"

# Flood: 256 connections of keep-alive GET /telemetry for 40 s from 127.0.0.2, while an honest 3-replica job is
# submitted from 127.0.0.1 (the node's per-peer limits apply to the flooder, not to the requester).
export OCEAN_REPO=$dn/requester OCEAN_DEPLOYMENT=$dn/deployment.json OCEAN_PASSWORD=devnet OCEAN_RPC_URL=http://127.0.0.1:8645
python3 "$(dirname "$0")/flood.py" --url "$node/telemetry" --source 127.0.0.2 --connections 256 --seconds 40 \
  >"$work/flood.json" &
flood_pid=$!
sleep 3
job_start=$(date +%s.%N)
if "$OCEAN" job submit examples/jobs/wordcount.toml -o "$work/results" >"$work/job.txt" 2>&1; then
  echo "honest job during the flood: finalized and paid in $(python3 -c "print(round($(date +%s.%N)-$job_start,1))") s"
else
  echo "honest job during the flood FAILED:"; cat "$work/job.txt"
fi
wait "$flood_pid"
echo "flood from 127.0.0.2: $(cat "$work/flood.json")"
echo "node VmHWM after the flood: $(hwm)"
