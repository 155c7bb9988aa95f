//! Residual blocks (eq. 8 and 9) and the convolution unit they are made of.

mod conv_norm;
mod post;
mod pre;

pub use conv_norm::*;
pub use post::*;
pub use pre::*;

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// The residual path of a block: the identity, or the projection when shapes change.
fn shortcut(projection: Option<&ConvNorm>, h: Tensor<5>) -> Tensor<5> {
    match projection {
        Some(projection) => projection.forward(h),
        None => h,
    }
}

/// Pre- or post-activation residual blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BlockKind {
    /// `h + Conv(Func(Conv(Func(h))))` (eq. 8): the residual stream carries potentials.
    Pre,
    /// `Func(h + Conv(Func(Conv(h))))` (eq. 9): the residual stream carries normalized PSPs.
    Post,
}
