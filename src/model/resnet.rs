//! Residual spiking networks (the paper's Table 3: ResNet-106, pre- and post-activation).

use super::FiringRates;
use crate::SrmConfig;
use crate::block::{BlockKind, ConvNorm, ConvNormConfig, ResidualBlock, ResidualBlockConfig};
use crate::functional::{Clock, spike};
use crate::neuron::{Func, FuncConfig, LayerSettings};
use crate::synapse::{Presynaptic, SynapseDense, SynapseDenseConfig};
use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor, assert_shape};

/// Configuration of a [`SpikingResNet`].
///
/// `depth = 1 (stem convolution) + 2 × blocks + 1 (dense classifier)`, so ResNet-106 has 52
/// residual blocks. The blocks are split as evenly as possible over the stages (earlier stages
/// take the remainder); every stage after the first starts with a stride-2 block whose
/// shortcut is a 1×1 projection.
///
/// ```
/// use burn_snn::block::BlockKind;
/// use burn_snn::model::SpikingResNetConfig;
/// use burn_snn::neuron::LayerSettings;
///
/// let device = burn_snn::device::cpu();
/// // A pre-activation ResNet-20 (9 blocks) with PSP-LN (the default), widths 8 and 16.
/// let resnet = SpikingResNetConfig::new(20, BlockKind::Pre)
///     .with_widths(vec![8, 16])
///     .with_input([2, 34, 34])
///     .with_settings(LayerSettings::new().with_num_steps(16))
///     .init(&device);
/// assert_eq!(resnet.depth(), 20);
/// ```
#[derive(Config, Debug)]
pub struct SpikingResNetConfig {
    /// Total synapse layers, even and ≥ 4 (106 in Table 3).
    pub depth: usize,
    /// Pre- or post-activation blocks.
    pub kind: BlockKind,
    /// Input `[channels, height, width]`. Default: N-MNIST's `[2, 34, 34]`.
    #[config(default = "[2, 34, 34]")]
    pub input: [usize; 3],
    /// Classes. Default: 10.
    #[config(default = 10)]
    pub classes: usize,
    /// Channels of each stage (the stem has the first). Default: `[16, 32]`.
    #[config(default = "vec![16, 32]")]
    pub widths: Vec<usize>,
    /// The layers' settings. Default: Table 1 with PSP-LN.
    #[config(default = "LayerSettings::new()")]
    pub settings: LayerSettings,
}

/// Why a [`SpikingResNetConfig`] cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResNetError {
    /// The depth is odd or below 4.
    #[error("ResNet depth must be even and >= 4 (1 stem + 2 per block + 1 classifier), got {0}")]
    Depth(usize),
    /// More stages than blocks, or no stage.
    #[error("a ResNet of {blocks} blocks needs between 1 and {blocks} stage widths, got {stages}")]
    Stages {
        /// Residual blocks.
        blocks: usize,
        /// Stage widths given.
        stages: usize,
    },
    /// A zero in the input shape, the class count or the widths.
    #[error("ResNet sizes must be non-zero: input {input:?}, classes {classes}, widths {widths:?}")]
    Size {
        /// Input `[channels, height, width]`.
        input: [usize; 3],
        /// Classes.
        classes: usize,
        /// Stage widths.
        widths: Vec<usize>,
    },
}

/// A residual spiking network.
///
/// - Pre-activation: input spikes → PSP → Norm → stem Conv → blocks (potentials) → Func →
///   dense → Spike.
/// - Post-activation: input spikes → PSP → Norm → stem Conv → Func → blocks (normalized PSPs)
///   → dense → Spike.
#[derive(Module, Debug)]
pub struct SpikingResNet {
    /// PSP → Norm of the input spikes.
    pub input_func: Func,
    /// Stem convolution.
    pub stem: ConvNorm,
    /// Func after the stem (post-activation only).
    pub stem_func: Option<Func>,
    /// The residual blocks.
    pub blocks: Vec<ResidualBlock>,
    /// Func before the classifier (pre-activation only).
    pub head_func: Option<Func>,
    /// Dense classifier.
    pub classifier: SynapseDense,
    /// Output neurons.
    #[module(skip)]
    pub srm: SrmConfig,
    /// Input `[channels, height, width]`.
    pub input: [usize; 3],
}

