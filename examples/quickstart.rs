//! Quickstart: train a small PSP-LN spiking network on generated event-camera data.
//!
//! No download, no files: the data are saccading shapes (square, cross, bars, diagonal) seen by
//! a 16×16 event sensor over 40 steps (`burn_snn::data::SaccadeShapes`). The network is
//! `16x16x2-n8c3-p2-n16c3-p2-n4` with PSP layer normalization, trained with AdaBelief.
//!
//! Run: `cargo run --release --example quickstart` (add `-- --small` for a 10-second smoke run,
//! `-- --dense` for dense instead of event-driven synapses).

#[path = "common/logger.rs"]
mod logger;

use burn_snn::SrmConfig;
use burn_snn::data::SaccadeShapes;
use burn_snn::neuron::LayerSettings;
use burn_snn::norm::Normalization;
use burn_snn::synapse::SynapseKernel;
use burn_snn::train::{ExperimentConfig, LossKind, RunOptions, train};
use std::sync::Arc;

fn main() {
    let small = std::env::args().any(|a| a == "--small");
    // `--dense`: dense synapses instead of the event-driven ones (same results up to rounding).
    let kernel = if std::env::args().any(|a| a == "--dense") {
        SynapseKernel::Dense
    } else {
        SynapseKernel::Auto
    };
    logger::init();
    burn_snn::memory::keep_freed_memory();
    burn_snn::device::flush_denormals();
    let (train_len, epochs) = if small { (400, 1) } else { (3000, 6) };
    let train_data = SaccadeShapes::new(train_len, 1);
    let valid_data = SaccadeShapes::new(400, 2);
    let test_data = SaccadeShapes::new(1000, 3);

    let steps = train_data.steps;
    let config = ExperimentConfig::new("16x16x2-n8c3-p2-n16c3-p2-n4".parse().expect("valid"))
        .with_settings(
            LayerSettings::new()
                .with_norm(Normalization::PspLayer)
                .with_num_steps(steps)
                .with_srm(SrmConfig::new().with_tau_s(4.0).with_tau_r(4.0))
                .with_synapse_kernel(kernel),
        )
        .with_batch_size(16)
        .with_epochs(epochs)
        .with_samples_per_epoch(0)
        .with_lr(1e-2)
        .with_loss(LossKind::SpikeCount {
            true_rate: 0.3, // 12 spikes over the 40 steps
            false_rate: 0.05,
        })
        .with_seed(7);
    let dir = std::env::temp_dir().join("burn-snn-quickstart");
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "Training {} on {train_len} generated samples ({epochs} epochs), artifacts in {}",
        config.arch,
        dir.display()
    );
    let start = std::time::Instant::now();
    let device = burn_snn::device::cpu();
    let report = train(
        &config,
        Arc::new(train_data),
        Arc::new(valid_data),
        Some(Arc::new(test_data)),
        &RunOptions::new(dir, &device),
    )
    .unwrap_or_else(|e| panic!("training failed: {e}"));
    let test = report.test.expect("test data was given");
    println!(
        "test accuracy {:.1}% on {} samples after {:.0} s",
        100.0 * test.accuracy,
        test.samples,
        start.elapsed().as_secs_f64()
    );
    if !small && test.accuracy < 0.9 {
        eprintln!("warning: accuracy below the 90% this example usually reaches");
        std::process::exit(1);
    }
}
