//! Event-driven vs dense synapses in f64 (tolerance 1e-10); see `event_parity/common.rs`.

#[path = "event_parity/common.rs"]
mod common;

use burn::tensor::{Device, FloatDType};

const TOL: f64 = 1e-10;

/// The CPU autodiff device with f64 as its float type (set once, before any tensor).
fn device() -> Device {
    static ONCE: std::sync::Once = std::sync::Once::new();
    let mut device = burn_snn::device::cpu();
    ONCE.call_once(|| device.configure(FloatDType::F64).expect("f64 on the CPU"));
    device.autodiff()
}

#[test]
fn func_into_conv() {
    common::func_into_conv(&device(), TOL);
}

#[test]
fn func_into_dense() {
    common::func_into_dense(&device(), TOL);
}

#[test]
fn residual_blocks() {
    common::residual_blocks(&device(), TOL);
}

#[test]
fn networks() {
    common::networks(&device(), TOL);
}
