//! Streaming inference, one time step (1 ms of events) at a time: steps per second, real-time
//! factor (sensor time / processing time) and per-step latency (p50, p99) at batch 1 and 16,
//! for the cpu-small network `34x34x2-n8c3-p2-n16c3-p2-n32c3-10` and the Table 2 N-MNIST network
//! `34x34x2-n8c3-{n16c3}*5-n16c3-{n32c3}*5-10`, on the N-MNIST test recordings of
//! `$BURN_SNN_DATA/nmnist-small` binned to 300 steps of 1 ms, at two firing-rate levels.
//!
//! The networks are seeded initializations (`BURN_SNN_BENCH_SEED`, default 2022) whose weight
//! scale sets the firing rates: each level's scale is printed with the rates it gives (the mean
//! over hidden layers of four recordings). Normalization: `BURN_SNN_BENCH_NORM` (default
//! `psp-ln`, streamed with its statistic calibrated on those recordings, or
//! `BURN_SNN_BENCH_LN=running`).
//!
//! First, a stream's memory against its length: the cpu-small network at batch 1 streams 60 s
//! (60,000 steps, the recordings replayed in a loop); the state's size and the process's peak
//! resident memory after 1 s and after 60 s (`BURN_SNN_BENCH_LONG=0` skips it). Threads: the process's rayon pool, so run
//! it once per `RAYON_NUM_THREADS`. Each case streams the 300 steps `BURN_SNN_BENCH_ROUNDS`
//! times (default 3) and reports the best; latencies are over every round.
//!
//! Run: `BURN_SNN_DATA=../shared/data RAYON_NUM_THREADS=2 cargo bench --bench streaming`

use burn::data::dataloader::batcher::Batcher;
use burn::tensor::Tensor;
use burn_snn::data::{Binning, NmnistBatcher, NmnistDataset, Split};
use burn_snn::functional::CausalLayerNorm;
use burn_snn::model::{NetworkSpec, SpikingNetwork, SpikingNetworkConfig, Streaming};
use burn_snn::neuron::LayerSettings;
use burn_snn::norm::Normalization;
use std::time::Instant;

