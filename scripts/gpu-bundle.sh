#!/usr/bin/env bash
# Builds, on a CPU machine with the crate cache, everything the GPU check runs into one folder
# that a bare GPU machine runs without a network, a Rust toolchain or a crate cache:
#
#   scripts/gpu-bundle.sh [DIR]        # default: target/gpu-bundle
#   DIR/run.sh                         # on the GPU machine (or here, on lavapipe)
#
# The folder holds release builds of the wgpu parity tests (tests/gpu_parity.rs) and of the GPU
# benches in one binary (benches/gpu_check.rs: temporal ops, a training step of the Table 2
# N-MNIST network on the dense path, inference of the same network), stripped and
# xz-compressed, the 100 N-MNIST test recordings the inference bench reads, the Vulkan loader
# (used only where the machine has none), and `run.sh`, which unpacks the binaries (xz, or
# Python's lzma) into a temporary folder. The folder stays under 60 MiB (checked here). CUDA cannot be bundled: cubecl-cuda's
# build downloads an LLVM bundle from a host these machines cannot reach.
#
# run.sh needs an NVIDIA driver with Vulkan. Where the machine has no NVIDIA Vulkan driver it
# says so in one line and stops, instead of falling back to a software device;
# `BURN_SNN_ALLOW_SOFTWARE=1 DIR/run.sh` runs on Mesa's lavapipe (this machine's check).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/burn-snn/target}"
out="${1:-target/gpu-bundle}"
data="${BURN_SNN_DATA:-../shared/data}"
rm -rf "$out"
mkdir -p "$out/bin" "$out/lib" "$out/data/nmnist-small"

executables() {
    # The executables cargo reports for a build, one per line.
    python3 -c 'import sys, json
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        print(m["target"]["name"], m["executable"])'
}

# Only what the checks use: without burn-train and the downloader the binaries are smaller.
features=(--no-default-features --features flex,wgpu)
echo "== build (release, ${features[*]})"
{
    cargo test --release "${features[@]}" --test gpu_parity --no-run --message-format=json
    cargo bench "${features[@]}" --bench gpu_check --no-run --message-format=json
} 2>/dev/null | executables | while read -r name exe; do
    # Stripped and xz-compressed (a binary holds about 90 MB of Burn's monomorphized code,
    # 15-17 MB compressed); run.sh unpacks them.
    cp "$exe" "$out/bin/$name"
    strip "$out/bin/$name" 2>/dev/null || true
    xz -T0 -9 "$out/bin/$name"
done
for name in gpu_parity gpu_check; do
    [ -f "$out/bin/$name.xz" ] || { echo "error: $name was not built" >&2; exit 1; }
done

# The Vulkan loader of this machine, for a GPU machine that lacks one.
loader="$(ldconfig -p | awk '/libvulkan.so.1 / {print $NF; exit}')"
if [ -n "$loader" ]; then
    cp -L "$loader" "$out/lib/libvulkan.so.1"
else
    echo "warning: no libvulkan.so.1 here to bundle; the GPU machine must have one" >&2
fi

# The inference bench's recordings (the test split only).
cp -r "$data/nmnist-small/Test" "$out/data/nmnist-small/"
[ -f "$data/nmnist-small/README.md" ] && cp "$data/nmnist-small/README.md" "$out/data/nmnist-small/"

cat >"$out/run.sh" <<'RUN'
#!/usr/bin/env bash
# Runs the GPU check from this bundle (see scripts/gpu-bundle.sh): parity tests, then the
# benches, each with a time limit; prints one table. Needs a Vulkan driver for the GPU.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# The bundled Vulkan loader only where the machine has none.
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1 '; then
    export LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
# The NVIDIA driver's Vulkan ICD (Mesa may list manifests for GPUs the machine does not have,
# and wgpu would then fall back to its software rasterizer).
icds="$(ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json 2>/dev/null || true)"
nvidia_icds="$(echo "$icds" | grep -i nvidia || true)"
if [ -z "$nvidia_icds" ] && [ "${BURN_SNN_ALLOW_SOFTWARE:-0}" != 1 ]; then
    echo "no Vulkan driver for the GPU on this machine (no NVIDIA ICD manifest in /usr/share/vulkan/icd.d or /etc/vulkan/icd.d): install the NVIDIA driver with its Vulkan ICD; nothing was run"
    exit 2
fi
if [ "${BURN_SNN_ALLOW_SOFTWARE:-0}" = 1 ]; then
    # Lavapipe: the same checks at reduced sizes (a smaller network, 10 steps).
    steps=10; iters=1; spec="34x34x2-n8c3-p2-n16c3-10"
else
    steps=300; iters=3; spec="34x34x2-n8c3-{n16c3}*5-n16c3-{n32c3}*5-10"
fi
bin="$(mktemp -d)"
for packed in "$here"/bin/*.xz; do
    name="$(basename "$packed" .xz)"
    if command -v xz >/dev/null; then
        xz -dc "$packed" >"$bin/$name"
    else
        python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$packed" "$bin/$name"
    fi
    chmod +x "$bin/$name"
done
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
export CUBECL_AUTOTUNE_LEVEL="${CUBECL_AUTOTUNE_LEVEL:-minimal}"
export BURN_SNN_DATA="$here/data"
log="$(mktemp -d)"
run() { # name limit-seconds command...
    local name="$1" limit="$2"; shift 2
    local start=$SECONDS
    timeout "$limit" "$@" >"$log/$name.txt" 2>&1
    local rc=$?
    echo "$name $rc $((SECONDS - start))" >>"$log/status"
}
echo "== parity tests"
run parity 240 "$bin/gpu_parity" --test-threads=1
grep -E "^test |test result" "$log/parity.txt"
echo "== temporal ops"
run ops 120 env BURN_SNN_CHECK=ops BURN_SNN_BENCH_DEVICE=wgpu "$bin/gpu_check" --bench
grep -E "item/s" "$log/ops.txt" | head -8
echo "== training step, $spec, batch 10, T = $steps, dense synapses"
run step 180 env BURN_SNN_BENCH_DEVICE=wgpu BURN_SNN_BENCH_T=$steps BURN_SNN_BENCH_ITERS=$iters \
    BURN_SNN_BENCH_VARIANT=plain BURN_SNN_BENCH_SPEC="$spec" BURN_SNN_CHECK=step "$bin/gpu_check"
grep -E "step|mean|peak" "$log/step.txt" | head -6
echo "== inference, the same network, 100 N-MNIST recordings, T = 300, dense synapses"
if [ "${BURN_SNN_ALLOW_SOFTWARE:-0}" = 1 ]; then
    echo "(skipped on lavapipe: minutes of software rasterizing)"
else
    run inference 120 env BURN_SNN_BENCH_DEVICE=wgpu BURN_SNN_CHECK=inference "$bin/gpu_check"
    grep -E "samples/s|rates" "$log/inference.txt"
fi
echo
echo "| check | exit | seconds |"
echo "|---|---|---|"
awk '{print "| " $1 " | " $2 " | " $3 " |"}' "$log/status"
echo "(logs: $log)"
! awk '$2 != 0 {bad=1} END {exit !bad}' "$log/status"
RUN
chmod +x "$out/run.sh"

size_kib="$(du -sk "$out" | cut -f1)"
echo "== bundle: $out, $((size_kib / 1024)) MiB"
du -sh "$out"/bin/* "$out"/lib/* "$out"/data 2>/dev/null || true
if [ "$size_kib" -gt $((60 * 1024)) ]; then
    echo "error: the bundle is over 60 MiB" >&2
    exit 1
fi
