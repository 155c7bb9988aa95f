//! `--resume`: a run stopped after an epoch and resumed ends exactly where an uninterrupted run
//! ends (same samples per epoch, model and optimizer state restored), and writes its reports.

use burn::tensor::Device;
use burn_snn::data::SaccadeShapes;
use burn_snn::train::{ExperimentConfig, LossKind, RunOptions, train};

fn config(epochs: usize) -> ExperimentConfig {
    ExperimentConfig::new("16x16x2-n4c3-p2-n4".into())
        .with_steps(40)
        .with_batch_size(8)
        .with_epochs(epochs)
        .with_samples_per_epoch(48)
        .with_loss(LossKind::SpikeCount {
            true_count: 12.0,
            false_count: 2.0,
        })
}

fn device() -> Device {
    #[cfg(feature = "flex")]
    return Device::flex().autodiff();
    #[cfg(not(feature = "flex"))]
    return Device::default().autodiff();
}

#[test]
fn resumed_run_matches_an_uninterrupted_one() {
    let (train_data, valid) = (SaccadeShapes::new(96, 1), SaccadeShapes::new(32, 2));
    let root = std::env::temp_dir().join(format!("burn-snn-resume-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let run = |cfg: &ExperimentConfig, dir: &str, resume: bool| {
        let opts = RunOptions {
            dir: root.join(dir),
            resume,
            progress_every: 0,
        };
        train(cfg, &train_data, &valid, Some(&valid), &device(), &opts).expect("training")
    };
    let straight = run(&config(3), "straight", false);
    run(&config(2), "resumed", false);
    let resumed = run(&config(3), "resumed", true);
    assert_eq!(resumed.state.history.len(), 3);
    for (a, b) in straight.state.history.iter().zip(&resumed.state.history) {
        assert!(
            (a.train.loss - b.train.loss).abs() <= 1e-5 * a.train.loss.abs().max(1.0),
            "epoch {}: {} vs {}",
            a.epoch,
            a.train.loss,
            b.train.loss
        );
        assert_eq!(a.valid.accuracy, b.valid.accuracy, "epoch {}", a.epoch);
    }
    let dir = root.join("resumed");
    for file in [
        "config.json",
        "metrics.csv",
        "accuracy.svg",
        "loss.svg",
        "rates.svg",
        "model-best.bpk",
        "result.json",
        "checkpoint/state.json",
    ] {
        assert!(dir.join(file).is_file(), "{file} missing");
    }
    let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(csv.starts_with(
        "epoch,train_loss,train_accuracy,valid_loss,valid_accuracy,seconds,train_rate_layer1"
    ));
    std::fs::remove_dir_all(&root).unwrap();
}
