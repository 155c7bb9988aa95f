//! Helpers shared by integration tests that run in float64.
#![allow(dead_code)] // each test crate uses a part

use burn::tensor::{Device, FloatDType, Tensor};

/// The CPU device with f64 as its float type (set once per test process, before any tensor).
pub fn device_f64() -> Device {
    static ONCE: std::sync::Once = std::sync::Once::new();
    let mut device = burn_snn::device::cpu();
    ONCE.call_once(|| device.configure(FloatDType::F64).expect("f64 on the CPU"));
    device
}

/// The tensor's values as f64.
pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data().convert::<f64>().try_to_vec::<f64>().unwrap()
}

/// The backend's random generator is global: tests that seed it take this lock, so that their
/// seeded draws do not interleave with another test's (which could, for example, leave a
/// network silent on one run in many).
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}
