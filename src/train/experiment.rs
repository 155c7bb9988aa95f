use crate::model::{
    Architecture, ModelError, SnnModel, SnnModelConfig, SpikeCountCrossEntropyLossConfig,
    SpikeCountLossConfig,
};
use crate::neuron::LayerSettings;
use crate::optim::AdaBeliefConfig;
use burn::config::Config;
use burn::optim::{AdamConfig, ModuleOptimizer, decay::WeightDecayConfig};
use burn::tensor::{Device, Int, Tensor};
use serde::{Deserialize, Serialize};

/// The optimizer of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OptimizerKind {
    /// AdaBelief with the reference implementation's defaults (decoupled weight decay,
    /// rectification), the paper's optimizer.
    AdaBelief,
    /// Adam with L2 weight decay.
    Adam,
}

/// The loss of a run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum LossKind {
    /// SLAYER's spike-count loss. Its targets are rates (spikes per step), so that they scale
    /// with the window: over `T` steps the true class should fire `true_rate·T` times and the
    /// others `false_rate·T` times (see [`LossKind::target_counts`]).
    SpikeCount {
        /// Target spikes per step of the true class.
        true_rate: f64,
        /// Target spikes per step of the other classes.
        false_rate: f64,
    },
    /// Cross-entropy on spike counts.
    CrossEntropy,
}

impl LossKind {
    /// The default spike-count loss: 0.2 spikes per step for the true class and 0.03 for the
    /// others (60 and 9 over the paper's 300 N-MNIST steps, 20 and 3 over its 100 F-MNIST
    /// steps).
    pub const DEFAULT_SPIKE_COUNT: LossKind = LossKind::SpikeCount {
        true_rate: 0.2,
        false_rate: 0.03,
    };

    /// The loss of output spikes `[batch, steps, classes]` against labels `[batch]`, for a
    /// window of `steps` steps.
    pub fn forward(&self, spikes: Tensor<3>, labels: Tensor<1, Int>, steps: usize) -> Tensor<1> {
        match self.target_counts(steps) {
            Some((true_count, false_count)) => SpikeCountLossConfig::new(true_count, false_count)
                .init()
                .forward(spikes, labels),
            None => SpikeCountCrossEntropyLossConfig::new()
                .init(&spikes.device())
                .forward(spikes, labels),
        }
    }

    /// The spike-count targets `(true class, other classes)` over a window of `steps` steps,
    /// if this is the spike-count loss.
    pub fn target_counts(&self, steps: usize) -> Option<(f64, f64)> {
        match *self {
            LossKind::SpikeCount {
                true_rate,
                false_rate,
            } => Some((true_rate * steps as f64, false_rate * steps as f64)),
            LossKind::CrossEntropy => None,
        }
    }
}

/// Everything that defines a training run; saved as `config.json` in the run directory and
/// reloadable with `ExperimentConfig::load`.
///
/// ```no_run
/// use burn_snn::data::SaccadeShapes;
/// use burn_snn::neuron::LayerSettings;
/// use burn_snn::train::{ExperimentConfig, RunOptions, train};
/// use std::sync::Arc;
///
/// let config = ExperimentConfig::new("16x16x2-n8c3-p2-n16c3-p2-n4".parse().unwrap())
///     .with_settings(LayerSettings::new().with_num_steps(40))
///     .with_epochs(4)
///     .with_samples_per_epoch(800);
/// let device = burn_snn::device::cpu();
/// let (training, valid) = (SaccadeShapes::new(800, 1), SaccadeShapes::new(200, 2));
/// let report = train(
///     &config,
///     Arc::new(training),
///     Arc::new(valid.clone()),
///     Some(Arc::new(valid)),
///     &RunOptions::new("runs/shapes", &device),
/// )?;
/// println!("best validation accuracy {:.1}%", 100.0 * report.best_valid_accuracy);
/// # Ok::<(), burn_snn::train::TrainError>(())
/// ```
#[derive(Config, Debug)]
pub struct ExperimentConfig {
    /// The network: a Table 2 string, or a ResNet (`"resnet106-pre".parse()?`).
    pub arch: Architecture,
    /// The layers' settings; `num_steps` is also the window `T` the data are binned or encoded
    /// into. Default: Table 1 with PSP-LN, T = 300 (N-MNIST; the paper uses 100 for
    /// Fashion-MNIST).
    #[config(default = "LayerSettings::new()")]
    pub settings: LayerSettings,
    /// Batch size. Default: 10 (Table 1).
    #[config(default = 10)]
    pub batch_size: usize,
    /// Epochs. Default: 100.
    #[config(default = 100)]
    pub epochs: usize,
    /// Training samples drawn at random each epoch (0: all). Default: 6000 (the paper's).
    #[config(default = 6000)]
    pub samples_per_epoch: usize,
    /// Validation samples evaluated after each epoch (0: all). Default: 0.
    #[config(default = 0)]
    pub valid_samples: usize,
    /// Optimizer. Default: AdaBelief.
    #[config(default = "OptimizerKind::AdaBelief")]
    pub optimizer: OptimizerKind,
    /// Learning rate. Default: 1e-2 (Table 1).
    #[config(default = 1e-2)]
    pub lr: f64,
    /// Weight decay. Default: 1e-4 (Table 1).
    #[config(default = 1e-4)]
    pub weight_decay: f64,
    /// AdaBelief's rectification (the reference implementation's default, see
    /// [`AdaBelief`](crate::optim::AdaBelief)). Default: true.
    #[config(default = true)]
    pub rectify: bool,
    /// Loss. Default: spike count with targets of 0.2 and 0.03 spikes per step (true class,
    /// others), scaled by the window ([`LossKind::DEFAULT_SPIKE_COUNT`]).
    #[config(default = "LossKind::DEFAULT_SPIKE_COUNT")]
    pub loss: LossKind,
    /// Seed of the initialization, the sampling and the encodings. Default: 2022.
    #[config(default = 2022)]
    pub seed: u64,
}

