//! # burn-snn
//!
//! Spiking neural networks on [Burn](https://burn.dev): the SRM neuron with the SLAYER
//! surrogate gradient and the PSP normalization of Ikegawa et al., "Rethinking the role of
//! normalization and residual blocks for spiking neural networks" (2022).
//!
//! Tensors have the layout `[batch, time, ...]`: time is dim 1, one step per index, and the
//! remaining dims are neurons (e.g. `[batch, time, channels, height, width]`).
//!
//! - [`functional::psp`]: the alpha-kernel PSP, exact in `O(T)`, with its exact adjoint.
//! - [`functional::spike`]: spikes with the refractory response and the SLAYER surrogate.
//! - [`functional::psp_norm`] and [`PspNorm`]: PSP-BN and PSP-LN.
//!
//! Backends: Flex (feature `flex`, default) and NdArray (feature `ndarray`) on the CPU; the
//! operations are a Burn backend extension ([`kernels::SnnBackend`]).
#![warn(missing_docs)]

#[cfg(not(any(feature = "flex", feature = "ndarray", feature = "wgpu")))]
compile_error!(
    "burn-snn needs a backend: enable the `flex` (default), `ndarray` or `wgpu` feature"
);

pub mod block;
pub mod data;
pub mod functional;
pub mod kernels;
pub mod memory;
pub mod model;
pub mod neuron;
pub mod norm;
pub mod optim;
pub mod synapse;
pub mod train;

#[cfg(test)]
mod test_util;

/// README's code samples, run as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

pub use block::BlockKind;
pub use model::{
    FiringRates, NetworkSpec, SpikingNetwork, SpikingNetworkConfig, SpikingResNet,
    SpikingResNetConfig,
};
pub use neuron::{Func, FuncConfig, InvalidSrmConfig, SrmConfig};
pub use norm::{MembraneNormKind, Normalization, PspNorm, PspNormConfig, PspNormKind};
pub use optim::{AdaBelief, AdaBeliefConfig};
