#!/usr/bin/env bash
# One GPU session in one command: build the addon against the machine's CUDA
# LibTorch, run the benchmarks' GPU suite and the test suite on CUDA, and write
# everything to $OUT (logs, JSON lines). The GPU machine has no Node.js and no
# network: on the development machine first run `npm ci`, then
# `scripts/gpu/pack.sh`, which packs Node.js and node_modules into .device/
# (git ignores it); send .device along (the device tool's `carry`).
#
#   scripts/gpu/check.sh [all|bench|test]     (default all; OUT defaults to ./gpu-out)
#
# Device time is short, so the order is: build, GPU benchmarks (the figures),
# then the CUDA test suite; each step has its own time limit (seconds, env:
# LAXRAY_GPU_BUILD_S, LAXRAY_GPU_BENCH_S, LAXRAY_GPU_TEST_S) and a failure in
# one does not stop the next. summary.json says what ran and how it ended.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
what=${1:-all}
OUT=${OUT:-$root/gpu-out}
mkdir -p "$OUT"
source scripts/gpu/prelude.sh
export LAXRAY_BENCH_PYTHON=${LAXRAY_BENCH_PYTHON:-$(command -v python3)}

declare -A status
step() { # step <name> <seconds> <command...>: runs it with a limit, log in $OUT/<name>.log
  local name=$1 limit=$2
  shift 2
  local start=$SECONDS
  timeout --kill-after=10 "$limit" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  status[$name]="{\"rc\": $rc, \"seconds\": $((SECONDS - start))}"
  echo "$name: rc $rc in $((SECONDS - start)) s (log: $OUT/$name.log)"
  return $rc
}

{ nvidia-smi; python3 -c 'import torch; print("python torch", torch.__version__, torch.version.cuda)'; } > "$OUT/machine.txt" 2>&1
if ! step build "${LAXRAY_GPU_BUILD_S:-420}" npm run build:native; then
  tail -40 "$OUT/build.log"
else
  node bin/laxray.js info >> "$OUT/machine.txt" 2>&1
  if [ "$what" = all ] || [ "$what" = bench ]; then
    step bench "${LAXRAY_GPU_BENCH_S:-300}" node --import tsx scripts/bench/run.ts gpu
    grep '^{' "$OUT/bench.log" > "$OUT/bench-gpu.jsonl" || true
  fi
  if [ "$what" = all ] || [ "$what" = test ]; then
    step test "${LAXRAY_GPU_TEST_S:-420}" env LAXRAY_DEVICE=cuda npx ava --timeout 5m
    grep -E '✘|passed|failed|skipped' "$OUT/test.log" | tail -40
  fi
fi
{
  echo "{"
  first=1
  for name in "${!status[@]}"; do
    [ $first = 1 ] || echo ","
    first=0
    printf '  "%s": %s' "$name" "${status[$name]}"
  done
  echo ""
  echo "}"
} > "$OUT/summary.json"
cat "$OUT/summary.json"
