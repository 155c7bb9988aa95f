//! `burn_snn::train::train` on burn-train's `SupervisedTraining`: a run stopped after an epoch
//! and resumed ends exactly where an uninterrupted run ends (same samples per epoch, model and
//! optimizer state restored through Burn's checkpoints) and writes its reports; a non-finite
//! value stops the run naming the parameter, epoch and batch.
#![cfg(feature = "train")]

use burn::tensor::Device;
use burn_snn::data::SaccadeShapes;
use burn_snn::neuron::LayerSettings;
use burn_snn::train::{ExperimentConfig, LossKind, RunOptions, TrainError, train};
use std::sync::Arc;

fn config(epochs: usize) -> ExperimentConfig {
    ExperimentConfig::new("16x16x2-n4c3-p2-n4".parse().unwrap())
        .with_settings(LayerSettings::new().with_num_steps(40))
        .with_batch_size(8)
        .with_epochs(epochs)
        .with_samples_per_epoch(48)
        .with_loss(LossKind::SpikeCount {
            true_rate: 0.3, // 12 spikes over the 40 steps
            false_rate: 0.05,
        })
}

/// The backend's random generator is global: the tests of this file run one at a time so that
/// the seeded initializations do not interleave their draws.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn device() -> Device {
    burn_snn::device::cpu()
}

fn options(dir: std::path::PathBuf, resume: bool) -> RunOptions {
    RunOptions {
        resume,
        progress_every: 0,
        ..RunOptions::new(dir, &device())
    }
}

#[test]
fn resumed_run_matches_an_uninterrupted_one() {
    let _serial = serial();
    let train_data = Arc::new(SaccadeShapes::new(96, 1));
    let valid = Arc::new(SaccadeShapes::new(32, 2));
    let root = std::env::temp_dir().join(format!("burn-snn-resume-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let run = |cfg: &ExperimentConfig, dir: &str, resume: bool| {
        train(
            cfg,
            train_data.clone(),
            valid.clone(),
            Some(valid.clone()),
            &options(root.join(dir), resume),
        )
        .expect("training")
    };
    let straight = run(&config(3), "straight", false);
    run(&config(2), "resumed", false);
    let resumed = run(&config(3), "resumed", true);
    assert_eq!(resumed.history.len(), 3);
    assert_eq!(
        straight.test.as_ref().map(|t| t.accuracy),
        resumed.test.as_ref().map(|t| t.accuracy)
    );
    for (a, b) in straight.history.iter().zip(&resumed.history) {
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
        "checkpoint/model-3.bpk",
        "checkpoint/optim-3.bpk",
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

/// Training batches are asked for with their epoch (so rate coding can draw fresh trains per
/// epoch); evaluation asks for the plain, deterministic batches.
#[test]
fn training_batches_are_drawn_per_epoch_and_evaluation_ones_plainly() {
    let _serial = serial();
    use burn_snn::data::{DataError, SpikeBatch, SpikeData};
    use std::sync::Mutex;

    struct Recording {
        inner: SaccadeShapes,
        train_epochs: Mutex<Vec<usize>>,
        plain: Mutex<usize>,
    }
    impl SpikeData for Recording {
        fn len(&self) -> usize {
            self.inner.len()
        }
        fn batch(&self, indices: &[usize], device: &Device) -> Result<SpikeBatch, DataError> {
            *self.plain.lock().unwrap() += 1;
            self.inner.batch(indices, device)
        }
        fn train_batch(
            &self,
            indices: &[usize],
            epoch: usize,
            device: &Device,
        ) -> Result<SpikeBatch, DataError> {
            self.train_epochs.lock().unwrap().push(epoch);
            self.inner.batch(indices, device)
        }
        fn input_shape(&self) -> [usize; 3] {
            self.inner.input_shape()
        }
        fn classes(&self) -> usize {
            self.inner.classes()
        }
    }
    let data = Arc::new(Recording {
        inner: SaccadeShapes::new(48, 1),
        train_epochs: Mutex::new(Vec::new()),
        plain: Mutex::new(0),
    });
    let dir = std::env::temp_dir().join(format!("burn-snn-epochs-{}", std::process::id()));
    train(
        &config(2),
        data.clone(),
        data.clone(),
        None,
        &options(dir.clone(), false),
    )
    .expect("training");
    // 48 samples per epoch in batches of 8: 6 training batches per epoch.
    assert_eq!(
        *data.train_epochs.lock().unwrap(),
        [vec![0; 6], vec![1; 6]].concat()
    );
    // Validation after each epoch: 6 plain batches each.
    assert_eq!(*data.plain.lock().unwrap(), 12);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A NaN learning rate turns every parameter into NaN at the first update: the second step
/// refuses to update and the run stops with the parameter, epoch 1 and batch 2.
#[test]
fn a_non_finite_parameter_stops_the_run_naming_it() {
    let _serial = serial();
    let data = Arc::new(SaccadeShapes::new(48, 1));
    let dir = std::env::temp_dir().join(format!("burn-snn-nan-{}", std::process::id()));
    let err = train(
        &config(2).with_lr(f64::NAN),
        data.clone(),
        data,
        None,
        &options(dir.clone(), false),
    )
    .expect_err("a NaN learning rate");
    match err {
        TrainError::NonFinite {
            epoch,
            batch,
            detail,
        } => {
            assert_eq!((epoch, batch), (1, 2), "{detail}");
            assert!(detail.starts_with("model.Plain.layers."), "{detail}");
        }
        other => panic!("expected NonFinite, got {other}"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// DDP needs Burn's collectives, which only CUDA has: two CPU devices are refused with an
/// error that says so, before anything is trained.
#[test]
fn ddp_on_cpu_devices_is_refused_clearly() {
    let _serial = serial();
    let data = Arc::new(SaccadeShapes::new(16, 1));
    let dir = std::env::temp_dir().join(format!("burn-snn-ddp-{}", std::process::id()));
    let opts = RunOptions {
        devices: vec![device(), device()],
        strategy: burn_snn::train::MultiDeviceStrategy::Ddp,
        ..options(dir.clone(), false)
    };
    let err = train(&config(1), data.clone(), data, None, &opts).expect_err("DDP on the CPU");
    assert!(
        matches!(&err, TrainError::Engine(m) if m.contains("CUDA devices only")),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
