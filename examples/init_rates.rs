//! Per-layer firing rates at initialization (no training) of Table 2's 13-layer networks and
//! of pre/post-activation ResNet-32, on ten real samples: which networks carry activity to
//! their output before any learning, the property the cpu-deep presets were chosen on
//! (docs/results.md, "Deep networks").
//!
//! ```sh
//! cargo run --release --example init_rates -- ../shared/data/nmnist-small 16 1 20
//! cargo run --release --example init_rates -- ../shared/data/fashion-mnist 16 1 20
//! ```
//!
//! Arguments: data directory (N-MNIST where it holds `Train/`, Fashion-MNIST's IDX files
//! otherwise), T, τs = τr (steps; `τs:τr` for two values, e.g. `5:1` as the τs sweep runs),
//! weight scale. Prints one line
//! per network: the mean firing rate of every spiking layer, in % of neurons per step.
//! Fashion-MNIST images are resized to 34×34 and rate-coded over the T steps, as the `fmnist`
//! example does. Optional fifth argument `fair`: BN and BNTT start with their scale at θ
//! (`MembraneNormOptions::fair_start`, not the paper's setting).

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn_snn::SrmConfig;
use burn_snn::block::BlockKind;
use burn_snn::data::{
    Binning, ImageBatcher, ImageDataset, ImageEncoder, NmnistBatcher, NmnistDataset, SpikeEncoding,
    Split,
};
use burn_snn::model::{Architecture, FiringRates, PaperDataset, SnnModelConfig, table2_arch};
use burn_snn::neuron::LayerSettings;
use burn_snn::norm::{MembraneNormOptions, Normalization};
use std::path::Path;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (dir, steps, tau, scale, fair) = match args.as_slice() {
        [dir, steps, tau, scale] => (dir, steps, tau, scale, false),
        [dir, steps, tau, scale, fair] if fair == "fair" => (dir, steps, tau, scale, true),
        _ => {
            eprintln!(
                "usage: init_rates <nmnist or fashion-mnist dir> <T> <tau or tau_s:tau_r> <weight scale> [fair]"
            );
            std::process::exit(2);
        }
    };
    let number = |s: &str| -> f64 {
        s.parse().unwrap_or_else(|_| {
            eprintln!("error: {s:?} is not a number");
            std::process::exit(2)
        })
    };
    let (steps, scale) = (number(steps) as usize, number(scale));
    let (tau_s, tau_r) = match tau.split_once(':') {
        Some((s, r)) => (number(s), number(r)),
        None => (number(tau), number(tau)),
    };
    // Training mode (autodiff device): PSP-BN and the membrane norms use batch statistics.
    let device = burn_snn::device::cpu().autodiff();
    let fail = |e: &dyn std::fmt::Display| -> ! {
        eprintln!("error: {e}");
        std::process::exit(1)
    };
    let fashion = !Path::new(dir).join("Train").is_dir();
    let (dataset, batch) = if fashion {
        let data = ImageDataset::from_dir(dir, Split::Train).unwrap_or_else(|e| fail(&e));
        let items = (0..10)
            .map(|i| data.get(i))
            .collect::<Result<Vec<_>, _>>()
            .unwrap_or_else(|e| fail(&e));
        let encoder = ImageEncoder {
            steps,
            side: 34,
            encoding: SpikeEncoding::Rate,
            seed: 2022,
        };
        let batch = ImageBatcher { encoder }.batch(items, &device);
        (PaperDataset::FashionMnist, batch)
    } else {
        let data = NmnistDataset::from_dir(dir, Split::Train).unwrap_or_else(|e| fail(&e));
        // Ten samples spread over the digits (the files are stored class by class).
        let items = (0..10)
            .map(|i| data.read(i * data.len() / 10))
            .collect::<Result<Vec<_>, _>>()
            .unwrap_or_else(|e| fail(&e));
        let binning = Binning {
            steps,
            dt_us: (300_000 / steps) as u32,
        };
        let batch = NmnistBatcher { binning }.batch(items, &device);
        (PaperDataset::Nmnist, batch)
    };
    let input = batch.spikes.dims();
    let input = [input[2], input[3], input[4]];
    println!(
        "{dataset:?}: T = {steps}, τs = {tau_s}, τr = {tau_r}, weight scale {scale}{}; rates in % per step",
        if fair { ", fair start" } else { "" }
    );
    let settings = |norm| {
        LayerSettings::new()
            .with_norm(norm)
            .with_num_steps(steps)
            .with_weight_scale(scale)
            .with_srm(SrmConfig::new().with_tau_s(tau_s).with_tau_r(tau_r))
            .with_membrane(MembraneNormOptions::new().with_fair_start(fair))
    };
    let show = |name: &str, rates: FiringRates| {
        let rates: Vec<String> = rates
            .to_vec()
            .iter()
            .map(|(_, r)| format!("{:.3}", 100.0 * r))
            .collect();
        println!("{name:>14}: {}", rates.join(" "));
    };
    let mut models: Vec<(String, Architecture, Normalization)> = Normalization::ALL
        .iter()
        .map(|&norm| {
            let arch = table2_arch(dataset, norm).parse().unwrap();
            (format!("13 layers {norm}"), arch, norm)
        })
        .collect();
    for kind in [BlockKind::Pre, BlockKind::Post] {
        for norm in [Normalization::None, Normalization::PspLayer] {
            let arch = Architecture::ResNet {
                depth: 32,
                kind,
                // The cpu-deep presets' widths.
                widths: vec![8, 16],
            };
            models.push((format!("{arch} {norm}"), arch, norm));
        }
    }
    for (name, arch, norm) in models {
        device.seed(2022);
        let model = SnnModelConfig::new(arch, input, 10)
            .with_settings(settings(norm))
            .init(&device);
        let (_, rates) = model.forward_with_rates(batch.spikes.clone());
        show(&name, rates);
    }
}
