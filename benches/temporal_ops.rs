//! Throughput of the temporal ops on the paper's N-MNIST activation shape
//! `[10, 300, 32, 34, 34]` (111 M elements, 444 MB in f32), beside two copies of the same size
//! so that the ratio to memory bandwidth is visible.
//!
//! Run: `cargo bench --bench temporal_ops` (set `BURN_SNN_BENCH_SHAPE=small` for a quick run
//! on `[10, 100, 16, 34, 34]`; `BURN_SNN_BENCH_DEVICE=wgpu` with `--features wgpu` for the GPU).
//!
//! - `copy/memcpy`: `Vec<f32>::clone` (one read, one write per element).
//! - `copy/tensor_mul_one`: `x * 1` on the backend (a tensor op with the same traffic).
//! - `psp/forward`, `spike/forward`: inference (no autodiff).
//! - `spike/forward_with_surrogate`: the training forward (also writes ρ(u)).
//! - `*/forward_backward`: on an autodiff device, `op(x).backward()` (Burn seeds the output
//!   gradient with ones) and reading the input gradient.

use burn::tensor::{Device, Distribution, Tensor};
use burn_snn::SrmConfig;
use burn_snn::functional::{psp, spike, spike_with_surrogate};
use divan::{Bencher, counter::ItemsCount};

pub fn main() {
    divan::main();
}

fn shape() -> [usize; 5] {
    match std::env::var("BURN_SNN_BENCH_SHAPE").as_deref() {
        Ok("small") => [10, 100, 16, 34, 34],
        _ => [10, 300, 32, 34, 34],
    }
}

fn elements() -> usize {
    shape().iter().product()
}

/// The CPU (Flex), or the GPU with `BURN_SNN_BENCH_DEVICE=wgpu` (feature `wgpu`).
fn device() -> Device {
    #[cfg(feature = "wgpu")]
    if std::env::var("BURN_SNN_BENCH_DEVICE").as_deref() == Ok("wgpu") {
        return Device::wgpu(burn::tensor::DeviceKind::DefaultDevice);
    }
    #[cfg(feature = "cuda")]
    if std::env::var("BURN_SNN_BENCH_DEVICE").as_deref() == Ok("cuda") {
        return Device::cuda(0);
    }
    burn_snn::device::cpu()
}

/// Spikes with 5% probability (PSP input).
fn spikes(device: &Device) -> Tensor<5> {
    Tensor::random(shape(), Distribution::Bernoulli(0.05), device)
}

/// Membrane input that makes neurons fire now and then (spike input).
fn drive(device: &Device) -> Tensor<5> {
    Tensor::random(shape(), Distribution::Normal(5.0, 5.0), device)
}

fn sync(device: &Device) {
    device.sync().expect("device sync");
}

mod copy {
    use super::*;

    #[divan::bench(sample_count = 5, sample_size = 1)]
    fn memcpy(bencher: Bencher) {
        let data = vec![1.0f32; elements()];
        bencher
            .counter(ItemsCount::new(elements()))
            .bench_local(|| divan::black_box(data.clone()));
    }

    #[divan::bench(sample_count = 5, sample_size = 1)]
    fn tensor_mul_one(bencher: Bencher) {
        let device = device();
        let x = drive(&device);
        bencher
            .counter(ItemsCount::new(elements()))
            .bench_local(|| {
                let y = x.clone().mul_scalar(1.0);
                sync(&device);
                y
            });
    }
}

mod psp_op {
    use super::*;

    #[divan::bench(name = "forward", sample_count = 5, sample_size = 1)]
    fn forward(bencher: Bencher) {
        let device = device();
        let x = spikes(&device);
        bencher
            .counter(ItemsCount::new(elements()))
            .bench_local(|| {
                let y = psp(x.clone(), 10.0);
                sync(&device);
                y
            });
    }

    #[divan::bench(name = "forward_backward", sample_count = 5, sample_size = 1)]
    fn forward_backward(bencher: Bencher) {
        let device = device().autodiff();
        let x = spikes(&device).require_grad();
        bencher
            .counter(ItemsCount::new(elements()))
            .bench_local(|| {
                let grads = psp(x.clone(), 10.0).backward();
                let grad = x.grad(&grads).expect("gradient");
                sync(&device);
                grad
            });
    }
}

mod spike_op {
    use super::*;

    #[divan::bench(name = "forward", sample_count = 5, sample_size = 1)]
    fn forward(bencher: Bencher) {
        let device = device();
        let v = drive(&device);
        let cfg = SrmConfig::new();
        bencher
            .counter(ItemsCount::new(elements()))
            .bench_local(|| {
                let s = spike(v.clone(), &cfg);
                sync(&device);
                s
            });
    }

    #[divan::bench(name = "forward_with_surrogate", sample_count = 5, sample_size = 1)]
    fn forward_with_surrogate(bencher: Bencher) {
        let device = device();
        let v = drive(&device);
        let cfg = SrmConfig::new();
        bencher
            .counter(ItemsCount::new(elements()))
            .bench_local(|| {
                let out = spike_with_surrogate(v.clone(), &cfg);
                sync(&device);
                out
            });
    }

    #[divan::bench(name = "forward_backward", sample_count = 5, sample_size = 1)]
    fn forward_backward(bencher: Bencher) {
        let device = device().autodiff();
        let v = drive(&device).require_grad();
        let cfg = SrmConfig::new();
        bencher
            .counter(ItemsCount::new(elements()))
            .bench_local(|| {
                let grads = spike(v.clone(), &cfg).backward();
                let grad = v.grad(&grads).expect("gradient");
                sync(&device);
                grad
            });
    }
}
