//! Plain (non-residual) spiking networks built from an architecture string.

use super::FiringRates;
use super::spec::{LayerSpec, NetworkSpec, SpecError};
use crate::functional::spike;
use crate::neuron::{Func, FuncConfig, SrmConfig};
use crate::norm::{MembraneNorm, MembraneNormConfig, Normalization};
use crate::synapse::{SynapseConv2d, SynapseConv2dConfig, SynapseDense, SynapseDenseConfig};
use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

/// Configuration of a [`SpikingNetwork`]: an architecture string and the settings shared by
/// its layers.
#[derive(Config, Debug)]
pub struct SpikingNetworkConfig {
    /// Architecture string (Table 2), e.g. `34x34x2-n8c3-{n16c3}*5-n16c3-{n32c3}*5-10`.
    pub spec: String,
    /// The normalization placed where the string says `n`. Default: PSP-LN.
    #[config(default = "Normalization::PspLayer")]
    pub norm: Normalization,
    /// Neuron parameters. Default: Table 1.
    #[config(default = "SrmConfig::new()")]
    pub srm: SrmConfig,
    /// λ of the PSP normalization. Default: 0.1.
    #[config(default = 0.1)]
    pub lambda: f64,
    /// Synapse weight scale. Default: 10 (Table 1).
    #[config(default = 10.0)]
    pub weight_scale: f64,
    /// Time steps, needed by BNTT (one normalization per step). Default: 300.
    #[config(default = 300)]
    pub num_steps: usize,
}

