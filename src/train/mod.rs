//! Training runs: experiment configuration, the training loop with checkpoints and resume,
//! metrics, firing-rate records and SVG plots.
//!
//! The loop is this crate's own rather than burn-train's `Learner`, for three concrete
//! reasons: the paper's per-epoch random subsets must be a function of `(seed, epoch)` so that
//! `--resume` replays exactly the same samples; a non-finite value must stop the run with the
//! parameter and step named, which needs the gradients between backward and update; and the
//! per-layer firing rates (Figs. 6–7) come from the model's own recording forward pass.

mod experiment;
mod finite;
mod fit;
#[cfg(feature = "train")]
mod learner;
mod plot;

pub use experiment::*;
pub use finite::*;
pub use fit::*;
#[cfg(feature = "train")]
pub use learner::*;
pub use plot::*;
