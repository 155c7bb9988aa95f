//! The SRM neuron: its parameters.

mod srm;

pub use srm::*;
