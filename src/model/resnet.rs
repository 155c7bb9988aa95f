//! Residual spiking networks (the paper's Table 3: ResNet-106, pre- and post-activation).

use super::FiringRates;
use crate::block::{
    BlockKind, ConvNorm, PostActivationBlock, PreActivationBlock, ResidualBlockConfig,
};
use crate::functional::spike;
use crate::neuron::{Func, SrmConfig};
use crate::norm::Normalization;
use crate::synapse::{SynapseDense, SynapseDenseConfig};
use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

/// Configuration of a [`SpikingResNet`].
///
/// `depth = 1 (stem convolution) + 2 × blocks + 1 (dense classifier)`, so ResNet-106 has 52
/// residual blocks. The blocks are split as evenly as possible over the stages (earlier stages
/// take the remainder); every stage after the first starts with a stride-2 block whose
/// shortcut is a 1×1 projection.
#[derive(Config, Debug)]
pub struct SpikingResNetConfig {
    /// Total synapse layers, even and ≥ 4 (106 in Table 3).
    pub depth: usize,
    /// Pre- or post-activation blocks.
    pub kind: BlockKind,
    /// Input `[height, width, channels]`. Default: N-MNIST's `[34, 34, 2]`.
    #[config(default = "[34, 34, 2]")]
    pub input: [usize; 3],
    /// Classes. Default: 10.
    #[config(default = 10)]
    pub classes: usize,
    /// Channels of each stage (the stem has the first). Default: `[16, 32]`.
    #[config(default = "vec![16, 32]")]
    pub widths: Vec<usize>,
    /// Normalization. Default: PSP-LN.
    #[config(default = "Normalization::PspLayer")]
    pub norm: Normalization,
    /// Neuron parameters. Default: Table 1.
    #[config(default = "SrmConfig::new()")]
    pub srm: SrmConfig,
    /// λ of the PSP normalization. Default: 0.1.
    #[config(default = 0.1)]
    pub lambda: f64,
    /// Synapse weight scale. Default: 10.
    #[config(default = 10.0)]
    pub weight_scale: f64,
    /// Time steps (BNTT). Default: 300.
    #[config(default = 300)]
    pub num_steps: usize,
}

/// A residual block of either kind.
#[derive(Module, Debug)]
pub enum ResidualBlock {
    /// Pre-activation (eq. 8).
    Pre(PreActivationBlock),
    /// Post-activation (eq. 9).
    Post(PostActivationBlock),
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
}

impl SpikingResNetConfig {
    /// Residual blocks in each stage.
    ///
    /// # Panics
    ///
    /// If `depth` is odd or below 4, or there are more stages than blocks.
    pub fn blocks_per_stage(&self) -> Vec<usize> {
        assert!(
            self.depth >= 4 && self.depth.is_multiple_of(2),
            "SpikingResNetConfig: depth must be even and >= 4 (1 stem + 2 per block + 1 classifier), got {}",
            self.depth
        );
        let blocks = (self.depth - 2) / 2;
        let stages = self.widths.len();
        assert!(
            stages > 0 && stages <= blocks,
            "SpikingResNetConfig: need between 1 and {blocks} stage widths, got {stages}"
        );
        (0..stages)
            .map(|i| blocks / stages + usize::from(i < blocks % stages))
            .collect()
    }

    /// Initializes the network.
    pub fn init(&self, device: &Device) -> SpikingResNet {
        let per_stage = self.blocks_per_stage();
        let [mut h, mut w, c] = self.input;
        let block = |channels: [usize; 2], stride: usize| {
            ResidualBlockConfig::new(channels)
                .with_stride(stride)
                .with_norm(self.norm)
                .with_srm(self.srm.clone())
                .with_lambda(self.lambda)
                .with_weight_scale(self.weight_scale)
                .with_num_steps(self.num_steps)
        };
        let first = self.widths[0];
        let stem_cfg = block([c, first], 1);
        let input_func = stem_cfg.func(c, device);
        let stem = stem_cfg.conv([c, first], 3, 1, self.weight_scale, device);
        let mut blocks = Vec::new();
        let mut width = first;
        for (stage, (&out, &count)) in self.widths.iter().zip(&per_stage).enumerate() {
            for i in 0..count {
                let stride = if stage > 0 && i == 0 { 2 } else { 1 };
                if stride == 2 {
                    h = h.div_ceil(2);
                    w = w.div_ceil(2);
                }
                let cfg = block([width, out], stride);
                blocks.push(match self.kind {
                    BlockKind::Pre => ResidualBlock::Pre(cfg.init_pre(device)),
                    BlockKind::Post => ResidualBlock::Post(cfg.init_post(device)),
                });
                width = out;
            }
        }
        let last = block([width, width], 1);
        SpikingResNet {
            input_func,
            stem,
            stem_func: (self.kind == BlockKind::Post).then(|| stem_cfg.func(first, device)),
            blocks,
            head_func: (self.kind == BlockKind::Pre).then(|| last.func(width, device)),
            classifier: SynapseDenseConfig::new(width * h * w, self.classes)
                .with_weight_scale(self.weight_scale)
                .init(device),
            srm: self.srm.clone(),
        }
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
    /// - `input`: `[batch, time, channels, height, width]`
    /// - output: `[batch, time, classes]`
    pub fn forward(&self, input: Tensor<5>) -> Tensor<3> {
        self.run(input, None)
    }

    /// Output spikes and the mean firing rate of every Func (stem, both Funcs of each block as
    /// `block<i>.1` / `block<i>.2`, head) and of the output layer, from the spikes the forward
    /// pass computes anyway. The model is unchanged.
    pub fn forward_with_rates(&self, input: Tensor<5>) -> (Tensor<3>, FiringRates) {
        let mut rates = FiringRates::default();
        let out = self.run(input, Some(&mut rates));
        (out, rates)
    }

    fn run(&self, input: Tensor<5>, mut rates: Option<&mut FiringRates>) -> Tensor<3> {
        let rates = &mut rates;
        let mut h = self.stem.forward(self.input_func.forward_spikes(input));
        if let Some(func) = &self.stem_func {
            h = func.forward_recorded(h, rates, "stem");
        }
        for (i, block) in self.blocks.iter().enumerate() {
            let name = format!("block{}", i + 1);
            h = match block {
                ResidualBlock::Pre(block) => block.forward_recorded(h, rates, &name),
                ResidualBlock::Post(block) => block.forward_recorded(h, rates, &name),
            };
        }
        if let Some(func) = &self.head_func {
            h = func.forward_recorded(h, rates, "head");
        }
        let [b, t, c, hh, ww] = h.dims();
        let v = self.classifier.forward(h.reshape([b, t, c * hh * ww]));
        let out = spike(v, &self.srm);
        FiringRates::record(rates, "output", &out);
        out
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
                .with_input([8, 8, 2])
                .with_widths(vec![4, 8]);
            assert_eq!(cfg.blocks_per_stage(), vec![26, 26]);
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
                .with_input([8, 8, 2])
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
            .with_input([8, 8, 2])
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
    #[should_panic(
        expected = "SpikingResNetConfig: depth must be even and >= 4 (1 stem + 2 per block + 1 classifier), got 105"
    )]
    fn odd_depth_panics() {
        SpikingResNetConfig::new(105, BlockKind::Pre).blocks_per_stage();
    }
}
