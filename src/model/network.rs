//! Plain (non-residual) spiking networks built from an architecture string.

use super::FiringRates;
use super::spec::{LayerSpec, NetworkSpec};
use crate::SrmConfig;
use crate::functional::Clock;
use crate::neuron::{Func, FuncConfig, LayerSettings};
use crate::norm::{MembraneNorm, MembraneNormConfig, Normalization};
use crate::synapse::{
    Potential, SynapseConv2d, SynapseConv2dConfig, SynapseDense, SynapseDenseConfig,
};
use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor, assert_shape};

/// Configuration of a [`SpikingNetwork`]: an architecture and the settings shared by its
/// layers.
///
/// ```
/// use burn::tensor::{Distribution, Tensor};
/// use burn_snn::model::{PaperDataset, SpikingNetworkConfig, table2_arch};
/// use burn_snn::neuron::LayerSettings;
/// use burn_snn::norm::Normalization;
///
/// let device = burn_snn::device::cpu();
/// // Table 2's N-MNIST network with PSP-BN, for 16 time steps.
/// let spec = table2_arch(PaperDataset::Nmnist, Normalization::PspBatch).parse().unwrap();
/// let settings = LayerSettings::new().with_norm(Normalization::PspBatch).with_num_steps(16);
/// let net = SpikingNetworkConfig::new(spec).with_settings(settings).init(&device);
/// assert_eq!(net.layers.len(), 13);
/// let input = Tensor::<5>::random([1, 16, 2, 34, 34], Distribution::Bernoulli(0.02), &device);
/// assert_eq!(net.forward(input).dims(), [1, 16, 10]);
/// ```
#[derive(Config, Debug)]
pub struct SpikingNetworkConfig {
    /// The architecture (Table 2), e.g.
    /// `"34x34x2-n8c3-{n16c3}*5-n16c3-{n32c3}*5-10".parse()?`.
    pub spec: NetworkSpec,
    /// The layers' settings; the normalization goes where the string says `n`. Default:
    /// Table 1 with PSP-LN.
    #[config(default = "LayerSettings::new()")]
    pub settings: LayerSettings,
}

/// Why a network cannot be built from a valid architecture string.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NetworkError {
    /// The string's `n` markers do not fit the chosen normalization.
    #[error(
        "layer {layer} ({token}) asks for a {placement} normalization, but the network's normalization is {norm}"
    )]
    NormPlacement {
        /// 1-based layer index.
        layer: usize,
        /// The layer's token.
        token: String,
        /// "PSP" (leading n) or "membrane" (trailing n).
        placement: &'static str,
        /// The chosen normalization.
        norm: Normalization,
    },
}

/// A synapse: convolution or dense.
#[derive(Module, Debug)]
pub enum Synapse {
    /// Convolution on `[batch, time, channels, height, width]`.
    Conv(SynapseConv2d),
    /// Dense on `[batch, time, neurons]` (a map is flattened first).
    Dense(SynapseDense),
}

/// A tensor flowing through a network: a feature map or a flat layer.
#[derive(Clone, Debug)]
pub enum Activation {
    /// `[batch, time, channels, height, width]`.
    Map(Tensor<5>),
    /// `[batch, time, neurons]`.
    Flat(Tensor<3>),
}

impl Activation {
    /// The activation as `[batch, time, neurons]`, flattening a map (no copy).
    pub fn flat(self) -> Tensor<3> {
        match self {
            Activation::Map(x) => {
                let [b, t, c, h, w] = x.dims();
                x.reshape([b, t, c * h * w])
            }
            Activation::Flat(x) => x,
        }
    }

    /// Mean over all elements (e.g. a firing rate when the activation holds spikes).
    pub fn mean(&self) -> Tensor<1> {
        match self {
            Activation::Map(x) => x.clone().mean(),
            Activation::Flat(x) => x.clone().mean(),
        }
    }
}

/// A layer's output potential, as a map or flat (see [`Potential`]).
enum LayerPotential {
    Map(Potential<5>),
    Flat(Potential<3>),
}

impl LayerPotential {
    fn filtered(self, clock: &mut Clock) -> Activation {
        match self {
            LayerPotential::Map(v) => Activation::Map(v.filtered(clock)),
            LayerPotential::Flat(v) => Activation::Flat(v.filtered(clock)),
        }
    }

