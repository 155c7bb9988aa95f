//! One layer of SRM neurons driven by random input spikes: the PSP, PSP normalization, a dense
//! synapse, spikes with the refractory response, and a surrogate-gradient backward pass.
//!
//! Run: `cargo run --release --example srm_neuron`

use burn::tensor::{Distribution, Tensor};
use burn_snn::SrmConfig;
use burn_snn::functional::{PspNormKind, psp, psp_norm, spike};

fn main() {
    let device = burn_snn::device::cpu().autodiff();
    let cfg = SrmConfig::new();
    let (batch, time, inputs, outputs) = (4, 300, 200, 50);

    // Input spike trains with a firing probability of 5% per step: [batch, time, inputs].
    let input = Tensor::<3>::random(
        [batch, time, inputs],
        Distribution::Bernoulli(0.05),
        &device,
    );
    let weight = Tensor::<2>::random([inputs, outputs], Distribution::Normal(0.0, 1.0), &device)
        .require_grad();

    let start = std::time::Instant::now();
    let a = psp(input, cfg.tau_s);
    let a = psp_norm(a, PspNormKind::Layer, 0.1);
    // Dense synapse on every time step at once: [batch·time, inputs] × [inputs, outputs].
    let v = a
        .reshape([batch * time, inputs])
        .matmul(weight.clone().mul_scalar(10.0));
    let s = spike(v.reshape([batch, time, outputs]), &cfg);
    let rate = s.clone().mean().into_scalar::<f32>();
    let loss = psp(s, cfg.tau_s).sum();
    let grads = loss.backward();
    let grad = weight.grad(&grads).expect("the weight is tracked");
    let elapsed = start.elapsed();

    println!("input  [batch, time, inputs]  = [{batch}, {time}, {inputs}]");
    println!("output firing rate            = {rate:.4} spikes/step");
    println!(
        "|∂loss/∂W| (surrogate)        = {:.4}",
        grad.powi_scalar(2).sum().sqrt().into_scalar::<f32>()
    );
    println!("forward + backward            = {elapsed:.2?}");
}