impl SpikingResNetConfig {
    /// Residual blocks in each stage, or why the depth and widths do not fit.
    pub fn blocks_per_stage(&self) -> Result<Vec<usize>, ResNetError> {
        if self.depth < 4 || !self.depth.is_multiple_of(2) {
            return Err(ResNetError::Depth(self.depth));
        }
        let blocks = (self.depth - 2) / 2;
        let stages = self.widths.len();
        if stages == 0 || stages > blocks {
            return Err(ResNetError::Stages { blocks, stages });
        }
        Ok((0..stages)
            .map(|i| blocks / stages + usize::from(i < blocks % stages))
            .collect())
    }

    /// Builds the network, or says why the configuration cannot be built.
    pub fn try_init(&self, device: &Device) -> Result<SpikingResNet, ResNetError> {
        let per_stage = self.blocks_per_stage()?;
        if self.input.contains(&0) || self.classes == 0 || self.widths.contains(&0) {
            return Err(ResNetError::Size {
                input: self.input,
                classes: self.classes,
                widths: self.widths.clone(),
            });
        }
        let settings = &self.settings;
        let [c, mut h, mut w] = self.input;
        let func = |channels| {
            FuncConfig::new(channels)
                .with_settings(settings.clone())
                .init(device)
        };
        let first = self.widths[0];
        // Initialization order (stem, blocks, classifier) fixes what a seed draws.
        // The stem widens the input's few channels: its kernel by its shape.
        let stem = ConvNormConfig::new([c, first]);
        let stem_settings =
            settings
                .clone()
                .with_synapse_kernel(settings.synapse_kernel.for_synapse(
                    c,
                    first,
                    stem.kernel_size,
                ));
        let input_func = FuncConfig::new(c)
            .with_settings(stem_settings.clone())
            .init(device);
        let stem = stem.with_settings(stem_settings).init(device);
        let mut blocks = Vec::new();
        let mut width = first;
        for (stage, (&out, &count)) in self.widths.iter().zip(&per_stage).enumerate() {
            for i in 0..count {
                let stride = if stage > 0 && i == 0 { 2 } else { 1 };
                if stride == 2 {
                    h = h.div_ceil(2);
                    w = w.div_ceil(2);
                }
                blocks.push(
                    ResidualBlockConfig::new(self.kind, [width, out])
                        .with_stride(stride)
                        .with_settings(settings.clone())
                        .init(device),
                );
                width = out;
            }
        }
        Ok(SpikingResNet {
            input_func,
            stem,
            stem_func: (self.kind == BlockKind::Post).then(|| func(first)),
            blocks,
            head_func: (self.kind == BlockKind::Pre).then(|| func(width)),
            classifier: SynapseDenseConfig::new(width * h * w, self.classes)
                .with_weight_scale(settings.weight_scale)
                .with_kernel(settings.synapse_kernel)
                .with_dense_above_density(settings.dense_above_density)
                .with_backward_memory(settings.backward_memory)
                .init(device),
            srm: settings.srm.clone(),
            input: self.input,
        })
    }

    /// Builds the network.
    ///
    /// # Panics
    ///
    /// With the message of [`try_init`](Self::try_init)'s error.
    pub fn init(&self, device: &Device) -> SpikingResNet {
        self.try_init(device)
            .unwrap_or_else(|err| panic!("SpikingResNetConfig: {err}"))
    }
}

impl SpikingResNet {
    /// Synapse layers: stem + 2 per block + classifier (projection shortcuts not counted).
    pub fn depth(&self) -> usize {
        2 + 2 * self.blocks.len()
    }

