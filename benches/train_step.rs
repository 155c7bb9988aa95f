//! One full training step (forward, backward, AdaBelief update) of the paper's Table 2 N-MNIST
//! network `34x34x2-n8c3-{n16c3}*5-n16c3-{n32c3}*5-10` with PSP-LN, batch 10, on the CPU.
//! Prints the time per step and the peak memory (the process's peak resident set).
//!
//! With the `train` feature the same steps then run through burn-train's `Learner`
//! (`train_step` + `optimizer_step` on [`SnnClassifier`], which adds the firing-rate recording
//! and the fused finiteness check): the ratio of the two means is the engine's cost.
//! `BURN_SNN_BENCH_VARIANT=plain` or `learner` runs one of them only (one per process, so that
//! neither inherits the other's heap).
//!
//! Subnormal values are flushed to zero (`burn_snn::device::flush_denormals`; without it the
//! backward pass slows down step after step, 2–8× within four steps at T = 100;
//! `BURN_SNN_FTZ=0` measures that).
//!
//! Run: `cargo bench --bench train_step` (`BURN_SNN_BENCH_T` sets T; default 100, the issue's
//! setting; the paper trains N-MNIST with T = 300). Other knobs: `BURN_SNN_SYNAPSE`
//! (`auto|dense|events`), `BURN_SNN_BENCH_WEIGHT_SCALE` and `BURN_SNN_BENCH_LR` (40 and 0 keep
//! every layer at the 1–8% firing rates of trained networks), `BURN_SNN_BENCH_ITERS`,
//! `BURN_SNN_BENCH_SEED` (the initialization's and the input's seed, default 2022),
//! `BURN_SNN_BENCH_BACKWARD` (`recompute` (default) or `keep`: `BackwardMemory`), and for
//! the plain variant another network, `BURN_SNN_BENCH_SPEC` (e.g. F-MNIST's cpu-small
//! `34x34x1-n8c3-p2-n16c3-p2-n32c3-10`) with `BURN_SNN_BENCH_INPUT_RATE` (default 0.01).

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Distribution, Int, Tensor};
use burn_snn::kernels::BackwardMemory;
use burn_snn::model::{SpikeCountLossConfig, SpikingNetwork, SpikingNetworkConfig};
use burn_snn::neuron::LayerSettings;
use burn_snn::norm::Normalization;
use burn_snn::optim::AdaBeliefConfig;
use burn_snn::synapse::SynapseKernel;
use std::time::Instant;

const SPEC: &str = "34x34x2-n8c3-{n16c3}*5-n16c3-{n32c3}*5-10";

/// The network of the plain variant: `BURN_SNN_BENCH_SPEC` (e.g. the F-MNIST cpu-small
/// `34x34x1-n8c3-p2-n16c3-p2-n32c3-10`), Table 2's N-MNIST network by default.
fn spec() -> String {
    std::env::var("BURN_SNN_BENCH_SPEC").unwrap_or_else(|_| SPEC.to_string())
}

