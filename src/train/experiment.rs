use crate::block::BlockKind;
use crate::model::{
    FiringRates, NetworkError, SpikeCountLossConfig, SpikingNetwork, SpikingNetworkConfig,
    SpikingResNet, SpikingResNetConfig, spike_count_cross_entropy,
};
use crate::neuron::SrmConfig;
use crate::norm::Normalization;
use crate::optim::AdaBeliefConfig;
use burn::config::Config;
use burn::module::Module;
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
#[derive(Config, Debug)]
pub struct ExperimentConfig {
    /// A Table 2 architecture string, or `resnet<depth>-pre` / `resnet<depth>-post`.
    pub arch: String,
    /// Normalization. Default: PSP-LN.
    #[config(default = "Normalization::PspLayer")]
    pub norm: Normalization,
    /// Time steps T. Default: 300 (N-MNIST; the paper uses 100 for Fashion-MNIST).
    #[config(default = 300)]
    pub steps: usize,
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
    /// Neuron parameters (τs, τr, θ, α, β). Default: Table 1.
    #[config(default = "SrmConfig::new()")]
    pub srm: SrmConfig,
    /// λ of the PSP normalization. Default: 0.1.
    #[config(default = 0.1)]
    pub lambda: f64,
    /// Synapse weight scale. Default: 10.
    #[config(default = 10.0)]
    pub weight_scale: f64,
    /// Stage widths of a ResNet. Default: `[16, 32]`.
    #[config(default = "vec![16, 32]")]
    pub resnet_widths: Vec<usize>,
    /// Loss. Default: spike count with targets of 0.2 and 0.03 spikes per step (true class,
    /// others), scaled by `steps` ([`LossKind::DEFAULT_SPIKE_COUNT`]).
    #[config(default = "LossKind::DEFAULT_SPIKE_COUNT")]
    pub loss: LossKind,
    /// Seed of the initialization, the sampling and the encodings. Default: 2022.
    #[config(default = 2022)]
    pub seed: u64,
}

/// A plain or residual spiking network.
// One model per run: the size difference between the variants does not matter, and Burn's
// `Module` derive does not see through a `Box`.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum SnnModel {
    /// Built from a Table 2 string.
    Plain(SpikingNetwork),
    /// A ResNet (Table 3).
    Residual(SpikingResNet),
}

impl SnnModel {
    /// Output spikes `[batch, time, classes]` for input spikes `[batch, time, c, h, w]`.
    pub fn forward(&self, input: Tensor<5>) -> Tensor<3> {
        match self {
            SnnModel::Plain(net) => net.forward(input),
            SnnModel::Residual(net) => net.forward(input),
        }
    }

    /// Output spikes and per-layer firing rates.
    pub fn forward_with_rates(&self, input: Tensor<5>) -> (Tensor<3>, FiringRates) {
        match self {
            SnnModel::Plain(net) => net.forward_with_rates(input),
            SnnModel::Residual(net) => net.forward_with_rates(input),
        }
    }
}

impl ExperimentConfig {
    /// Builds the model for inputs `[height, width, channels]` and `classes` outputs.
    pub fn build_model(
        &self,
        input: [usize; 3],
        classes: usize,
        device: &Device,
    ) -> Result<SnnModel, NetworkError> {
        if let Some((depth, kind)) = parse_resnet(&self.arch) {
            let cfg = SpikingResNetConfig::new(depth, kind)
                .with_input(input)
                .with_classes(classes)
                .with_widths(self.resnet_widths.clone())
                .with_norm(self.norm)
                .with_srm(self.srm.clone())
                .with_lambda(self.lambda)
                .with_weight_scale(self.weight_scale)
                .with_num_steps(self.steps);
            return Ok(SnnModel::Residual(cfg.init(device)));
        }
        let spec = crate::model::NetworkSpec::parse(&self.arch)?;
        if spec.input != input || spec.classes() != classes {
            return Err(NetworkError::Spec(crate::model::SpecError {
                spec: self.arch.clone(),
                position: 0,
                expected: format!(
                    "input {}x{}x{} and {classes} classes for this data set",
                    input[0], input[1], input[2]
                ),
                found: format!(
                    "input {}x{}x{} and {} classes",
                    spec.input[0],
                    spec.input[1],
                    spec.input[2],
                    spec.classes()
                ),
            }));
        }
        let cfg = SpikingNetworkConfig::new(self.arch.clone())
            .with_norm(self.norm)
            .with_srm(self.srm.clone())
            .with_lambda(self.lambda)
            .with_weight_scale(self.weight_scale)
            .with_num_steps(self.steps);
        Ok(SnnModel::Plain(cfg.try_init(device)?))
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
        match self.loss.target_counts(self.steps) {
            Some((true_count, false_count)) => {
                SpikeCountLossConfig::new(true_count, false_count).forward(spikes, labels)
            }
            None => spike_count_cross_entropy(spikes, labels),
        }
    }
}

/// `resnet<depth>-pre` / `resnet<depth>-post`.
pub fn parse_resnet(arch: &str) -> Option<(usize, BlockKind)> {
    let rest = arch.strip_prefix("resnet")?;
    let (depth, kind) = rest.split_once('-')?;
    let kind = match kind {
        "pre" => BlockKind::Pre,
        "post" => BlockKind::Post,
        _ => return None,
    };
    Some((depth.parse().ok()?, kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resnet_names_parse() {
        assert_eq!(parse_resnet("resnet106-pre"), Some((106, BlockKind::Pre)));
        assert_eq!(parse_resnet("resnet20-post"), Some((20, BlockKind::Post)));
        assert_eq!(parse_resnet("resnet-pre"), None);
        assert_eq!(parse_resnet("34x34x2-10"), None);
    }

    #[test]
    fn config_round_trips_through_json() {
        let cfg = ExperimentConfig::new("34x34x2-n8c3-10".into())
            .with_steps(100)
            .with_optimizer(OptimizerKind::Adam);
        let json = serde_json::to_string(&cfg).unwrap();
        let back: ExperimentConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(
            (back.steps, back.optimizer, back.arch),
            (100, OptimizerKind::Adam, cfg.arch)
        );
    }

    /// One rule: the targets are rates scaled by the configured window, whatever T is.
    #[test]
    fn spike_count_targets_scale_with_the_steps() {
        let device = crate::test_util::device();
        let labels = Tensor::<1, Int>::from_data([0i64], &device);
        for steps in [10, 100, 300] {
            let cfg = ExperimentConfig::new("4x4x1-n3".into()).with_steps(steps);
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

    #[test]
    fn a_string_for_another_data_set_is_an_error() {
        let cfg = ExperimentConfig::new("28x28x1-n8c3-10".into());
        let err = cfg
            .build_model([34, 34, 2], 10, &crate::test_util::device())
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("expected input 34x34x2 and 10 classes"),
            "{err}"
        );
    }
}
