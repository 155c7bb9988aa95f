//! The CubeCL kernels on a GPU against the CPU (Flex) implementation: values and gradients,
//! and a whole network's forward and backward. Runs on wgpu with `--features wgpu` (on
//! machines without a GPU, Mesa's lavapipe Vulkan driver runs the kernels on the CPU) and on
//! CUDA with `--features cuda` (`BURN_SNN_GPU=cuda` when both features are on).
#![cfg(all(any(feature = "wgpu", feature = "cuda"), feature = "flex"))]

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use burn_snn::SrmConfig;
use burn_snn::functional::{
    psp, psp_carry, psp_spike_carry, spike, spike_carry, spike_with_surrogate,
};
use burn_snn::model::{
    SpikeCountLossConfig, SpikingNetwork, SpikingNetworkConfig, Streaming, Synapse,
};
use burn_snn::neuron::LayerSettings;
use burn_snn::norm::Normalization;
use burn_snn::optim::AdaBeliefConfig;

/// CUDA device 0 with `BURN_SNN_GPU=cuda` (or in a build without wgpu), else wgpu's default.
fn gpu() -> Device {
    #[cfg(feature = "cuda")]
    if cfg!(not(feature = "wgpu")) || std::env::var("BURN_SNN_GPU").as_deref() == Ok("cuda") {
        return Device::cuda(0);
    }
    #[cfg(feature = "wgpu")]
    return Device::wgpu(burn::tensor::DeviceKind::DefaultDevice);
    #[cfg(not(feature = "wgpu"))]
    unreachable!("a cuda build returns above")
}

fn cpu() -> Device {
    burn_snn::device::cpu()
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec()
        .expect("f32 data")
}

/// Max |a − b| / max(1, max |b|).
fn rel_err(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(1.0f32, |m, x| m.max(x.abs()));
    a.iter()
        .zip(b)
        .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()))
        / scale
}

/// `∂/∂x Σ w·f(x)` on `device`: the backward pass of `f` applied to `w`.
fn weighted_grad(
    f: impl Fn(Tensor<3>) -> Tensor<3>,
    x: &Tensor<3>,
    w: &Tensor<3>,
    device: &Device,
) -> Vec<f32> {
    let x = Tensor::<3>::from_data(x.to_data(), &device.clone().autodiff()).require_grad();
    let w = Tensor::<3>::from_data(w.to_data(), &device.clone().autodiff());
    let g = (f(x.clone()) * w).sum().backward();
    values(x.grad(&g).expect("gradient"))
}

/// The relative error of the GPU's `∂/∂x Σ w·f(x)` against the CPU's, for the same `x` and `w`
/// on both (`(cpu, gpu)` pairs from [`same_on_both`]).
fn grad_err(
    f: impl Fn(Tensor<3>) -> Tensor<3> + Copy,
    (x_cpu, x_gpu): (&Tensor<3>, &Tensor<3>),
    (w_cpu, w_gpu): (&Tensor<3>, &Tensor<3>),
) -> f32 {
    rel_err(
        &weighted_grad(f, x_gpu, w_gpu, &gpu()),
        &weighted_grad(f, x_cpu, w_cpu, &cpu()),
    )
}

/// Shapes with column counts below, at and above multiples of the 256-thread work group.
const SHAPES: [[usize; 3]; 4] = [[1, 7, 1], [3, 50, 255], [2, 33, 257], [5, 20, 1000]];

/// The CPU backend's random generator is global: draws that must be reproducible (seeded)
/// hold this lock so that the other tests' draws do not interleave with them.
fn cpu_draws<T>(draw: impl FnOnce() -> T) -> T {
    static DRAWS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = DRAWS.lock().unwrap_or_else(|e| e.into_inner());
    draw()
}

fn same_on_both<const D: usize>(shape: [usize; D], dist: Distribution) -> (Tensor<D>, Tensor<D>) {
    let x = cpu_draws(|| Tensor::<D>::random(shape, dist, &cpu()));
    let data = x.to_data();
    (x, Tensor::from_data(data, &gpu()))
}

#[test]
fn psp_forward_and_adjoint_match_the_cpu() {
    for shape in SHAPES {
        let (x_cpu, x_gpu) = same_on_both(shape, Distribution::Bernoulli(0.2));
        let err = rel_err(
            &values(psp(x_gpu.clone(), 10.0)),
            &values(psp(x_cpu.clone(), 10.0)),
        );
        assert!(err <= 1e-5, "{shape:?}: forward {err}");
        // Gradient of Σ w·psp(x): the adjoint filter of w.
        let (w_cpu, w_gpu) = same_on_both(shape, Distribution::Normal(0.0, 1.0));
        let filter = |x| psp(x, 4.0);
        let err = grad_err(filter, (&x_cpu, &x_gpu), (&w_cpu, &w_gpu));
        assert!(err <= 1e-5, "{shape:?}: adjoint {err}");
    }
}

