//! The SRM neuron: its parameters and the Func layer (Spike → PSP → Norm).

mod func;
mod srm;

pub use func::*;
pub use srm::*;