const STEPS: usize = 300;

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let Some(root) = std::env::var_os("BURN_SNN_DATA") else {
        println!("streaming: set BURN_SNN_DATA to the directory holding nmnist-small/");
        return;
    };
    burn_snn::memory::keep_freed_memory();
    burn_snn::device::flush_denormals();
    let device = burn_snn::device::cpu();
    let norm: Normalization = std::env::var("BURN_SNN_BENCH_NORM")
        .ok()
        .map(|v| v.parse().expect("a normalization"))
        .unwrap_or(Normalization::PspLayer);
    let seed: u64 = env("BURN_SNN_BENCH_SEED", 2022);
    let rounds: usize = env("BURN_SNN_BENCH_ROUNDS", 3);
    let dataset = NmnistDataset::from_dir(
        std::path::Path::new(&root).join("nmnist-small"),
        Split::Test,
    )
    .expect("the N-MNIST test files");
    let items: Vec<_> = (0..32)
        .map(|i| dataset.read(i).expect("a valid sample"))
        .collect();
    let batcher = NmnistBatcher {
        binning: Binning {
            steps: STEPS,
            dt_us: 1000,
        },
    };
    let input = batcher.batch(items, &device).spikes;
    let threads = rayon::current_num_threads();
    println!("streaming: {norm}, steps of 1 ms, {threads} thread(s)");
    // First, so that the peak memory it reports is its own.
    if env("BURN_SNN_BENCH_LONG", 1) == 1 {
        long_stream(&input, norm, seed, &device);
    }
    // (name, spec, weight scales of the two firing-rate levels)
    let networks = [
        (
            "cpu-small",
            "34x34x2-n8c3-p2-n16c3-p2-n32c3-10",
            [40.0, 100.0],
        ),
        (
            "table2",
            "34x34x2-n8c3-{n16c3}*5-n16c3-{n32c3}*5-10",
            [40.0, 100.0],
        ),
    ];
    // `BURN_SNN_BENCH_ONLY=table2` (or `cpu-small`) and `BURN_SNN_BENCH_BATCH=1` (or 16) run one
    // case, e.g. for a profile.
    let only = std::env::var("BURN_SNN_BENCH_ONLY").ok();
    let batches: Vec<usize> = match std::env::var("BURN_SNN_BENCH_BATCH") {
        Ok(b) => vec![b.parse().expect("a batch size")],
        Err(_) => vec![1, 16],
    };
    // Steps per call: 1 (step by step) and 10 (10 ms of latency), or `BURN_SNN_BENCH_CHUNK`.
    let chunks: Vec<usize> = match std::env::var("BURN_SNN_BENCH_CHUNK") {
        Ok(c) => c
            .split(',')
            .map(|c| c.parse().expect("a chunk size"))
            .collect(),
        Err(_) => vec![1, 10],
    };
    for (name, spec, scales) in networks {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        // `BURN_SNN_BENCH_SCALES=a,b` replaces the weight scales (to find the rate levels).
        let scales: Vec<f64> = match std::env::var("BURN_SNN_BENCH_SCALES") {
            Ok(s) => s
                .split(',')
                .map(|v| v.parse().expect("a weight scale"))
                .collect(),
            Err(_) => scales.to_vec(),
        };
        for scale in scales {
            let net = network(spec, norm, scale, seed, &device);
            let (_, rates) = net.forward_with_rates(input.clone().narrow(0, 0, 4));
            let rates: Vec<f64> = rates.to_vec().iter().map(|(_, r)| f64::from(*r)).collect();
            let hidden = &rates[..rates.len() - 1];
            let mean = hidden.iter().sum::<f64>() / hidden.len() as f64;
            let (min, max) = hidden
                .iter()
                .fold((f64::MAX, 0.0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
            // PSP-LN's causal form: calibrated on the rate batch (an untrained network has no
            // trained average), or `BURN_SNN_BENCH_LN=running`.
            let form = match std::env::var("BURN_SNN_BENCH_LN").as_deref() {
                Ok("running") => CausalLayerNorm::Running,
                Ok("calibrated") | Err(_) => {
                    net.calibrate_layer_norm([input.clone().narrow(0, 0, 4)])
                }
                Ok(other) => {
                    panic!("BURN_SNN_BENCH_LN: expected running or calibrated, got {other}")
                }
            };
            for &batch in &batches {
                for &chunk in &chunks {
                    let x = input.clone().narrow(0, 0, batch);
                    let mut state = net.stream(batch, &device).with_layer_norm(form.clone());
                    // Warm-up: a few chunks, then a fresh stream.
                    for t in 0..3 {
                        let frames = x.clone().slice([0..batch, t * chunk..(t + 1) * chunk]);
                        net.forward_chunk(&mut state, frames)
                            .expect("no step limit");
                    }
                    // The 300 steps `rounds` times, each a fresh stream; the best total and
                    // the latencies of every chunk.
                    let mut latencies = Vec::new();
                    let mut total = f64::INFINITY;
                    for _ in 0..rounds {
                        state.reset();
                        let chunks_in: Vec<Tensor<5>> = (0..STEPS / chunk)
                            .map(|i| x.clone().slice([0..batch, i * chunk..(i + 1) * chunk]))
                            .collect();
                        let start = Instant::now();
                        for frames in chunks_in {
                            let t0 = Instant::now();
                            let out = net
                                .forward_chunk(&mut state, frames)
                                .expect("no step limit");
                            // The chunk is done when its output is on the host.
                            let _ = out.into_data();
                            latencies.push(t0.elapsed().as_secs_f64());
                        }
                        total = total.min(start.elapsed().as_secs_f64());
                    }
                    latencies.sort_by(f64::total_cmp);
                    let pct =
                        |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
                    let steps = (STEPS / chunk * chunk) as f64;
                    println!(
                        "  {name:>9} scale {scale:>4}: rates {:.1}% mean ({:.1}–{:.1}%), batch {batch:>2}, chunks of {chunk:>2} step(s): {:>7.0} steps/s, real time ×{:.2} ({} stream(s): ×{:.2} in all), per chunk p50 {:.3} ms, p99 {:.3} ms, state {} KiB",
                        100.0 * mean,
                        100.0 * min,
                        100.0 * max,
                        steps / total,
                        steps * 1e-3 / total,
                        batch,
                        batch as f64 * steps * 1e-3 / total,
                        pct(0.5) * 1e3,
                        pct(0.99) * 1e3,
                        state.memory_bytes() / 1024,
                    );
                }
            }
        }
    }
}

/// The seeded network of `spec` with `norm` where the string marks it.
fn network(
    spec: &str,
    norm: Normalization,
    weight_scale: f64,
    seed: u64,
    device: &burn::tensor::Device,
) -> SpikingNetwork {
    device.seed(seed);
    let spec = NetworkSpec::parse(spec)
        .expect("a valid string")
        .with_norm_markers(norm);
    SpikingNetworkConfig::new(spec)
        .with_settings(
            LayerSettings::new()
                .with_norm(norm)
                .with_num_steps(STEPS)
                .with_weight_scale(weight_scale),
        )
        .init(device)
}

/// The cpu-small network streams 60 s at batch 1: memory after 1 s and after 60 s.
fn long_stream(input: &Tensor<5>, norm: Normalization, seed: u64, device: &burn::tensor::Device) {
    let net = network(
        "34x34x2-n8c3-p2-n16c3-p2-n32c3-10",
        norm,
        20.0,
        seed,
        device,
    );
    let form = net.calibrate_layer_norm([input.clone().narrow(0, 0, 4)]);
    let mut state = net.stream(1, device).with_layer_norm(form);
    let frames: Vec<Tensor<4>> = (0..STEPS)
        .map(|t| input.clone().slice([0..1, t..t + 1]).squeeze_dim::<4>(1))
        .collect();
    let start = Instant::now();
    for (step, frame) in frames.iter().cycle().take(60_000).enumerate() {
        let _ = net
            .step(&mut state, frame.clone())
            .expect("no step limit")
            .into_data();
        if step + 1 == 1000 || step + 1 == 60_000 {
            println!(
                "  cpu-small, batch 1, {:>2} s streamed ({} steps, {:.1} s): state {} KiB, resident memory {} MiB (peak {} MiB)",
                (step + 1) / 1000,
                step + 1,
                start.elapsed().as_secs_f64(),
                state.memory_bytes() / 1024,
                proc_status_kib("VmRSS:") / 1024,
                proc_status_kib("VmHWM:") / 1024
            );
        }
    }
}

/// A memory figure of the process from `/proc/self/status` (`VmRSS:`, `VmHWM:`), KiB; 0
/// where `/proc` does not say.
fn proc_status_kib(key: &str) -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