#[test]
fn spikes_surrogate_and_gradient_match_the_cpu() {
    let cfg = SrmConfig::new();
    for shape in SHAPES {
        let (v_cpu, v_gpu) = same_on_both(shape, Distribution::Normal(8.0, 6.0));
        let (s_gpu, rho_gpu) = spike_with_surrogate(v_gpu.clone(), &cfg);
        let (s_cpu, rho_cpu) = spike_with_surrogate(v_cpu.clone(), &cfg);
        let (s_gpu, s_cpu) = (values(s_gpu), values(s_cpu));
        let mismatches = s_gpu.iter().zip(&s_cpu).filter(|(a, b)| a != b).count();
        // A spike can only differ where u is within float rounding of θ, and then the rest of
        // that neuron's train may differ too; on random data this does not happen.
        assert_eq!(mismatches, 0, "{shape:?}");
        let err = rel_err(&values(rho_gpu), &values(rho_cpu));
        assert!(err <= 1e-5, "{shape:?}: surrogate {err}");
        assert_eq!(
            values(spike(v_gpu.clone(), &cfg)),
            s_cpu,
            "{shape:?}: inference path"
        );
        let grad = |v: Tensor<3>, device: &Device| {
            let v = Tensor::<3>::from_data(v.to_data(), &device.clone().autodiff()).require_grad();
            let g = psp(spike(v.clone(), &cfg), 10.0).sum().backward();
            values(v.grad(&g).expect("gradient"))
        };
        let err = rel_err(&grad(v_gpu, &gpu()), &grad(v_cpu, &cpu()));
        assert!(err <= 1e-5, "{shape:?}: gradient {err}");
    }
}

/// More columns (batch × neurons) than a one-dimensional grid of 256-thread groups reaches
/// (65,535 × 256 = 16,776,960): every kernel (PSP forward and adjoint, spikes with and without
/// surrogate, and the spike gradient) against the CPU. Two shapes: 17 M columns at T = 1, and
/// 2²⁴ columns over batch 4 at T = 2, which is 128 MiB of f32: the largest buffer lavapipe
/// took here (128 MiB works, 136 MB fails at execution, whatever the grid; real GPUs bind GiBs).
#[test]
fn layers_past_the_one_dimensional_grid_limit_match_the_cpu() {
    for shape in [[1, 1, 17_000_000], [4, 2, 1 << 22]] {
        assert!(shape[0] * shape[2] > 65_535 * 256);
        large_grid_parity(shape);
    }
}

fn large_grid_parity(shape: [usize; 3]) {
    let cfg = SrmConfig::new().with_tau_s(1.0).with_tau_r(1.0);
    // PSP forward; with τs = 1 the second step is e^0·x[0] = x[0], so it is never zero where
    // x[0] fired: a column the grid misses shows up.
    let (x_cpu, x_gpu) = same_on_both(shape, Distribution::Bernoulli(0.5));
    let fwd_gpu = values(psp(x_gpu.clone(), 1.0));
    let fwd_cpu = values(psp(x_cpu.clone(), 1.0));
    if shape[1] > 1 {
        let nonzero = fwd_cpu.iter().filter(|&&v| v != 0.0).count();
        assert!(nonzero > fwd_cpu.len() / 8, "{shape:?}: {nonzero} non-zero");
    }
    let err = rel_err(&fwd_gpu, &fwd_cpu);
    assert!(err <= 1e-6, "{shape:?}: psp forward {err}");
    // The adjoint, as the gradient of Σ psp(x)·w.
    let (w_cpu, w_gpu) = same_on_both(shape, Distribution::Normal(0.0, 1.0));
    let filter = |x| psp(x, 1.0);
    let err = grad_err(filter, (&x_cpu, &x_gpu), (&w_cpu, &w_gpu));
    assert!(err <= 1e-6, "{shape:?}: psp adjoint {err}");
    // Spikes (both kernel variants), surrogate, and the gradient through the surrogate.
    let (v_cpu, v_gpu) = same_on_both(shape, Distribution::Normal(cfg.theta, 6.0));
    let s_cpu = values(spike(v_cpu.clone(), &cfg));
    assert!(s_cpu.contains(&1.0) && s_cpu.contains(&0.0));
    assert_eq!(
        values(spike(v_gpu.clone(), &cfg)),
        s_cpu,
        "{shape:?}: spikes"
    );
    let (s_gpu, rho_gpu) = spike_with_surrogate(v_gpu.clone(), &cfg);
    let (_, rho_cpu) = spike_with_surrogate(v_cpu.clone(), &cfg);
    assert_eq!(
        values(s_gpu),
        s_cpu,
        "{shape:?}: spikes of the surrogate kernel"
    );
    let err = rel_err(&values(rho_gpu), &values(rho_cpu));
    assert!(err <= 1e-6, "{shape:?}: surrogate {err}");
    let fire = |v| spike(v, &cfg);
    let err = grad_err(fire, (&v_cpu, &v_gpu), (&w_cpu, &w_gpu));
    assert!(err <= 1e-6, "{shape:?}: spike gradient {err}");
}

