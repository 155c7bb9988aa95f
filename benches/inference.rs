//! Inference throughput in samples per second: the forward pass without autodiff (spike counts
//! → predicted class) of the Table 2 N-MNIST network `34x34x2-n8c3-{n16c3}*5-n16c3-{n32c3}*5-10`
//! with PSP-LN on the 100 N-MNIST test files of `$BURN_SNN_DATA/nmnist-small` (T = 300,
//! batches of 10), with dense synapses and with event-driven ones, on the CPU. Both networks
//! hold the same weights; the bench checks that they predict the same classes.
//!
//! The weights are an initialization with weight scale 40 (`BURN_SNN_BENCH_WEIGHT_SCALE`): at
//! the paper's scale of 10 an untrained network of this depth is silent after a few layers,
//! which no trained network is; at 40 every layer fires at 1–5%, the rates trained networks
//! have (`runs/…/metrics.csv`). Samples are decoded and binned once, outside the timing.
//!
//! The initialization is seeded (`BURN_SNN_BENCH_SEED`, default 2022), so that two builds
//! measure the same network; `BURN_SNN_SYNAPSE=dense|events` times one path only.
//! `BURN_SNN_BENCH_DEVICE=wgpu` (feature `wgpu`) or `cuda` (feature `cuda`) runs the dense
//! path on the GPU (the event loops are CPU kernels).
//!
//! Run: `BURN_SNN_DATA=../shared/data cargo bench --bench inference`

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::module::Module;
use burn_snn::data::{NmnistBatcher, NmnistDataset, SpikeBatch, Split};
use burn_snn::model::{SpikingNetwork, SpikingNetworkConfig, predict, spike_counts};
use burn_snn::neuron::LayerSettings;
use burn_snn::norm::Normalization;
use burn_snn::synapse::SynapseKernel;
use std::time::Instant;

const SPEC: &str = "34x34x2-n8c3-{n16c3}*5-n16c3-{n32c3}*5-10";

pub fn main() {
    let Some(root) = std::env::var_os("BURN_SNN_DATA") else {
        println!("inference: set BURN_SNN_DATA to the directory holding nmnist-small/");
        return;
    };
    burn_snn::memory::keep_freed_memory();
    burn_snn::device::flush_denormals();
    let scale: f64 = std::env::var("BURN_SNN_BENCH_WEIGHT_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40.0);
    let rounds: usize = std::env::var("BURN_SNN_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let device = bench_device();
    let on_gpu = device != burn_snn::device::cpu();
    let seed: u64 = std::env::var("BURN_SNN_BENCH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2022);
    device.seed(seed);
    let paths: Vec<&str> = match std::env::var("BURN_SNN_SYNAPSE").as_deref() {
        _ if on_gpu => vec!["dense"],
        Ok("dense") => vec!["dense"],
        Ok("events") => vec!["events"],
        Ok("both") | Err(_) => vec!["dense", "events"],
        Ok(other) => panic!("BURN_SNN_SYNAPSE: expected dense, events or both, got {other}"),
    };
    let dataset = NmnistDataset::from_dir(
        std::path::Path::new(&root).join("nmnist-small"),
        Split::Test,
    )
    .expect("the N-MNIST test files");
    let items: Vec<_> = (0..dataset.len())
        .map(|i| dataset.read(i).expect("a valid sample"))
        .collect();
    let batcher = NmnistBatcher::default();
    let batches: Vec<SpikeBatch> = items
        .chunks(10)
        .map(|chunk| batcher.batch(chunk.to_vec(), &device))
        .collect();
    let net = |kernel| -> SpikingNetwork {
        SpikingNetworkConfig::new(SPEC.parse().expect("a valid string"))
            .with_settings(
                LayerSettings::new()
                    .with_norm(Normalization::PspLayer)
                    .with_weight_scale(scale)
                    .with_synapse_kernel(kernel),
            )
            .init(&device)
    };
    let dense = net(SynapseKernel::Dense);
    // The event loops run on the CPU backends only; on a GPU the dense network stands in.
    let events = match on_gpu {
        true => dense.clone(),
        false => net(SynapseKernel::Events).load_record(dense.clone().into_record()),
    };
    println!(
        "inference: {SPEC}, PSP-LN, weight scale {scale}, {} N-MNIST test samples, T = 300, batches of 10, on {device:?}",
        items.len()
    );
    let (_, rates) = dense.forward_with_rates(batches[0].spikes.clone());
    let rates: Vec<String> = rates
        .to_vec()
        .iter()
        .map(|(_, r)| format!("{:.1}", 100.0 * r))
        .collect();
    println!("  firing rates (%, first batch): {}", rates.join(" "));
    let mut predictions = Vec::new();
    for (name, model) in [("dense", &dense), ("events", &events)] {
        if !paths.contains(&name) {
            continue;
        }
        // One warm-up batch, then every batch once (`BURN_SNN_BENCH_ROUNDS` times).
        let _ = model.forward(batches[0].spikes.clone());
        let mut times = Vec::new();
        let mut predicted = Vec::new();
        for round in 0..rounds {
            let start = Instant::now();
            for batch in &batches {
                let classes = predict(spike_counts(model.forward(batch.spikes.clone())));
                let classes: Vec<i64> = classes
                    .into_data()
                    .convert::<i64>()
                    .try_to_vec::<i64>()
                    .unwrap();
                if round == 0 {
                    predicted.extend(classes);
                }
            }
            times.push(start.elapsed().as_secs_f64());
        }
        let best = times.iter().cloned().fold(f64::INFINITY, f64::min);
        println!(
            "  {name:>6}: {:.1} samples/s ({:.2} s for {} samples, best of {:?})",
            items.len() as f64 / best,
            best,
            items.len(),
            times.iter().map(|t| format!("{t:.2}")).collect::<Vec<_>>()
        );
        predictions.push(predicted);
    }
    if predictions.len() < 2 {
        return;
    }
    let same = predictions[0]
        .iter()
        .zip(&predictions[1])
        .filter(|(a, b)| a == b)
        .count();
    println!("  same predicted class: {same} of {}", predictions[0].len());
}

/// The CPU (Flex), or the GPU with `BURN_SNN_BENCH_DEVICE=wgpu` (feature `wgpu`) or `cuda`.
fn bench_device() -> burn::tensor::Device {
    #[cfg(feature = "wgpu")]
    if std::env::var("BURN_SNN_BENCH_DEVICE").as_deref() == Ok("wgpu") {
        return burn::tensor::Device::wgpu(burn::tensor::DeviceKind::DefaultDevice);
    }
    #[cfg(feature = "cuda")]
    if std::env::var("BURN_SNN_BENCH_DEVICE").as_deref() == Ok("cuda") {
        return burn::tensor::Device::cuda(0);
    }
    burn_snn::device::cpu()
}