    fn spikes(self, clock: &mut Clock, cfg: &SrmConfig) -> Activation {
        match self {
            LayerPotential::Map(v) => Activation::Map(v.spikes(clock, cfg)),
            LayerPotential::Flat(v) => Activation::Flat(v.spikes(clock, cfg)),
        }
    }

    fn flat(self) -> Potential<3> {
        match self {
            LayerPotential::Map(v) => {
                let [b, t, c, h, w] = v.dims();
                v.reshape([b, t, c * h * w])
            }
            LayerPotential::Flat(v) => v,
        }
    }
}

/// One layer: Func (or, for the first layer, PSP → Norm of the input spikes), synapse, and an
/// optional membrane normalization.
#[derive(Module, Debug)]
pub struct SpikingLayer {
    /// Spike → PSP → (Pool) → Norm of the incoming potential.
    pub func: Func,
    /// The synapse.
    pub synapse: Synapse,
    /// Normalization of the synapse's output potential (BN, BNTT, tdBN baselines).
    pub membrane_norm: Option<MembraneNorm>,
}

impl SpikingLayer {
    /// The layer on spikes: PSP → (Pool) → Norm → synapse → (membrane norm).
    pub fn forward_spikes(&self, s: Activation) -> Activation {
        self.forward_events(s, false, &mut Clock::Whole)
    }

    /// [`forward_spikes`](Self::forward_spikes); `binary`: `s` holds only 0 and 1.
    fn forward_events(&self, s: Activation, binary: bool, clock: &mut Clock) -> Activation {
        self.forward_potential(s, binary, clock).filtered(clock)
    }

    /// The layer's output potential, its PSP filter left to run with the next spike generation
    /// where the clock allows (a stream, and no membrane normalization in between).
    fn forward_potential(&self, s: Activation, binary: bool, clock: &mut Clock) -> LayerPotential {
        let v = match (&self.synapse, s) {
            (Synapse::Conv(conv), Activation::Map(s)) => {
                let input = conv.input(&s.device());
                let a = self.func.presynaptic_in(s, binary, input, clock);
                LayerPotential::Map(conv.forward_potential(a, clock))
            }
            (Synapse::Conv(_), Activation::Flat(s)) => {
                panic!(
                    "SpikingLayer: a convolution needs a map, got shape {:?}",
                    s.dims()
                )
            }
            (Synapse::Dense(dense), Activation::Map(s)) => {
                // Pooling (if any) happens on the map before flattening.
                let input = dense.input(&s.device());
                let a = self.func.presynaptic_in(s, binary, input, clock).flatten();
                LayerPotential::Flat(dense.forward_potential(a, clock))
            }
            (Synapse::Dense(dense), Activation::Flat(s)) => {
                let input = dense.input(&s.device());
                let a = self.func.presynaptic_in(s, binary, input, clock);
                LayerPotential::Flat(dense.forward_potential(a, clock))
            }
        };
        let Some(norm) = &self.membrane_norm else {
            return v;
        };
        match v.filtered(clock) {
            Activation::Map(v) => {
                LayerPotential::Map(Potential::Filtered(norm.forward_in(v, clock)))
            }
            Activation::Flat(v) => {
                LayerPotential::Flat(Potential::Filtered(norm.forward_in(v, clock)))
            }
        }
    }
}

/// A plain spiking network from an architecture string (the paper's Table 2).
///
/// Input spikes → [PSP → Norm → synapse] → [Spike → PSP → Norm → synapse] → … → Spike:
/// layer `i` turns the previous potential into spikes (Func, Fig. 3c) and feeds its synapse;
/// the output layer's spikes are the network's output, decoded by spike count.
#[derive(Module, Debug)]
pub struct SpikingNetwork {
    /// The layers, in order.
    pub layers: Vec<SpikingLayer>,
    /// Parameters of the output neurons.
    #[module(skip)]
    pub srm: SrmConfig,
    /// Input `[channels, height, width]`.
    pub input: [usize; 3],
}