/// A whole network, forward and backward. A spike can flip where a membrane potential lies
/// within float rounding of θ, which would change every gradient after it; the network and the
/// input are seeded, on them every output spike agrees, and the gradients are always compared
/// (if a platform's rounding ever flips a spike, the test says so rather than skipping).
#[test]
fn a_whole_network_gives_the_same_outputs_and_gradients() {
    let spec = "10x10x2-n8c3-p2-n16c3-n5";
    // Weight scale 30 (3× the paper's) so that the untrained output fires (20 spikes with this
    // seed); at 10 it is silent and the spike comparison would be vacuous.
    let (net_cpu, x_cpu) = cpu_draws(|| {
        cpu().seed(3);
        let net = SpikingNetworkConfig::new(spec.parse().unwrap())
            .with_settings(
                LayerSettings::new()
                    .with_norm(Normalization::PspLayer)
                    .with_weight_scale(30.0),
            )
            .init(&cpu().autodiff());
        let x = Tensor::<5>::random([4, 30, 2, 10, 10], Distribution::Bernoulli(0.3), &cpu());
        (net, x)
    });
    let net_gpu = net_cpu.clone().fork(&gpu().autodiff());
    let labels: Vec<i64> = vec![0, 1, 2, 3];
    let run = |net: &SpikingNetwork, device: &Device| {
        let x = Tensor::<5>::from_data(x_cpu.to_data(), device);
        let y = Tensor::<1, Int>::from_data(TensorData::new(labels.clone(), [4]), device);
        let out = net.forward(x);
        let loss = SpikeCountLossConfig::new(10.0, 1.0)
            .init()
            .forward(out.clone(), y);
        let grads = loss.backward();
        let first = match &net.layers[0].synapse {
            Synapse::Conv(c) => c.conv.weight.grad(&grads).expect("gradient"),
            Synapse::Dense(_) => unreachable!(),
        };
        (values(out), values(first))
    };
    let (out_gpu, grad_gpu) = run(&net_gpu, &gpu().autodiff());
    let (out_cpu, grad_cpu) = run(&net_cpu, &cpu().autodiff());
    let fired = out_cpu.iter().filter(|&&s| s == 1.0).count();
    assert!(
        fired > 0,
        "the output is silent: the comparison would be vacuous"
    );
    let mismatches = out_gpu.iter().zip(&out_cpu).filter(|(a, b)| a != b).count();
    assert_eq!(
        mismatches,
        0,
        "{mismatches} of {} output spikes differ (a threshold tie?)",
        out_cpu.len()
    );
    let err = rel_err(&grad_gpu, &grad_cpu);
    assert!(err <= 1e-4, "first-layer gradient {err}");
    assert!(grad_cpu.iter().any(|&g| g != 0.0), "zero gradient");
}

