//! Residual blocks (eq. 8 and 9) and the convolution unit they are made of.

mod conv_norm;
mod post;
mod pre;
mod residual;

pub use conv_norm::*;
pub use post::*;
pub use pre::*;
pub use residual::*;

use serde::{Deserialize, Serialize};

/// Pre- or post-activation residual blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BlockKind {
    /// `h + Conv(Func(Conv(Func(h))))` (eq. 8): the residual stream carries potentials.
    Pre,
    /// `Func(h + Conv(Func(Conv(h))))` (eq. 9): the residual stream carries normalized PSPs.
    Post,
}
