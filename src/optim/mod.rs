//! Optimizers missing from burn-optim.

mod adabelief;

pub use adabelief::*;
