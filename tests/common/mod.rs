//! Helpers shared by the integration tests: the float64 device, values, the seed lock, accuracy.
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

/// The fraction of `data` that `model` classifies right (most output spikes), evaluated on the
/// CPU device in batches of 32.
pub fn accuracy(
    model: &burn_snn::model::SnnModel,
    data: &std::sync::Arc<dyn burn_snn::data::SpikeData>,
) -> f64 {
    use burn::data::dataloader::DataLoader;
    use burn_snn::model::{correct, spike_counts};
    let loader = burn_snn::data::SpikeDataLoader::eval(data.clone(), 32, &burn_snn::device::cpu());
    let mut right = 0;
    for batch in loader.iter() {
        let batch = batch.unwrap();
        right += correct(spike_counts(model.forward(batch.spikes)), batch.labels);
    }
    right as f64 / data.len() as f64
}