impl ExperimentConfig {
    /// The time steps `T` of the window (`settings.num_steps`).
    pub fn steps(&self) -> usize {
        self.settings.num_steps
    }

    /// The model's configuration for inputs `[channels, height, width]` and `classes`
    /// outputs.
    pub fn model(&self, input: [usize; 3], classes: usize) -> SnnModelConfig {
        SnnModelConfig::new(self.arch.clone(), input, classes).with_settings(self.settings.clone())
    }

    /// Builds the model for inputs `[channels, height, width]` and `classes` outputs.
    pub fn build_model(
        &self,
        input: [usize; 3],
        classes: usize,
        device: &Device,
    ) -> Result<SnnModel, ModelError> {
        self.model(input, classes).try_init(device)
    }

    /// The optimizer.
    pub fn build_optimizer(&self) -> ModuleOptimizer {
        match self.optimizer {
            OptimizerKind::AdaBelief => AdaBeliefConfig::new()
                .with_weight_decay(self.weight_decay)
                .with_rectify(self.rectify)
                .init(),
            OptimizerKind::Adam => AdamConfig::new()
                .with_weight_decay(Some(WeightDecayConfig::new(self.weight_decay as f32)))
                .init(),
        }
    }

    /// The loss of output spikes against labels.
    pub fn loss(&self, spikes: Tensor<3>, labels: Tensor<1, Int>) -> Tensor<1> {
        self.loss.forward(spikes, labels, self.steps())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips_through_json() {
        let cfg = ExperimentConfig::new("34x34x2-n8c3-10".parse().unwrap())
            .with_settings(LayerSettings::new().with_num_steps(100))
            .with_optimizer(OptimizerKind::Adam);
        let json = serde_json::to_string(&cfg).unwrap();
        let back: ExperimentConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(
            (back.steps(), back.optimizer, &back.arch),
            (100, OptimizerKind::Adam, &cfg.arch)
        );
    }

    /// One rule: the targets are rates scaled by the configured window, whatever T is.
    #[test]
    fn spike_count_targets_scale_with_the_steps() {
        let device = crate::test_util::device();
        let labels = Tensor::<1, Int>::from_data([0i64], &device);
        for steps in [10, 100, 300] {
            let cfg = ExperimentConfig::new("4x4x1-n3".parse().unwrap())
                .with_settings(LayerSettings::new().with_num_steps(steps));
            // Class 0 (the label) fires every 5th step: 0.2·T spikes, on target; classes 1
            // and 2 are silent, 0.03·T below theirs: L = ½·2·(0.03·T)².
            let spikes: Vec<f32> = (0..steps * 3)
                .map(|i| {
                    if i % 3 == 0 && (i / 3) % 5 == 0 {
                        1.0
                    } else {
                        0.0
                    }
                })
                .collect();
            let spikes = Tensor::<3>::from_data(
                burn::tensor::TensorData::new(spikes, [1, steps, 3]),
                &device,
            );
            let loss = cfg.loss(spikes, labels.clone()).into_scalar::<f64>();
            let want = (0.03 * steps as f64).powi(2);
            assert!(
                (loss - want).abs() < 1e-6 * want,
                "T = {steps}: {loss} vs {want}"
            );
        }
    }
}