impl SpikingNetworkConfig {
    /// Builds the network, or says why the string's markers do not fit the normalization.
    pub fn try_init(&self, device: &Device) -> Result<SpikingNetwork, NetworkError> {
        let settings = &self.settings;
        let norm = settings.norm;
        let [mut c, mut h, mut w] = self.spec.input();
        let mut flat: Option<usize> = None;
        let mut pool = 1;
        let mut layers = Vec::new();
        for (i, layer) in self.spec.layers().iter().enumerate() {
            let (psp_norm, membrane_norm) = match *layer {
                LayerSpec::Pool { size } => {
                    pool *= size;
                    h /= size;
                    w /= size;
                    continue;
                }
                LayerSpec::Conv {
                    psp_norm,
                    membrane_norm,
                    ..
                }
                | LayerSpec::Dense {
                    psp_norm,
                    membrane_norm,
                    ..
                } => (psp_norm, membrane_norm),
            };
            let mismatch = |placement| NetworkError::NormPlacement {
                layer: i + 1,
                token: layer.to_string(),
                placement,
                norm,
            };
            if psp_norm && norm.psp_kind().is_none() && norm != Normalization::None {
                return Err(mismatch("PSP"));
            }
            if membrane_norm && !norm.is_membrane() && norm != Normalization::None {
                return Err(mismatch("membrane"));
            }
            // The network's normalization where the string marks it, none elsewhere.
            let marked = |on: bool| {
                if on {
                    settings.clone()
                } else {
                    settings.clone().with_norm(Normalization::None)
                }
            };
            // The synapse kernel of this layer, by its shape.
            let synapse_kernel = match *layer {
                LayerSpec::Conv {
                    channels, kernel, ..
                } => settings.synapse_kernel.for_synapse(c, channels, kernel),
                LayerSpec::Dense { units, .. } => {
                    settings
                        .synapse_kernel
                        .for_synapse(flat.unwrap_or(c * h * w), units, 1)
                }
                LayerSpec::Pool { .. } => unreachable!("handled above"),
            };
            let func = FuncConfig::new(flat.unwrap_or(c))
                .with_settings(marked(psp_norm))
                .with_pool(pool)
                .init(device);
            pool = 1;
            let (synapse, out_channels) = match *layer {
                LayerSpec::Conv {
                    channels,
                    kernel,
                    stride,
                    ..
                } => {
                    let conv = SynapseConv2dConfig::new([c, channels], kernel)
                        .with_stride(stride)
                        .with_weight_scale(settings.weight_scale)
                        .with_kernel(synapse_kernel)
                        .with_dense_above_density(settings.dense_above_density)
                        .with_backward_memory(settings.backward_memory)
                        .init(device);
                    h = h.div_ceil(stride);
                    w = w.div_ceil(stride);
                    c = channels;
                    (Synapse::Conv(conv), channels)
                }
                LayerSpec::Dense { units, .. } => {
                    let inputs = flat.unwrap_or(c * h * w);
                    flat = Some(units);
                    let dense = SynapseDenseConfig::new(inputs, units)
                        .with_weight_scale(settings.weight_scale)
                        .with_kernel(synapse_kernel)
                        .with_dense_above_density(settings.dense_above_density)
                        .with_backward_memory(settings.backward_memory)
                        .init(device);
                    (Synapse::Dense(dense), units)
                }
                LayerSpec::Pool { .. } => unreachable!("handled above"),
            };
            let membrane_norm = marked(membrane_norm)
                .norm
                .membrane_kind(settings.num_steps)
                .map(|kind| {
                    MembraneNormConfig::new(kind, out_channels)
                        .with_threshold_scale(settings.srm.theta)
                        .with_options(settings.membrane.clone())
                        .init(device)
                });
            layers.push(SpikingLayer {
                func,
                synapse,
                membrane_norm,
            });
        }
        Ok(SpikingNetwork {
            layers,
            srm: settings.srm.clone(),
            input: self.spec.input(),
        })
    }

    /// Builds the network.
    ///
    /// # Panics
    ///
    /// With the message of [`try_init`](Self::try_init)'s error.
    pub fn init(&self, device: &Device) -> SpikingNetwork {
        self.try_init(device).unwrap_or_else(|err| panic!("{err}"))
    }
}

impl SpikingNetwork {
    /// Output spikes for input spikes.
    ///
    /// # Shapes
    ///
    /// - `input`: `[batch, time, channels, height, width]`, `[channels, height, width]` as
    ///   the architecture string says
    /// - output: `[batch, time, classes]`
    pub fn forward(&self, input: Tensor<5>) -> Tensor<3> {
        self.run::<false>(input, &mut Clock::Whole).0
    }

