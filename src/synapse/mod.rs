//! Synapses: weights applied to every time step at once by folding time into the batch.
//!
//! A synapse maps PSPs `[batch, time, ...]` to membrane potentials of the next layer. It
//! reshapes to `[batch·time, ...]` (no copy: the layout is contiguous), runs Burn's layer, and
//! reshapes back.
//!
//! Given a Func layer's output in factored form ([`Presynaptic`]),
//! a synapse can instead convolve the spikes, event-driven, and filter the result
//! ([`SynapseKernel`]).

mod conv;
mod dense;
mod kernel;
mod presynaptic;

pub use conv::*;
pub use dense::*;
pub use kernel::*;
pub use presynaptic::*;

use burn::nn::Initializer;

/// Burn's default initialization of conv and dense weights (Kaiming-uniform with gain 1/√3)
/// multiplied by `scale` (the paper's weight scale, Table 1).
pub(crate) fn scaled_default_init(scale: f64) -> Initializer {
    Initializer::KaimingUniform {
        gain: scale / 3f64.sqrt(),
        fan_out_only: false,
    }
}
