//! The operations of the paper as functions on tensors of layout `[batch, time, ...]`.
//!
//! They are differentiable on an autodiff device (`device.autodiff()`), with the backward
//! passes described on each function, and run on every backend the crate is built with.

mod carry;
mod clock;
mod event_conv;
mod pool;
mod psp;
mod psp_norm;
mod spike;

pub use carry::*;
pub(crate) use clock::{Calibration, Clock};
pub use clock::{CausalLayerNorm, StreamState};
pub use event_conv::*;
pub use pool::*;
pub use psp::*;
pub use psp_norm::*;
pub use spike::*;

/// Panics unless `dims` is a `[batch, time, ...]` shape with a non-empty time dim.
#[track_caller]
pub(crate) fn check_time_layout(op: &str, dims: &[usize]) {
    assert!(
        dims.len() >= 2,
        "{op}: expected a tensor of shape [batch, time, ...] (rank >= 2), got rank {} with shape {dims:?}",
        dims.len()
    );
    assert!(
        dims[1] > 0,
        "{op}: the time dim (dim 1) is empty in shape {dims:?}; expected at least one time step"
    );
}

/// Panics unless the PSP time constant `tau_s` is finite and positive.
#[track_caller]
pub(crate) fn check_tau_s(op: &str, tau_s: f64) {
    assert!(
        tau_s.is_finite() && tau_s > 0.0,
        "{op}: tau_s must be finite and > 0, got {tau_s}"
    );
}

/// Panics unless every neuron parameter of `cfg` is usable, naming the op and the parameter.
#[track_caller]
pub(crate) fn check_srm(op: &str, cfg: &crate::SrmConfig) {
    if let Err(err) = cfg.check() {
        panic!("{op}: {err}");
    }
}
