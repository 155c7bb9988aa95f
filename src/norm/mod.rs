//! Normalization layers.

mod psp_norm;

pub use psp_norm::*;