    /// Output spikes for input spikes.
    ///
    /// # Shapes
    ///
    /// - `input`: `[batch, time, channels, height, width]` with the configured
    ///   `[channels, height, width]`
    /// - output: `[batch, time, classes]`
    pub fn forward(&self, input: Tensor<5>) -> Tensor<3> {
        self.forward_in(input, &mut Clock::Whole)
    }

    /// [`forward`](Self::forward) on `clock`.
    pub(crate) fn forward_in(&self, input: Tensor<5>, clock: &mut Clock) -> Tensor<3> {
        self.check_input(&input);
        let synapse = self.stem.input(&input.device());
        let a = self.input_func.presynaptic_in(input, false, synapse, clock);
        let mut h = self.stem.forward_presynaptic_in(a, clock);
        if let Some(func) = &self.stem_func {
            h = func.forward_in(h, clock);
        }
        for block in &self.blocks {
            h = block.forward_in(h, clock);
        }
        match &self.head_func {
            Some(func) => {
                let input = self.classifier.input(&h.device());
                let a = func.forward_presynaptic_in(h, input, clock).flatten();
                let v = self.classifier.forward_presynaptic_in(a, clock);
                clock.spike(v, &self.srm)
            }
            None => {
                let [b, t, c, hh, ww] = h.dims();
                let v = self.classifier.forward(h.reshape([b, t, c * hh * ww]));
                clock.spike(v, &self.srm)
            }
        }
    }

    /// The most time steps a stream may run (BNTT's `num_steps`), or `None`.
    pub(crate) fn stream_limit(&self) -> Option<usize> {
        self.blocks
            .iter()
            .filter_map(ResidualBlock::stream_limit)
            .chain(self.stem.stream_limit())
            .min()
    }

    /// Output spikes and the mean firing rate of every Func (stem, both Funcs of each block as
    /// `block<i>.1` / `block<i>.2`, head) and of the output layer, from the spikes the forward
    /// pass computes anyway. The model is unchanged.
    ///
    /// # Shapes
    ///
    /// As [`forward`](Self::forward).
    pub fn forward_with_rates(&self, input: Tensor<5>) -> (Tensor<3>, FiringRates) {
        self.check_input(&input);
        let mut rates = FiringRates::default();
        let mut h = self.stem.forward_presynaptic(self.input_presynaptic(input));
        if let Some(func) = &self.stem_func {
            let s = func.spikes(h);
            rates.push("stem", s.clone().mean().detach());
            h = func.forward_spikes(s);
        }
        for (i, block) in self.blocks.iter().enumerate() {
            let (out, [r1, r2]) = block.forward_with_rates(h);
            rates.push(format!("block{}.1", i + 1), r1);
            rates.push(format!("block{}.2", i + 1), r2);
            h = out;
        }
        let out = match &self.head_func {
            Some(func) => {
                let input = self.classifier.input(&h.device());
                let s = func.spikes(h);
                rates.push("head", s.clone().mean().detach());
                self.classify_presynaptic(func.presynaptic(s, true, input))
            }
            None => self.classify(h),
        };
        rates.push("output", out.clone().mean().detach());
        (out, rates)
    }

    fn check_input(&self, input: &Tensor<5>) {
        let [c, h, w] = self.input;
        assert_shape!(input, [_, _, c, h, w]);
    }

    /// Flatten, dense classifier, output spikes.
    fn classify(&self, h: Tensor<5>) -> Tensor<3> {
        let [b, t, c, hh, ww] = h.dims();
        let v = self.classifier.forward(h.reshape([b, t, c * hh * ww]));
        spike(v, &self.srm)
    }

    /// The input layer (PSP → Norm of the input, which may hold any values) for the stem.
    fn input_presynaptic(&self, input: Tensor<5>) -> Presynaptic<5> {
        let synapse = self.stem.input(&input.device());
        self.input_func.presynaptic(input, false, synapse)
    }

