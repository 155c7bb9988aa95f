//! The normalization a network uses: the paper's two and its four baselines.

use super::MembraneNormKind;
use crate::functional::PspNormKind;
use serde::{Deserialize, Serialize};

/// The normalization of a network (one choice for all its layers).
///
/// | variant | where | equation / source |
/// |---|---|---|
/// | `None` | — | no normalization |
/// | `PspBatch` | on the PSP, before the synapse | PSP-BN, eq. 19 |
/// | `PspLayer` | on the PSP, before the synapse | PSP-LN, eq. 20 |
/// | `Bn` | on the membrane potential, after the synapse | BN \[35\] |
/// | `Bntt` | on the membrane potential, after the synapse | BNTT \[34\] |
/// | `TdBn` | on the membrane potential, after the synapse | tdBN \[33\] |
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Normalization {
    /// No normalization.
    None,
    /// PSP batch normalization (the paper's, eq. 19).
    PspBatch,
    /// PSP layer normalization (the paper's, eq. 20).
    #[default]
    PspLayer,
    /// Batch normalization of the membrane potential.
    Bn,
    /// Batch normalization through time of the membrane potential.
    Bntt,
    /// Threshold-dependent batch normalization of the membrane potential.
    TdBn,
}

impl Normalization {
    /// Every variant, in the order of the table above.
    pub const ALL: [Normalization; 6] = [
        Self::None,
        Self::PspBatch,
        Self::PspLayer,
        Self::Bn,
        Self::Bntt,
        Self::TdBn,
    ];

    /// The PSP normalization, if this is one.
    pub fn psp_kind(self) -> Option<PspNormKind> {
        match self {
            Self::PspBatch => Some(PspNormKind::Batch),
            Self::PspLayer => Some(PspNormKind::Layer),
            _ => None,
        }
    }

    /// The membrane-potential normalization, if this is one, for inputs of `num_steps` time
    /// steps (only BNTT depends on it).
    pub fn membrane_kind(self, num_steps: usize) -> Option<MembraneNormKind> {
        match self {
            Self::Bn => Some(MembraneNormKind::Bn),
            Self::Bntt => Some(MembraneNormKind::Bntt { num_steps }),
            Self::TdBn => Some(MembraneNormKind::TdBn),
            _ => None,
        }
    }

    /// Whether this normalizes the membrane potential (BN, BNTT, tdBN): after the synapse.
    pub fn is_membrane(self) -> bool {
        matches!(self, Self::Bn | Self::Bntt | Self::TdBn)
    }

    /// The short name used on command lines: `none`, `psp-bn`, `psp-ln`, `bn`, `bntt`, `tdbn`.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::PspBatch => "psp-bn",
            Self::PspLayer => "psp-ln",
            Self::Bn => "bn",
            Self::Bntt => "bntt",
            Self::TdBn => "tdbn",
        }
    }
}

impl core::fmt::Display for Normalization {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

impl core::str::FromStr for Normalization {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|n| n.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|n| n.name()).collect();
                format!(
                    "unknown normalization {s:?}; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_listed() {
        for n in Normalization::ALL {
            assert_eq!(n.name().parse::<Normalization>(), Ok(n));
        }
        let err = "batch".parse::<Normalization>().unwrap_err();
        assert_eq!(
            err,
            "unknown normalization \"batch\"; expected one of none, psp-bn, psp-ln, bn, bntt, tdbn"
        );
    }
}