/// `[channels, height, width]` of a spec's input (`HxWxC-...`).
fn input_dims(spec: &str) -> [usize; 3] {
    let dims: Vec<usize> = spec
        .split('-')
        .next()
        .and_then(|first| first.split('x').map(|d| d.parse().ok()).collect())
        .unwrap_or_else(|| panic!("BURN_SNN_BENCH_SPEC: expected HxWxC-..., got {spec}"));
    assert_eq!(
        dims.len(),
        3,
        "BURN_SNN_BENCH_SPEC: expected HxWxC-..., got {spec}"
    );
    [dims[2], dims[0], dims[1]]
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The layers' settings of both variants: PSP-LN, Table 1 otherwise, `steps` time steps, and
/// the synapse kernel of `BURN_SNN_SYNAPSE` (`auto` (default), `dense`, `events`).
fn settings(steps: usize) -> LayerSettings {
    LayerSettings::new()
        .with_norm(Normalization::PspLayer)
        .with_num_steps(steps)
        .with_synapse_kernel(synapse_kernel())
        .with_backward_memory(backward_memory())
        .with_weight_scale(env_or("BURN_SNN_BENCH_WEIGHT_SCALE", 10.0))
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn synapse_kernel() -> SynapseKernel {
    match std::env::var("BURN_SNN_SYNAPSE").as_deref() {
        Ok("dense") => SynapseKernel::Dense,
        Ok("events") => SynapseKernel::Events,
        Ok("auto") | Err(_) => SynapseKernel::Auto,
        Ok(other) => panic!("BURN_SNN_SYNAPSE: expected auto, dense or events, got {other}"),
    }
}

fn backward_memory() -> BackwardMemory {
    match std::env::var("BURN_SNN_BENCH_BACKWARD").as_deref() {
        Ok("keep") => BackwardMemory::Keep,
        Ok("recompute") | Err(_) => BackwardMemory::Recompute,
        Ok(other) => panic!("BURN_SNN_BENCH_BACKWARD: expected recompute or keep, got {other}"),
    }
}

/// The CPU (Flex), or the GPU with `BURN_SNN_BENCH_DEVICE=wgpu` (feature `wgpu`).
fn bench_device() -> Device {
    #[cfg(feature = "wgpu")]
    if std::env::var("BURN_SNN_BENCH_DEVICE").as_deref() == Ok("wgpu") {
        return Device::wgpu(burn::tensor::DeviceKind::DefaultDevice);
    }
    #[cfg(feature = "cuda")]
    if std::env::var("BURN_SNN_BENCH_DEVICE").as_deref() == Ok("cuda") {
        return Device::cuda(0);
    }
    burn_snn::device::cpu()
}

pub fn main() {
    // `BURN_SNN_KEEP_HEAP=0` measures glibc's default behaviour.
    let keep = std::env::var("BURN_SNN_KEEP_HEAP").map_or(true, |v| v != "0");
    let kept = keep && burn_snn::memory::keep_freed_memory();
    let steps: usize = std::env::var("BURN_SNN_BENCH_T")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(100);
    let iterations: usize = std::env::var("BURN_SNN_BENCH_ITERS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(3);
    // `BURN_SNN_FTZ=0` keeps subnormal arithmetic (see `device::flush_denormals`).
    let flushed = std::env::var("BURN_SNN_FTZ").map_or(true, |v| v != "0")
        && burn_snn::device::flush_denormals();
    let device = bench_device().autodiff();
    // Seeded (`BURN_SNN_BENCH_SEED`, default 2022): two builds measure the same weights and
    // inputs.
    device.seed(env_or("BURN_SNN_BENCH_SEED", 2022u64));
    // `BURN_SNN_BENCH_LR=0` keeps the weights, and so the firing rates, of the initialization.
    let lr: f64 = env_or("BURN_SNN_BENCH_LR", 1e-2);
    let spec = spec();
    let mut model = SpikingNetworkConfig::new(spec.parse().expect("a valid string"))
        .with_settings(settings(steps))
        .init(&device);
    let mut optim = AdaBeliefConfig::new().with_weight_decay(1e-4).init();
    let loss_fn = SpikeCountLossConfig::new(steps as f64 / 5.0, steps as f64 / 50.0).init();
    // `BURN_SNN_BENCH_INPUT_RATE`: the input's spike probability (N-MNIST's events: ~1%;
    // rate-coded F-MNIST images: ~30%).
    let [c, h, w] = input_dims(&spec);
    let input = Tensor::<5>::random(
        [10, steps, c, h, w],
        Distribution::Bernoulli(env_or("BURN_SNN_BENCH_INPUT_RATE", 0.01)),
        &device,
    );
    let labels = Tensor::<1, Int>::from_ints([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], &device);
    println!(
        "train_step: {spec}, PSP-LN, batch 10, T = {steps}, synapses {:?}, backward {:?}, freed memory kept in the heap: {kept}, denormals flushed: {flushed}",
        synapse_kernel(),
        backward_memory()
    );
    let variant = std::env::var("BURN_SNN_BENCH_VARIANT").unwrap_or_default();
    assert!(
        spec == SPEC || variant == "plain",
        "BURN_SNN_BENCH_SPEC needs BURN_SNN_BENCH_VARIANT=plain (the learner variant runs Table 2)"
    );
    if variant == "learner" {
        #[cfg(feature = "train")]
        learner_steps(&device, steps, iterations, input, labels, f64::NAN);
        return;
    }
    print_rates("at the start", &model, &input);
    let mut times = Vec::new();
    for i in 0..=iterations {
        let start = Instant::now();
        let out = model.forward(input.clone());
        let loss = loss_fn.forward(out, labels.clone());
        let t_forward = start.elapsed();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let t_backward = start.elapsed();
        model = optim.step(lr, model, grads);
        device.sync().expect("sync");
        let total = start.elapsed();
        println!(
            "  step {i}{}: forward {:.2} s, +backward {:.2} s, total {:.2} s",
            if i == 0 { " (warm-up)" } else { "" },
            t_forward.as_secs_f64(),
            (t_backward - t_forward).as_secs_f64(),
            total.as_secs_f64()
        );
        if i > 0 {
            times.push(total.as_secs_f64());
        }
    }
    print_rates("after the steps", &model, &input);
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    println!("mean step time: {mean:.3} s over {} steps", times.len());
    if let Some(peak) = peak_rss_mib() {
        println!("peak memory (VmHWM): {peak:.0} MiB");
    }
    #[cfg(feature = "train")]
    if variant != "plain" {
        learner_steps(&device, steps, iterations, input, labels, mean);
    }
}

/// Prints every layer's firing rate on `input` (an extra forward pass, outside the timing,
/// without autodiff: a tracked pass would leave its graph alive until the next backward pass
/// and add its size to the peak memory).
fn print_rates(when: &str, model: &SpikingNetwork, input: &Tensor<5>) {
    let (_, rates) = model.valid().forward_with_rates(input.clone().inner());
    let rates: Vec<String> = rates
        .to_vec()
        .iter()
        .map(|(_, r)| format!("{:.1}", 100.0 * r))
        .collect();
    println!("  firing rates (%) {when}: {}", rates.join(" "));
}

/// The same steps through burn-train's `Learner`.
#[cfg(feature = "train")]
fn learner_steps(
    device: &Device,
    steps: usize,
    iterations: usize,
    input: Tensor<5>,
    labels: Tensor<1, Int>,
    plain_mean: f64,
) {
    use burn::train::Learner;
    use burn_snn::data::SpikeBatch;
    use burn_snn::model::SnnModelConfig;
    use burn_snn::train::{LossKind, SnnClassifierConfig};

    let model = SnnModelConfig::new(SPEC.parse().expect("a valid string"), [2, 34, 34], 10)
        .with_settings(settings(steps));
    let classifier = SnnClassifierConfig::new(
        model,
        LossKind::SpikeCount {
            true_rate: 0.2,
            false_rate: 0.02,
        },
    )
    .init(device);
    let optim = AdaBeliefConfig::new().with_weight_decay(1e-4).init();
    let mut learner = Learner::new(classifier, optim, 1e-2);
    let mut times = Vec::new();
    for i in 0..=iterations {
        let start = Instant::now();
        let out = learner.train_step(SpikeBatch {
            spikes: input.clone(),
            labels: labels.clone(),
        });
        learner.lr_step();
        learner.optimizer_step(out.grads);
        device.sync().expect("sync");
        let total = start.elapsed().as_secs_f64();
        println!(
            "  learner step {i}{}: total {total:.2} s",
            if i == 0 { " (warm-up)" } else { "" }
        );
        if i > 0 {
            times.push(total);
        }
    }
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    println!(
        "mean Learner step time: {mean:.2} s over {} steps ({:.3}× the plain step)",
        times.len(),
        mean / plain_mean
    );
}