    /// [`classify`](Self::classify) of a Func's output in factored form.
    fn classify_presynaptic(&self, a: Presynaptic<5>) -> Tensor<3> {
        spike(self.classifier.forward_presynaptic(a.flatten()), &self.srm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;
    use burn::tensor::Distribution;

    #[test]
    fn resnet106_has_52_blocks_in_both_kinds() {
        let device = device();
        for kind in [BlockKind::Pre, BlockKind::Post] {
            let cfg = SpikingResNetConfig::new(106, kind)
                .with_input([2, 8, 8])
                .with_widths(vec![4, 8]);
            assert_eq!(cfg.blocks_per_stage(), Ok(vec![26, 26]));
            let net = cfg.init(&device);
            assert_eq!(net.depth(), 106);
            let out = net.forward(Tensor::random(
                [1, 3, 2, 8, 8],
                Distribution::Bernoulli(0.3),
                &device,
            ));
            assert_eq!(out.dims(), [1, 3, 10]);
        }
    }

    #[test]
    fn rates_come_from_every_func_and_do_not_change_the_output() {
        let device = device();
        let input = Tensor::<5>::random([2, 10, 2, 8, 8], Distribution::Bernoulli(0.3), &device);
        for (kind, first) in [(BlockKind::Pre, "block1.1"), (BlockKind::Post, "stem")] {
            let net = SpikingResNetConfig::new(6, kind)
                .with_input([2, 8, 8])
                .with_widths(vec![4])
                .init(&device);
            let (out, rates) = net.forward_with_rates(input.clone());
            let mut want = vec![first];
            if kind == BlockKind::Post {
                want.push("block1.1");
            }
            want.extend(["block1.2", "block2.1", "block2.2"]);
            if kind == BlockKind::Pre {
                want.push("head");
            }
            want.push("output");
            assert_eq!(rates.names(), want, "{kind:?}");
            assert_eq!(to_f64(out), to_f64(net.forward(input.clone())), "{kind:?}");
            assert!(rates.to_vec().iter().all(|(_, r)| (0.0..=1.0).contains(r)));
        }
    }

    #[test]
    fn deep_preactivation_gradient_reaches_the_first_layer() {
        let device = device().autodiff();
        let net = SpikingResNetConfig::new(40, BlockKind::Pre)
            .with_input([2, 8, 8])
            .with_widths(vec![4, 8])
            .with_classes(3)
            .init(&device);
        let input = Tensor::<5>::random([2, 12, 2, 8, 8], Distribution::Bernoulli(0.3), &device);
        let out = net.forward(input);
        let grads = out.sum().backward();
        let grad = to_f64(
            net.stem
                .conv
                .conv
                .weight
                .grad(&grads)
                .expect("stem gradient"),
        );
        assert!(grad.iter().all(|g| g.is_finite()));
        assert!(
            grad.iter().any(|&g| g != 0.0),
            "the gradient vanished before the first layer"
        );
    }

    #[test]
    fn bad_depths_widths_and_inputs_are_errors() {
        let device = device();
        let err = |cfg: SpikingResNetConfig| cfg.try_init(&device).unwrap_err();
        assert_eq!(
            err(SpikingResNetConfig::new(105, BlockKind::Pre)).to_string(),
            "ResNet depth must be even and >= 4 (1 stem + 2 per block + 1 classifier), got 105"
        );
        assert_eq!(
            err(SpikingResNetConfig::new(6, BlockKind::Pre).with_widths(vec![4, 8, 16])),
            ResNetError::Stages {
                blocks: 2,
                stages: 3
            }
        );
        assert!(matches!(
            err(SpikingResNetConfig::new(6, BlockKind::Post).with_input([2, 0, 8])),
            ResNetError::Size { .. }
        ));
    }

    #[test]
    #[should_panic(expected = "axis 3 expected 8, got 9 (dims [1, 2, 2, 9, 8])")]
    fn the_input_shape_is_checked() {
        let device = device();
        let net = SpikingResNetConfig::new(4, BlockKind::Pre)
            .with_input([2, 8, 8])
            .with_widths(vec![4])
            .init(&device);
        net.forward(Tensor::zeros([1, 2, 2, 9, 8], &device));
    }
}
