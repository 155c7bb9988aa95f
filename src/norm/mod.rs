//! Normalization layers: the paper's PSP normalization and the membrane-potential baselines.

mod choice;
mod membrane;
mod psp_norm;

pub use choice::*;
pub use membrane::*;
pub use psp_norm::*;

use burn::module::RunningState;
use burn::tensor::{Device, Tensor};

/// Moves a running statistic towards `observed` by `momentum`:
/// `running·(1 − momentum) + observed·momentum`, detached (the update of Burn's `BatchNorm`,
/// shared by the PSP and membrane normalizations).
pub(crate) fn update_running(
    state: &RunningState<Tensor<1>>,
    observed: Tensor<1>,
    momentum: f64,
    device: &Device,
) {
    let running = state.value_sync().to_device(device);
    let running = running.mul_scalar(1.0 - momentum) + observed.detach().mul_scalar(momentum);
    state.update(running.detach());
}
