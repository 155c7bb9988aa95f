//! Event-driven vs dense convolution by input density: one Table 2 layer (32 → 32 channels,
//! 3×3, 34×34, batch 10, T = 30) forward, and forward + backward (input and weight gradients,
//! as in training), on the CPU, with the event loops forced at every density
//! (`EventConvOptions::with_dense_above(1.0)`). The crossover is what
//! `burn_snn::kernels::DENSE_ABOVE_DENSITY` is set from.
//!
//! Run: `cargo bench --bench event_conv`

use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Distribution, Tensor};
use burn_snn::functional::conv2d_events;
use burn_snn::kernels::EventConvOptions;
use std::time::Instant;

fn time(mut f: impl FnMut()) -> f64 {
    f();
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let start = Instant::now();
        f();
        best = best.min(start.elapsed().as_secs_f64());
    }
    best
}

fn main() {
    burn_snn::memory::keep_freed_memory();
    burn_snn::device::flush_denormals();
    // The event loops at every density.
    let forced = EventConvOptions::new(1, 1).with_dense_above(1.0);
    let (b, t, c, side) = (10, 30, 32, 34);
    let cpu = burn_snn::device::cpu();
    println!(
        "event_conv: {c} → {c} channels, 3×3, {side}×{side}, batch {b}, T = {t}; best of 3, seconds"
    );
    println!("density  dense-fwd  events-fwd  ratio  dense-train  events-train  ratio");
    for density in [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5] {
        let x = Tensor::<5>::random(
            [b, t, c, side, side],
            Distribution::Bernoulli(density),
            &cpu,
        );
        let w = Tensor::<4>::random([c, c, 3, 3], Distribution::Normal(0.0, 0.1), &cpu);
        let ones = Tensor::<1>::ones([b], &cpu);
        let options = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
        let dense_fwd = time(|| {
            let y = conv2d(
                x.clone().reshape([b * t, c, side, side]),
                w.clone(),
                None,
                options.clone(),
            );
            let _ = y.into_data();
        });
        let events_fwd = time(|| {
            let y = conv2d_events(x.clone(), w.clone(), ones.clone(), forced, true);
            let _ = y.into_data();
        });
        let ad = cpu.clone().autodiff();
        let xa = Tensor::<5>::from_data(x.to_data(), &ad).require_grad();
        let wa = Tensor::<4>::from_data(w.to_data(), &ad).require_grad();
        let dense_train = time(|| {
            let y = conv2d(
                xa.clone().reshape([b * t, c, side, side]),
                wa.clone(),
                None,
                options.clone(),
            );
            let g = y.sum().backward();
            let _ = (
                xa.grad(&g).unwrap().into_data(),
                wa.grad(&g).unwrap().into_data(),
            );
        });
        let onesa = Tensor::<1>::ones([b], &ad);
        let events_train = time(|| {
            let y = conv2d_events(xa.clone(), wa.clone(), onesa.clone(), forced, true);
            let g = y.sum().backward();
            let _ = (
                xa.grad(&g).unwrap().into_data(),
                wa.grad(&g).unwrap().into_data(),
            );
        });
        println!(
            "{:>6.1}%  {dense_fwd:>9.3}  {events_fwd:>10.3}  {:>5.2}  {dense_train:>11.3}  {events_train:>12.3}  {:>5.2}",
            100.0 * density,
            events_fwd / dense_fwd,
            events_train / dense_train
        );
    }
}