/// Why a network cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NetworkError {
    /// The architecture string is malformed.
    #[error(transparent)]
    Spec(#[from] SpecError),
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
        let v = match (&self.synapse, s) {
            (Synapse::Conv(conv), Activation::Map(s)) => {
                Activation::Map(conv.forward(self.func.forward_spikes(s)))
            }
            (Synapse::Conv(_), Activation::Flat(s)) => {
                panic!(
                    "SpikingLayer: a convolution needs a map, got shape {:?}",
                    s.dims()
                )
            }
            (Synapse::Dense(dense), Activation::Map(s)) => {
                // Pooling (if any) happens on the map before flattening.
                let a = self.func.forward_spikes(s);
                Activation::Flat(dense.forward(Activation::Map(a).flat()))
            }
            (Synapse::Dense(dense), Activation::Flat(s)) => {
                Activation::Flat(dense.forward(self.func.forward_spikes(s)))
            }
        };
        match (&self.membrane_norm, v) {
            (Some(norm), Activation::Map(v)) => Activation::Map(norm.forward(v)),
            (Some(norm), Activation::Flat(v)) => Activation::Flat(norm.forward(v)),
            (None, v) => v,
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
    /// Builds the network, or says why the string or its normalization is wrong.
    pub fn try_init(&self, device: &Device) -> Result<SpikingNetwork, NetworkError> {
        let spec = NetworkSpec::parse(&self.spec)?;
        let [mut h, mut w, mut c] = spec.input;
        let mut flat: Option<usize> = None;
        let mut pool = 1;
        let mut layers = Vec::new();
        for (i, layer) in spec.layers.iter().enumerate() {
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
                norm: self.norm,
            };
            if psp_norm && self.norm.psp_kind().is_none() && self.norm != Normalization::None {
                return Err(mismatch("PSP"));
            }
            if membrane_norm
                && self.norm.membrane_kind().is_none()
                && self.norm != Normalization::None
            {
                return Err(mismatch("membrane"));
            }
            let func = FuncConfig::new(flat.unwrap_or(c))
                .with_norm(if psp_norm { self.norm.psp_kind() } else { None })
                .with_srm(self.srm.clone())
                .with_lambda(self.lambda)
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
                        .with_weight_scale(self.weight_scale)
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
                        .with_weight_scale(self.weight_scale)
                        .init(device);
                    (Synapse::Dense(dense), units)
                }
                LayerSpec::Pool { .. } => unreachable!("handled above"),
            };
            let membrane_norm = match (membrane_norm, self.norm.membrane_kind()) {
                (true, Some(kind)) => Some(
                    MembraneNormConfig::new(kind, out_channels)
                        .with_num_steps(self.num_steps)
                        .with_threshold_scale(self.srm.theta)
                        .init(device),
                ),
                _ => None,
            };
            layers.push(SpikingLayer {
                func,
                synapse,
                membrane_norm,
            });
        }
        let [ih, iw, ic] = spec.input;
        Ok(SpikingNetwork {
            layers,
            srm: self.srm.clone(),
            input: [ic, ih, iw],
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
    /// - `input`: `[batch, time, channels, height, width]`
    /// - output: `[batch, time, classes]`
    pub fn forward(&self, input: Tensor<5>) -> Tensor<3> {
        self.run(input, None)
    }

    /// Output spikes and the mean firing rate of every spiking layer (hidden and output), in
    /// spikes per neuron per step, detached from the graph. The model is unchanged.
    ///
    /// # Shapes
    ///
    /// - `input`: `[batch, time, channels, height, width]`
    /// - output: `[batch, time, classes]`
    pub fn forward_with_rates(&self, input: Tensor<5>) -> (Tensor<3>, FiringRates) {
        let mut rates = FiringRates::default();
        let out = self.run(input, Some(&mut rates));
        (out, rates)
    }

    fn run(&self, input: Tensor<5>, mut rates: Option<&mut FiringRates>) -> Tensor<3> {
        let [_, _, c, h, w] = input.dims();
        assert!(
            [c, h, w] == self.input,
            "SpikingNetwork: expected input [batch, time, {}, {}, {}], got shape {:?}",
            self.input[0],
            self.input[1],
            self.input[2],
            input.dims()
        );
        let mut x = Activation::Map(input);
        for (i, layer) in self.layers.iter().enumerate() {
            let s = if i == 0 {
                x
            } else {
                let s = match x {
                    Activation::Map(v) => Activation::Map(layer.func.spikes(v)),
                    Activation::Flat(v) => Activation::Flat(layer.func.spikes(v)),
                };
                if let Some(rates) = rates.as_deref_mut() {
                    rates.push(format!("layer{i}"), s.mean().detach());
                }
                s
            };
            x = layer.forward_spikes(s);
        }
        let out = spike(x.flat(), &self.srm);
        FiringRates::record(&mut rates, "output", &out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PaperDataset, table2_arch};
    use crate::test_util::*;
    use burn::tensor::Distribution;

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
            let net = SpikingNetworkConfig::new(spec.into())
                .with_norm(norm)
                .with_num_steps(6)
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
                let net = SpikingNetworkConfig::new(spec.to_string())
                    .with_norm(norm)
                    .with_num_steps(4)
                    .init(&device);
                assert_eq!(net.layers.len(), 13, "{spec}");
                let psp_norms = net.layers.iter().filter(|l| l.func.norm.is_some()).count();
                let membrane_norms = net
                    .layers
                    .iter()
                    .filter(|l| l.membrane_norm.is_some())
                    .count();
                let want = match (norm.psp_kind(), norm.membrane_kind()) {
                    (Some(_), _) => (12, 0),
                    (_, Some(_)) => (0, 12),
                    _ => (0, 0),
                };
                assert_eq!((psp_norms, membrane_norms), want, "{spec} with {norm}");
                let [h, w, c] = parsed.input;
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
        let err = SpikingNetworkConfig::new("8x8x1-n4c3-8c3n-2".into())
            .with_norm(Normalization::Bn)
            .try_init(&device())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "layer 1 (n4c3) asks for a PSP normalization, but the network's normalization is bn"
        );
        let err = SpikingNetworkConfig::new("8x8x1-n4c3-8c3-".into())
            .try_init(&device())
            .unwrap_err();
        assert!(matches!(err, NetworkError::Spec(_)));
    }

    #[test]
    fn dense_only_network_on_flat_input() {
        let device = device();
        let net = SpikingNetworkConfig::new("1x1x20-n32-n4".into()).init(&device);
        let out = net.forward(Tensor::zeros([3, 7, 20, 1, 1], &device));
        assert_eq!(out.dims(), [3, 7, 4]);
    }
}