#[test]
fn a_network_trains_on_wgpu() {
    let device = gpu().autodiff();
    device.seed(7);
    let mut net = SpikingNetworkConfig::new("6x6x1-n4c3-n2".parse().unwrap()).init(&device);
    // Unrectified: 60 steps lie inside the rectification's warm-up.
    let mut optim = AdaBeliefConfig::new().with_rectify(false).init();
    // Class 0: left half fires; class 1: right half.
    let make = |n: usize| {
        let mut spikes = vec![0.0f32; n * 20 * 36];
        let mut labels = Vec::new();
        for i in 0..n {
            labels.push((i % 2) as i64);
            for t in 0..20 {
                for p in 0..36 {
                    let left = (p % 6) < 3;
                    if left == (i % 2 == 0) && (t + p + i) % 3 == 0 {
                        spikes[(i * 20 + t) * 36 + p] = 1.0;
                    }
                }
            }
        }
        (
            Tensor::<5>::from_data(TensorData::new(spikes, [n, 20, 1, 6, 6]), &device),
            Tensor::<1, Int>::from_data(TensorData::new(labels, [n]), &device),
        )
    };
    let (x, y) = make(8);
    let loss_fn = SpikeCountLossConfig::new(8.0, 1.0).init();
    let first = loss_fn
        .forward(net.forward(x.clone()), y.clone())
        .into_scalar::<f32>();
    for _ in 0..60 {
        let loss = loss_fn.forward(net.forward(x.clone()), y.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        net = optim.step(1e-2, net, grads);
    }
    let last = loss_fn.forward(net.forward(x), y).into_scalar::<f32>();
    assert!(last < first * 0.5, "loss {first} -> {last}");
}

/// The carried (streaming) kernels, chunk by chunk from rest: outputs and states as the CPU's.
#[test]
fn carried_ops_match_the_cpu() {
    let cfg = SrmConfig::new();
    for shape in SHAPES {
        let [b, t, n] = shape;
        let (x_cpu, x_gpu) = same_on_both(shape, Distribution::Uniform(0.0, 3.0));
        let split = t / 2 + 1;
        // (name, traces, op): every op runs on both devices from a zero state, in two chunks.
        type Op = fn(Tensor<3>, Tensor<3>, &SrmConfig) -> (Tensor<3>, Tensor<3>);
        let ops: [(&str, usize, Op); 3] = [
            ("psp", 2, |x, s, _| psp_carry(x, s, 5.0)),
            ("spike", 1, |v, s, cfg| {
                spike_carry(v.mul_scalar(6.0), s, cfg)
            }),
            ("psp+spike", 3, |x, s, cfg| psp_spike_carry(x, s, 5.0, cfg)),
        ];
        for (name, traces, op) in ops {
            let run = |x: &Tensor<3>| {
                let state = Tensor::<3>::zeros([b, traces, n], &x.device());
                let (first, state) = op(x.clone().slice([0..b, 0..split.min(t)]), state, &cfg);
                let (outs, state) = if split < t {
                    let (second, state) = op(x.clone().slice([0..b, split..t]), state, &cfg);
                    (Tensor::cat(vec![first, second], 1), state)
                } else {
                    (first, state)
                };
                (values(outs), values(state))
            };
            let (y_gpu, s_gpu) = run(&x_gpu);
            let (y_cpu, s_cpu) = run(&x_cpu);
            // (The shortest shape, 7 steps of one neuron, may stay below threshold.)
            if name != "psp" && t >= 20 {
                assert!(
                    y_cpu.contains(&1.0) && y_cpu.contains(&0.0),
                    "{shape:?} {name}: spikes and silences, or the comparison is vacuous"
                );
            }
            let err = rel_err(&y_gpu, &y_cpu);
            assert!(err <= 1e-6, "{shape:?} {name}: output {err}");
            let err = rel_err(&s_gpu, &s_cpu);
            assert!(err <= 1e-5, "{shape:?} {name}: state {err}");
        }
    }
}

/// A network streamed step by step on the GPU (the dense synapse path) gives the CPU's
/// whole-sequence output.
#[test]
fn a_network_streams_on_the_gpu_as_on_the_cpu() {
    let spec = "10x10x2-n8c3-p2-n16c3-n5";
    for norm in [Normalization::None, Normalization::PspBatch] {
        let (net_cpu, x_cpu) = cpu_draws(|| {
            cpu().seed(4);
            let spec = burn_snn::model::NetworkSpec::parse(spec)
                .unwrap()
                .with_norm_markers(norm);
            let net = SpikingNetworkConfig::new(spec)
                .with_settings(LayerSettings::new().with_norm(norm).with_weight_scale(30.0))
                .init(&cpu());
            let x = Tensor::<5>::random([2, 30, 2, 10, 10], Distribution::Bernoulli(0.3), &cpu());
            (net, x)
        });
        let whole = values(net_cpu.forward(x_cpu.clone()));
        assert!(
            whole.contains(&1.0),
            "{norm}: a silent output tests nothing"
        );
        let net_gpu = net_cpu.clone().fork(&gpu());
        let x_gpu = Tensor::<5>::from_data(x_cpu.to_data(), &gpu());
        let mut state = net_gpu.stream(2, &gpu());
        let steps: Vec<Tensor<3>> = (0..30)
            .map(|t| {
                let frame = x_gpu
                    .clone()
                    .slice([0..2, t..t + 1])
                    .reshape([2, 2, 10, 10]);
                net_gpu.step(&mut state, frame).unwrap().unsqueeze_dim(1)
            })
            .collect();
        let streamed = values(Tensor::cat(steps, 1));
        let mismatches = streamed.iter().zip(&whole).filter(|(a, b)| a != b).count();
        assert_eq!(mismatches, 0, "{norm}: {mismatches} output spikes differ");
    }
}
