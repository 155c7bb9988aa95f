//! The model of a run as a typed choice: a plain network from an architecture string, or a
//! ResNet of a depth, a block kind and stage widths.

use super::{
    FiringRates, NetworkError, NetworkSpec, ResNetError, SpecError, SpikingNetwork,
    SpikingNetworkConfig, SpikingResNet, SpikingResNetConfig,
};
use crate::block::BlockKind;
use crate::neuron::LayerSettings;
use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use core::fmt;
use serde::{Deserialize, Serialize};

/// Which network: a plain one (Table 2) or a ResNet (Table 3).
///
/// Parses from a Table 2 string or from `resnet<depth>-pre` / `resnet<depth>-post` (stage
/// widths `[16, 32]`, changed with [`with_widths`](Self::with_widths)):
///
/// ```
/// use burn_snn::block::BlockKind;
/// use burn_snn::model::Architecture;
///
/// let plain: Architecture = "34x34x2-n8c3-{n16c3}*5-n16c3-{n32c3}*5-10".parse().unwrap();
/// assert!(matches!(plain, Architecture::Plain(_)));
/// let resnet: Architecture = "resnet106-pre".parse().unwrap();
/// assert_eq!(
///     resnet.with_widths(vec![8, 16]),
///     Architecture::ResNet { depth: 106, kind: BlockKind::Pre, widths: vec![8, 16] }
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Architecture {
    /// A plain network from an architecture string.
    Plain(NetworkSpec),
    /// A residual network ([`SpikingResNetConfig`]).
    ResNet {
        /// Synapse layers (even, ≥ 4).
        depth: usize,
        /// Pre- or post-activation blocks.
        kind: BlockKind,
        /// Channels of each stage.
        widths: Vec<usize>,
    },
}

/// Why a string is not an [`Architecture`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ArchitectureError {
    /// A malformed network string.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// A `resnet…` name that is not `resnet<depth>-pre` or `resnet<depth>-post`.
    #[error("invalid ResNet name {0:?}: expected resnet<depth>-pre or resnet<depth>-post")]
    ResNetName(String),
}

impl Architecture {
    /// The default stage widths of a parsed ResNet name.
    pub const DEFAULT_WIDTHS: [usize; 2] = [16, 32];

    /// The same architecture with these ResNet stage widths (a plain network is unchanged).
    pub fn with_widths(self, widths: Vec<usize>) -> Self {
        match self {
            Architecture::ResNet { depth, kind, .. } => Architecture::ResNet {
                depth,
                kind,
                widths,
            },
            plain => plain,
        }
    }
}

impl core::str::FromStr for Architecture {
    type Err = ArchitectureError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let Some(rest) = s.strip_prefix("resnet") else {
            return Ok(Architecture::Plain(NetworkSpec::parse(s)?));
        };
        let bad = || ArchitectureError::ResNetName(s.to_string());
        let (depth, kind) = rest.split_once('-').ok_or_else(bad)?;
        let kind = match kind {
            "pre" => BlockKind::Pre,
            "post" => BlockKind::Post,
            _ => return Err(bad()),
        };
        Ok(Architecture::ResNet {
            depth: depth.parse().map_err(|_| bad())?,
            kind,
            widths: Self::DEFAULT_WIDTHS.to_vec(),
        })
    }
}

impl fmt::Display for Architecture {
    /// The string it parses from (a ResNet's widths are not part of it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Architecture::Plain(spec) => spec.fmt(f),
            Architecture::ResNet { depth, kind, .. } => {
                let kind = match kind {
                    BlockKind::Pre => "pre",
                    BlockKind::Post => "post",
                };
                write!(f, "resnet{depth}-{kind}")
            }
        }
    }
}

