#!/usr/bin/env bash
# One-shot check on a machine with a GPU: for each lane (wgpu: Vulkan / Metal / DX12; cuda:
# NVIDIA through CUDA), the GPU-vs-CPU parity tests on the real GPU, then the benches (PSP,
# spike, one training step of the Table 2 N-MNIST network at batch 10, T = 300), and one table
# per lane, then the CPU step with dense vs event-driven synapses. Lanes: $LANES (default: "wgpu cuda" when nvidia-smi works, else "wgpu").
# Sized to finish within 8 minutes per lane on a warm build; a cold build of Burn with a GPU
# backend takes longer (set CARGO_TARGET_DIR to a warm directory where possible).
#
# `scripts/gpu-check.sh --ddp` runs only burn-train's distributed data parallel strategy (NCCL
# all-reduce) over every NVIDIA GPU ($DDP_DEVICES, default: nvidia-smi's count, at least 2): a
# short training of the quickstart network that must end above chance (tests/learner.rs).
#
# On a bare GPU machine (no cargo), or with `--bundle`, it runs the bundle that
# `scripts/gpu-bundle.sh` built on a CPU machine (`$GPU_BUNDLE`, default target/gpu-bundle:
# carry that folder to the GPU machine) instead of building.
set -euo pipefail
cd "$(dirname "$0")/.."
bundle="${GPU_BUNDLE:-target/gpu-bundle}"
if [ "${1:-}" = "--bundle" ] || { ! command -v cargo >/dev/null && [ -x "$bundle/run.sh" ]; }; then
    [ -x "$bundle/run.sh" ] || { echo "no bundle at $bundle: run scripts/gpu-bundle.sh on a CPU machine" >&2; exit 2; }
    exec "$bundle/run.sh"
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/burn-snn/target}"
if [ "${1:-}" = "--ddp" ]; then
    gpus="${DDP_DEVICES:-$(nvidia-smi -L 2>/dev/null | wc -l)}"
    if [ "$gpus" -lt 2 ]; then
        echo "--ddp needs at least 2 NVIDIA GPUs (found $gpus)" >&2
        exit 2
    fi
    echo "== [cuda] DDP over $gpus GPUs"
    BURN_SNN_GPU=cuda BURN_SNN_DDP_DEVICES="$gpus" cargo test --release --features cuda \
        --test learner distributed_data_parallel -- --ignored --nocapture 2>&1 | grep -E "DDP|^test |test result"
    exit 0
fi

if [ -z "${LANES:-}" ]; then
    if command -v nvidia-smi >/dev/null && nvidia-smi >/dev/null 2>&1; then
        LANES="wgpu cuda"
    else
        LANES="wgpu"
    fi
fi

for lane in $LANES; do
    out="$(mktemp -d)"
    features="$lane"
    echo "== [$lane] build"
    cargo build --release --features "$features" --benches --tests >/dev/null

    echo "== [$lane] parity tests on the GPU (incl. 17 M columns, past a 1-D launch grid) and launch limits"
    BURN_SNN_GPU="$lane" cargo test --release --features "$features" --test gpu_parity 2>&1 \
        | tee "$out/parity.txt" | grep -E "^test |test result"
    cargo test --release --features "$features" --lib kernels::cube 2>&1 | grep -E "test result"

    echo "== [$lane] temporal ops on the GPU ([10, 300, 32, 34, 34])"
    BURN_SNN_BENCH_DEVICE="$lane" cargo bench --features "$features" --bench temporal_ops 2>&1 \
        | tee "$out/ops.txt" | grep -E "─|item/s"

    echo "== [$lane] training step on the GPU (batch 10, T = 300)"
    BURN_SNN_BENCH_DEVICE="$lane" BURN_SNN_BENCH_T=300 BURN_SNN_BENCH_ITERS=3 \
        cargo bench --features "$features" --bench train_step 2>&1 | tee "$out/step.txt" | grep -E "step|mean|peak"

    echo
    echo "| $lane check | result |"
    echo "|---|---|"
    echo "| parity tests | $(grep -E 'test result' "$out/parity.txt" | tail -1) |"
    for op in "psp_op" "spike_op"; do
        awk -v op="$op" '$0 ~ op {show=1} show && /forward/ {name=$2} show && /item\/s/ {print "| " op " " name " | " $2 " " $3 " (fastest) |"; }' "$out/ops.txt" | head -3
    done
    echo "| train step T=300 | $(grep 'mean step time' "$out/step.txt") |"
    echo "| GPU memory | see nvidia-smi / the adapter's tools; peak host RSS: $(grep 'peak memory' "$out/step.txt" | sed 's/.*: //') |"
    echo
done

# The synapses' two paths: the GPU runs the dense one (SynapseKernel::Auto); the event-driven
# path exists for the CPU backends. Both on this machine's CPU, at the firing rates of trained
# networks (weight scale 40, weights kept), so that the GPU step above has a CPU reference.
echo "== [cpu] training step, dense vs event-driven synapses (batch 10, T = 100)"
for kernel in dense events; do
    BURN_SNN_SYNAPSE="$kernel" BURN_SNN_BENCH_LR=0 BURN_SNN_BENCH_WEIGHT_SCALE=40 \
        BURN_SNN_BENCH_VARIANT=plain BURN_SNN_BENCH_ITERS=2 \
        cargo bench --bench train_step 2>&1 | grep -E "synapses|rates|mean|peak"
done