    /// Output spikes and the mean firing rate of every spiking layer (hidden layers as
    /// `layer<i>`, then `output`), in spikes per neuron per step, detached from the graph,
    /// from the spikes the forward pass computes anyway. The model is unchanged.
    ///
    /// # Shapes
    ///
    /// - `input`: `[batch, time, channels, height, width]`
    /// - output: `[batch, time, classes]`
    pub fn forward_with_rates(&self, input: Tensor<5>) -> (Tensor<3>, FiringRates) {
        let (out, rates) = self.run::<true>(input, &mut Clock::Whole);
        let mut named = FiringRates::default();
        let last = rates.len().saturating_sub(1);
        for (i, rate) in rates.into_iter().enumerate() {
            if i == last {
                named.push("output", rate);
            } else {
                named.push(format!("layer{}", i + 1), rate);
            }
        }
        (out, named)
    }

    /// The forward pass; with `RECORD`, also the rate of every spike stage, in order.
    /// [`forward`](Self::forward) on `clock`.
    pub(crate) fn forward_in(&self, input: Tensor<5>, clock: &mut Clock) -> Tensor<3> {
        self.run::<false>(input, clock).0
    }

    /// The most time steps a stream may run (BNTT's `num_steps`), or `None`.
    pub(crate) fn stream_limit(&self) -> Option<usize> {
        self.layers
            .iter()
            .filter_map(|l| l.membrane_norm.as_ref()?.stream_limit())
            .min()
    }

    fn run<const RECORD: bool>(
        &self,
        input: Tensor<5>,
        clock: &mut Clock,
    ) -> (Tensor<3>, Vec<Tensor<1>>) {
        let [c, h, w] = self.input;
        assert_shape!(input, [_, _, c, h, w]);
        let mut rates = Vec::new();
        let mut record = |s: &Activation| {
            if RECORD {
                rates.push(s.mean().detach());
            }
        };
        let mut x = LayerPotential::Map(Potential::Filtered(input));
        for (i, layer) in self.layers.iter().enumerate() {
            let s = if i == 0 {
                match x {
                    LayerPotential::Map(Potential::Filtered(input)) => Activation::Map(input),
                    _ => unreachable!("the input"),
                }
            } else {
                let s = x.spikes(clock, &layer.func.srm);
                record(&s);
                s
            };
            // Hidden layers get spikes (0 or 1); the input may hold anything.
            x = layer.forward_potential(s, i > 0, clock);
        }
        let out = Activation::Flat(x.flat().spikes(clock, &self.srm));
        record(&out);
        (out.flat(), rates)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PaperDataset, table2_arch};
    use crate::test_util::*;
    use burn::tensor::Distribution;

    fn settings(norm: Normalization, num_steps: usize) -> LayerSettings {
        LayerSettings::new()
            .with_norm(norm)
            .with_num_steps(num_steps)
    }

    #[test]
    fn layers_choose_their_synapse_kernel_by_shape() {
        let device = device();
        let net = SpikingNetworkConfig::new("34x34x1-n8c3-p2-n16c3-10".parse().unwrap())
            .with_settings(settings(Normalization::PspLayer, 4))
            .init(&device);
        let kernels: Vec<_> = net
            .layers
            .iter()
            .map(|layer| match &layer.synapse {
                Synapse::Conv(conv) => conv.kernel,
                Synapse::Dense(dense) => dense.kernel,
            })
            .collect();
        use crate::synapse::SynapseKernel::{Auto, Dense};
        assert_eq!(kernels, [Dense, Auto, Auto]);
        let forced = SpikingNetworkConfig::new("34x34x1-n8c3-10".parse().unwrap())
            .with_settings(
                settings(Normalization::PspLayer, 4)
                    .with_synapse_kernel(crate::synapse::SynapseKernel::Events),
            )
            .init(&device);
        let Synapse::Conv(first) = &forced.layers[0].synapse else {
            panic!("the first layer is a convolution");
        };
        assert_eq!(first.kernel, crate::synapse::SynapseKernel::Events);
    }

