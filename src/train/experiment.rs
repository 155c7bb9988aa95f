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
    /// AdaBelief with decoupled weight decay (the paper's).
    AdaBelief,
    /// Adam with L2 weight decay.
    Adam,
}

/// The loss of a run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum LossKind {
    /// SLAYER's spike-count loss with these target counts (true class, other classes).
    SpikeCount {
        /// Target spikes of the true class over the window.
        true_count: f64,
        /// Target spikes of the other classes.
        false_count: f64,
    },
    /// Cross-entropy on spike counts.
    CrossEntropy,
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
    /// Loss. Default: spike count, 60 spikes for the true class and 10 for the others per 300
    /// steps (scaled with T by the examples).
    #[config(default = "LossKind::SpikeCount { true_count: 60.0, false_count: 10.0 }")]
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
                .init(),
            OptimizerKind::Adam => AdamConfig::new()
                .with_weight_decay(Some(WeightDecayConfig::new(self.weight_decay as f32)))
                .init(),
        }
    }

    /// The loss of output spikes against labels.
    pub fn loss(&self, spikes: Tensor<3>, labels: Tensor<1, Int>) -> Tensor<1> {
        match self.loss {
            LossKind::SpikeCount {
                true_count,
                false_count,
            } => SpikeCountLossConfig::new(true_count, false_count).forward(spikes, labels),
            LossKind::CrossEntropy => spike_count_cross_entropy(spikes, labels),
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