/// Why a model cannot be built for a data set.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// A plain network's input is not the data's.
    #[error(
        "the architecture {arch} takes input [channels, height, width] = {arch_input:?}, but the data are {data_input:?}"
    )]
    Input {
        /// The architecture string.
        arch: String,
        /// Its input.
        arch_input: [usize; 3],
        /// The data's.
        data_input: [usize; 3],
    },
    /// A plain network's class count is not the data's.
    #[error("the architecture {arch} has {arch_classes} classes, but the data have {data_classes}")]
    Classes {
        /// The architecture string.
        arch: String,
        /// Its classes.
        arch_classes: usize,
        /// The data's.
        data_classes: usize,
    },
    /// The network's markers do not fit its normalization.
    #[error(transparent)]
    Network(#[from] NetworkError),
    /// The ResNet's configuration is invalid.
    #[error(transparent)]
    ResNet(#[from] ResNetError),
}

/// Configuration of an [`SnnModel`] for a data set.
///
/// ```
/// use burn_snn::model::{Architecture, SnnModelConfig};
///
/// let device = burn_snn::device::cpu();
/// // Either kind of network from one typed architecture: a string, or a ResNet name.
/// let arch: Architecture = "resnet32-pre".parse().unwrap();
/// let model = SnnModelConfig::new(arch.with_widths(vec![8, 16]), [1, 34, 34], 10)
///     .try_init(&device)
///     .expect("the architecture fits the input");
/// # let _ = model;
/// ```
#[derive(Config, Debug)]
pub struct SnnModelConfig {
    /// The architecture.
    pub arch: Architecture,
    /// The data's input `[channels, height, width]`.
    pub input: [usize; 3],
    /// The data's classes.
    pub classes: usize,
    /// The layers' settings. Default: Table 1 with PSP-LN.
    #[config(default = "LayerSettings::new()")]
    pub settings: LayerSettings,
}

impl SnnModelConfig {
    /// Builds the model, or says why the architecture does not fit the data or is invalid.
    pub fn try_init(&self, device: &Device) -> Result<SnnModel, ModelError> {
        match &self.arch {
            Architecture::Plain(spec) => {
                if spec.input() != self.input {
                    return Err(ModelError::Input {
                        arch: spec.to_string(),
                        arch_input: spec.input(),
                        data_input: self.input,
                    });
                }
                if spec.classes() != self.classes {
                    return Err(ModelError::Classes {
                        arch: spec.to_string(),
                        arch_classes: spec.classes(),
                        data_classes: self.classes,
                    });
                }
                let net = SpikingNetworkConfig::new(spec.clone())
                    .with_settings(self.settings.clone())
                    .try_init(device)?;
                Ok(SnnModel::Plain(net))
            }
            Architecture::ResNet {
                depth,
                kind,
                widths,
            } => {
                let net = SpikingResNetConfig::new(*depth, *kind)
                    .with_input(self.input)
                    .with_classes(self.classes)
                    .with_widths(widths.clone())
                    .with_settings(self.settings.clone())
                    .try_init(device)?;
                Ok(SnnModel::Residual(net))
            }
        }
    }

    /// Builds the model.
    ///
    /// # Panics
    ///
    /// With the message of [`try_init`](Self::try_init)'s error.
    pub fn init(&self, device: &Device) -> SnnModel {
        self.try_init(device)
            .unwrap_or_else(|err| panic!("SnnModelConfig: {err}"))
    }
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
    /// Output spikes for input spikes.
    ///
    /// # Shapes
    ///
    /// - `input`: `[batch, time, channels, height, width]`
    /// - output: `[batch, time, classes]`
    pub fn forward(&self, input: Tensor<5>) -> Tensor<3> {
        match self {
            SnnModel::Plain(net) => net.forward(input),
            SnnModel::Residual(net) => net.forward(input),
        }
    }

    /// Output spikes and per-layer firing rates.
    ///
    /// # Shapes
    ///
    /// As [`forward`](Self::forward).
    pub fn forward_with_rates(&self, input: Tensor<5>) -> (Tensor<3>, FiringRates) {
        match self {
            SnnModel::Plain(net) => net.forward_with_rates(input),
            SnnModel::Residual(net) => net.forward_with_rates(input),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::device;

    #[test]
    fn names_parse_and_print_back() {
        for s in ["resnet106-pre", "resnet20-post", "34x34x2-n8c3-10"] {
            let arch: Architecture = s.parse().unwrap();
            assert_eq!(arch.to_string(), s);
        }
        for bad in ["resnet-pre", "resnet20-mid", "resnetx-pre"] {
            assert_eq!(
                bad.parse::<Architecture>(),
                Err(ArchitectureError::ResNetName(bad.into()))
            );
        }
        assert!(matches!(
            "34x34x2-n8c3".parse::<Architecture>(),
            Err(ArchitectureError::Spec(_))
        ));
    }

    #[test]
    fn serializes_with_the_widths() {
        let arch = "resnet8-post"
            .parse::<Architecture>()
            .unwrap()
            .with_widths(vec![4, 8]);
        let json = serde_json::to_string(&arch).unwrap();
        assert_eq!(serde_json::from_str::<Architecture>(&json).unwrap(), arch);
        let plain: Architecture = "8x8x2-n4c3-3".parse().unwrap();
        let json = serde_json::to_string(&plain).unwrap();
        assert_eq!(serde_json::from_str::<Architecture>(&json).unwrap(), plain);
    }

    #[test]
    fn a_string_for_another_data_set_is_an_error() {
        let device = device();
        let cfg = |arch: &str| SnnModelConfig::new(arch.parse().unwrap(), [2, 34, 34], 10);
        let err = cfg("28x28x1-n8c3-10").try_init(&device).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the architecture 28x28x1-n8c3-10 takes input [channels, height, width] = [1, 28, 28], but the data are [2, 34, 34]"
        );
        let err = cfg("34x34x2-n8c3-11").try_init(&device).unwrap_err();
        assert_eq!(
            err,
            ModelError::Classes {
                arch: "34x34x2-n8c3-11".into(),
                arch_classes: 11,
                data_classes: 10
            }
        );
        let err = cfg("resnet7-pre").try_init(&device).unwrap_err();
        assert_eq!(err, ModelError::ResNet(ResNetError::Depth(7)));
    }
}