    #[test]
    fn table2_network_shapes_for_every_normalization() {
        let device = device().autodiff();
        for norm in Normalization::ALL {
            let spec = match norm {
                Normalization::Bn | Normalization::Bntt | Normalization::TdBn => {
                    "12x12x2-8c3n-{16c3n}*2-p2-16c3n-10"
                }
                _ => "12x12x2-n8c3-{n16c3}*2-p2-n16c3-10",
            };
            let net = SpikingNetworkConfig::new(spec.parse().unwrap())
                .with_settings(settings(norm, 6))
                .init(&device);
            assert_eq!(net.layers.len(), 5);
            let input =
                Tensor::<5>::random([2, 6, 2, 12, 12], Distribution::Bernoulli(0.3), &device);
            let (out, rates) = net.forward_with_rates(input);
            assert_eq!(out.dims(), [2, 6, 10], "{norm}");
            assert_eq!(
                rates.names(),
                vec!["layer1", "layer2", "layer3", "layer4", "output"]
            );
            let grads = out.sum().backward();
            let first = match &net.layers[0].synapse {
                Synapse::Conv(conv) => conv.conv.weight.grad(&grads),
                Synapse::Dense(_) => unreachable!(),
            };
            assert!(first.is_some(), "{norm}: no gradient for the first layer");
        }
    }

    /// Table 2's twelve networks, verbatim ([`table2_arch`]): each string parses and builds
    /// with its normalization, with 13 synapse layers and 12 norms of the right kind.
    #[test]
    fn table2_twelve_networks_parse_and_build() {
        let device = device();
        for dataset in PaperDataset::ALL {
            for norm in Normalization::ALL {
                let spec = table2_arch(dataset, norm);
                let parsed = NetworkSpec::parse(spec).unwrap_or_else(|e| panic!("{e}"));
                assert_eq!((parsed.depth(), parsed.classes()), (13, 10), "{spec}");
                let net = SpikingNetworkConfig::new(parsed.clone())
                    .with_settings(settings(norm, 4))
                    .init(&device);
                assert_eq!(net.layers.len(), 13, "{spec}");
                let psp_norms = net.layers.iter().filter(|l| l.func.norm.is_some()).count();
                let membrane_norms = net
                    .layers
                    .iter()
                    .filter(|l| l.membrane_norm.is_some())
                    .count();
                let want = match (norm.psp_kind(), norm.is_membrane()) {
                    (Some(_), _) => (12, 0),
                    (_, true) => (0, 12),
                    _ => (0, 0),
                };
                assert_eq!((psp_norms, membrane_norms), want, "{spec} with {norm}");
                let [c, h, w] = parsed.input();
                let out = net.forward(Tensor::zeros([1, 4, c, h, w], &device));
                assert_eq!(out.dims(), [1, 4, 10], "{spec}");
            }
        }
        // `×` separators and the one-channel short form parse to the same network.
        assert_eq!(
            NetworkSpec::parse("34×34-n16c3-{n32c3}×5-n32c3-{n64c3}×5-10").unwrap(),
            NetworkSpec::parse("34x34x1-n16c3-{n32c3}*5-n32c3-{n64c3}*5-10").unwrap()
        );
    }

    #[test]
    fn markers_must_fit_the_normalization() {
        let spec: NetworkSpec = "8x8x1-n4c3-8c3n-2".parse().unwrap();
        let err = SpikingNetworkConfig::new(spec.clone())
            .with_settings(settings(Normalization::Bn, 4))
            .try_init(&device())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "layer 1 (n4c3) asks for a PSP normalization, but the network's normalization is bn"
        );
        let err = SpikingNetworkConfig::new(spec)
            .with_settings(settings(Normalization::PspBatch, 4))
            .try_init(&device())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "layer 2 (8c3n) asks for a membrane normalization, but the network's normalization is psp-bn"
        );
    }

    #[test]
    fn dense_only_network_on_flat_input() {
        let device = device();
        let net = SpikingNetworkConfig::new("1x1x20-n32-n4".parse().unwrap()).init(&device);
        let out = net.forward(Tensor::zeros([3, 7, 20, 1, 1], &device));
        assert_eq!(out.dims(), [3, 7, 4]);
    }

    #[test]
    #[should_panic(expected = "axis 2 expected 2, got 3 (dims [1, 2, 3, 4, 4])")]
    fn the_input_shape_is_checked() {
        let device = device();
        let net = SpikingNetworkConfig::new("4x4x2-n4c3-3".parse().unwrap()).init(&device);
        net.forward(Tensor::zeros([1, 2, 3, 4, 4], &device));
    }
}
