#!/usr/bin/env bash
# One-shot check on a machine with a GPU (Vulkan / Metal / DX12 through wgpu): builds with the
# `wgpu` feature, runs the GPU-vs-CPU parity tests on the real GPU, then the benches (PSP,
# spike, one training step of the Table 2 N-MNIST network at batch 10, T = 300), and prints
# one table. Sized to finish within 8 minutes on a warm build; a cold build of Burn with wgpu
# takes longer (set CARGO_TARGET_DIR to a warm directory where possible).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/burn-snn/target}"
out="$(mktemp -d)"

echo "== build"
cargo build --release --features wgpu --benches --tests >/dev/null

echo "== parity tests on the GPU (incl. 17 M columns, past a 1-D launch grid) and launch limits"
cargo test --release --features wgpu --test wgpu_parity 2>&1 | tee "$out/parity.txt" | grep -E "^test |test result"
cargo test --release --features wgpu --lib kernels::cube 2>&1 | grep -E "test result"

echo "== temporal ops on the GPU ([10, 300, 32, 34, 34])"
BURN_SNN_BENCH_DEVICE=wgpu cargo bench --features wgpu --bench temporal_ops 2>&1 | tee "$out/ops.txt" | grep -E "─|item/s"

echo "== training step on the GPU (batch 10, T = 300)"
BURN_SNN_BENCH_DEVICE=wgpu BURN_SNN_BENCH_T=300 BURN_SNN_BENCH_ITERS=3 \
    cargo bench --features wgpu --bench train_step 2>&1 | tee "$out/step.txt" | grep -E "step|mean|peak"

echo
echo "| check | result |"
echo "|---|---|"
echo "| parity tests | $(grep -E 'test result' "$out/parity.txt" | tail -1) |"
for op in "psp_op" "spike_op"; do
    awk -v op="$op" '$0 ~ op {show=1} show && /forward/ {name=$2} show && /item\/s/ {print "| " op " " name " | " $2 " " $3 " (fastest) |"; }' "$out/ops.txt" | head -3
done
echo "| train step T=300 | $(grep 'mean step time' "$out/step.txt") |"
echo "| GPU memory | see nvidia-smi / the adapter's tools; peak host RSS: $(grep 'peak memory' "$out/step.txt" | sed 's/.*: //') |"
