//! Data parallelism is exact for burn-snn's operations: the gradient of a batch equals the
//! mean of the gradients of its two halves (what `MultiDevice` and DDP average), in f64, for
//! networks whose statistics are per sample (PSP-LN) or absent (none). PSP-BN takes its
//! statistics over the batch, so each device normalizes with its own half's statistics, as
//! Burn's `BatchNorm` does: its gradients differ, which the last test pins down.

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Distribution, FloatDType, Int, Tensor, TensorData};
use burn_snn::model::{SpikeCountLossConfig, SpikingNetwork, SpikingNetworkConfig};
use burn_snn::neuron::LayerSettings;
use burn_snn::norm::Normalization;

/// The CPU device with f64 as its float type (set once, before any tensor of this process).
fn device() -> Device {
    static F64: std::sync::Once = std::sync::Once::new();
    let mut device = burn_snn::device::cpu();
    F64.call_once(|| device.configure(FloatDType::F64).expect("f64 on the CPU"));
    device
}

/// The backend's random generator is global: seeded draws hold this lock.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Every trainable parameter's gradient, in module order (running statistics have none).
fn gradients(net: &SpikingNetwork, x: Tensor<5>, labels: &[i64]) -> Vec<f64> {
    let device = x.device();
    let y = Tensor::<1, Int>::from_data(TensorData::new(labels.to_vec(), [labels.len()]), &device);
    let loss = SpikeCountLossConfig::new(6.0, 1.0)
        .init()
        .forward(net.forward(x), y);
    let grads = loss.backward();
    struct Collect<'a>(&'a burn::tensor::Gradients, Vec<f64>);
    impl ModuleVisitor for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(grad) = param.val().grad(self.0) {
                let values = grad.into_data().convert::<f64>().try_to_vec::<f64>();
                self.1.extend(values.unwrap());
            }
        }
    }
    let mut collect = Collect(&grads, Vec::new());
    net.visit(&mut collect);
    collect.1
}

/// `(gradient of the whole batch, mean of the halves' gradients)` for a seeded network.
fn whole_and_halves(norm: Normalization) -> (Vec<f64>, Vec<f64>) {
    let _serial = serial();
    let device = device();
    device.seed(11);
    let spec = match norm {
        Normalization::None => "8x8x2-6c3-p2-8c3-3",
        _ => "8x8x2-n6c3-p2-n8c3-3",
    };
    let net = SpikingNetworkConfig::new(spec.parse().unwrap())
        .with_settings(
            LayerSettings::new()
                .with_norm(norm)
                .with_num_steps(24)
                .with_weight_scale(30.0),
        )
        .init(&device.clone().autodiff());
    let x = Tensor::<5>::random([4, 24, 2, 8, 8], Distribution::Bernoulli(0.3), &device);
    let labels = [0, 1, 2, 0];
    let ad = device.autodiff();
    let whole = gradients(&net, Tensor::from_data(x.to_data(), &ad), &labels);
    let half = |range: std::ops::Range<usize>| {
        let part = x.clone().slice([range.clone()]);
        gradients(&net, Tensor::from_data(part.to_data(), &ad), &labels[range])
    };
    let (a, b) = (half(0..2), half(2..4));
    let mean = a.iter().zip(&b).map(|(a, b)| (a + b) / 2.0).collect();
    // The synapse weights of both conv layers and the dense layer: 2·6·9 + 6·8·9 + 8·4·4·3.
    assert_eq!(whole.len(), 108 + 432 + 384, "{norm}");
    assert!(whole.iter().any(|&g| g != 0.0), "{norm}: zero gradient");
    (whole, mean)
}

fn max_rel_diff(a: &[f64], b: &[f64]) -> f64 {
    let scale = b.iter().fold(0f64, |m, v| m.max(v.abs()));
    a.iter().zip(b).fold(0f64, |m, (a, b)| m.max((a - b).abs())) / scale
}

#[test]
fn psp_ln_batch_gradient_is_the_mean_of_the_halves() {
    let (whole, halves) = whole_and_halves(Normalization::PspLayer);
    let diff = max_rel_diff(&whole, &halves);
    assert!(diff <= 1e-10, "PSP-LN: {diff}");
}

#[test]
fn unnormalized_batch_gradient_is_the_mean_of_the_halves() {
    let (whole, halves) = whole_and_halves(Normalization::None);
    let diff = max_rel_diff(&whole, &halves);
    assert!(diff <= 1e-10, "none: {diff}");
}

/// PSP-BN normalizes with the statistics of the batch it sees: split across two devices, each
/// half uses its own, so the averaged gradient is not the whole batch's.
#[test]
fn psp_bn_statistics_are_per_device() {
    let (whole, halves) = whole_and_halves(Normalization::PspBatch);
    let diff = max_rel_diff(&whole, &halves);
    assert!(diff > 1e-3, "PSP-BN: halves agree with the batch ({diff})");
}
