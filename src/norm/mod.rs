//! Normalization layers: the paper's PSP normalization and the membrane-potential baselines.

mod choice;
mod membrane;
mod psp_norm;

pub use choice::*;
pub use membrane::*;
pub use psp_norm::*;
