//! The spiking-neuron layer of the paper: Func (Spike → PSP → Norm), with its parameters
//! ([`SrmConfig`](crate::SrmConfig)).

mod func;
mod settings;

pub use func::*;
pub use settings::*;
