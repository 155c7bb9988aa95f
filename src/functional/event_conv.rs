use super::{PspNormKind, check_srm, check_tau_s};
use crate::SrmConfig;
use crate::kernels::{EventBackend, EventConvOptions, SpikeParams, WeightLayout};
use burn::backend::{Dispatch, DispatchDevice};
use burn::tensor::{Device, Tensor};

/// Whether `device` has the event-driven synapse kernels: the CPU backends (Flex, NdArray),
/// with or without autodiff. On other devices synapses run their dense convolution.
pub(crate) fn has_event_kernels(device: &Device) -> bool {
    match device.clone().inner().as_dispatch() {
        #[cfg(feature = "flex")]
        DispatchDevice::Flex(_) => true,
        #[cfg(feature = "ndarray")]
        DispatchDevice::NdArray(_) => true,
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

/// Event-driven convolution of every time step, scaled per sample:
/// `y[b, t] = scale[b] · (W ⊛ x[b, t])`, with zero padding `padding` on every side.
///
/// The cost follows the nonzero inputs: on spike tensors (a few percent nonzero) it is a
/// fraction of the dense convolution's, and the weight gradient is event-driven too; the input
/// gradient is the dense transposed convolution. Above
/// [`options.dense_above`](EventConvOptions::dense_above) nonzeros the backend's dense
/// convolution runs instead (same result up to rounding), and the backward pass follows the
/// path of the forward pass. This is what lets a synapse convolve a layer's
/// spikes instead of their PSP (`conv(ε ∗ s) = ε ∗ conv(s)`, see
/// [`Presynaptic`](crate::synapse::Presynaptic)).
///
/// `binary` promises that `x` holds only 0 and 1 (spikes): autodiff then keeps it as one bit
/// per element for the backward pass (with other values the gradients would be wrong).
///
/// Differentiable with respect to all three inputs.
///
/// # Shapes
///
/// - `x`: `[batch, time, channels_in, height, width]`
/// - `weight`: `[channels_out, channels_in, k, k]`
/// - `scale`: `[batch]`
/// - output: `[batch, time, channels_out, height', width']`,
///   `height' = (height + 2·padding − k) / stride + 1`
///
/// # Example
///
/// ```
/// use burn::tensor::{Distribution, Tensor};
/// use burn_snn::functional::conv2d_events;
/// use burn_snn::kernels::EventConvOptions;
///
/// let device = burn_snn::device::cpu();
/// let spikes = Tensor::<5>::random([2, 10, 4, 8, 8], Distribution::Bernoulli(0.05), &device);
/// let weight = Tensor::<4>::random([6, 4, 3, 3], Distribution::Normal(0.0, 1.0), &device);
/// let scale = Tensor::<1>::ones([2], &device);
/// // Same padding; the event loops up to 25% nonzeros (the default), dense above.
/// let y = conv2d_events(spikes, weight, scale, EventConvOptions::new(1, 1), true);
/// assert_eq!(y.dims(), [2, 10, 6, 8, 8]);
/// ```
///
/// # Panics
///
/// If `device` has no event kernels (the CPU backends have them), the shapes disagree, the kernel
/// is not square, the stride is 0 or the padded map is smaller than the kernel.
#[track_caller]
pub fn conv2d_events(
    x: Tensor<5>,
    weight: Tensor<4>,
    scale: Tensor<1>,
    options: EventConvOptions,
    binary: bool,
) -> Tensor<5> {
    check_conv("conv2d_events", &x, &weight, &scale, options);
    Tensor::from_dispatch(<Dispatch as EventBackend>::event_conv2d(
        x.into_dispatch(),
        weight.into_dispatch(),
        scale.into_dispatch(),
        options,
        binary,
    ))
}

/// The spikes of an event-driven synapse's potential: `spike(psp(conv2d_events(x, …)))` as one
/// op (eq. 4 with `v = ε ∗ (W ⊛ x)·scale`, the order [`Presynaptic`](crate::synapse::Presynaptic)
/// explains), the same spikes and gradients as the three functions in turn.
///
/// For training: autodiff keeps what [`conv2d_events`] keeps (the input as bits when `binary`)
/// and recomputes the convolution in the backward pass, instead of keeping the surrogate
/// derivative of every neuron and step from the forward pass to the backward pass (at T = 300
/// on Table 2's N-MNIST network, 3.7 GB of a 4.8 GiB step). Above
/// [`options.dense_above`](EventConvOptions::dense_above) nonzeros the dense convolution runs
/// and the surrogate is kept, as with the three functions.
///
/// # Shapes
///
/// As [`conv2d_events`].
///
/// # Panics
///
/// As [`conv2d_events`], and if a neuron parameter of `cfg` or `tau_s` is invalid.
#[track_caller]
pub fn conv2d_events_spike(
    x: Tensor<5>,
    weight: Tensor<4>,
    scale: Tensor<1>,
    options: EventConvOptions,
    binary: bool,
    tau_s: f64,
    cfg: &SrmConfig,
) -> Tensor<5> {
    check_conv("conv2d_events_spike", &x, &weight, &scale, options);
    check_tau_s("conv2d_events_spike", tau_s);
    check_srm("conv2d_events_spike", cfg);
    Tensor::from_dispatch(<Dispatch as EventBackend>::event_conv2d_spike(
        x.into_dispatch(),
        weight.into_dispatch(),
        scale.into_dispatch(),
        options,
        binary,
        tau_s,
        SpikeParams::from(cfg),
    ))
}

/// Panics unless the event-driven convolution `op` can run on these inputs (see
/// [`conv2d_events`]).
#[track_caller]
fn check_conv(
    op: &str,
    x: &Tensor<5>,
    weight: &Tensor<4>,
    scale: &Tensor<1>,
    options: EventConvOptions,
) {
    let EventConvOptions {
        stride, padding, ..
    } = options;
    let dims = x.dims();
    let stored = weight.dims();
    let (out_dim, in_dim) = options.weight.channel_dims();
    let [co, ci, k, k2] = [stored[out_dim], stored[in_dim], stored[2], stored[3]];
    if options.weight == WeightLayout::InOut {
        assert!(
            k == 1 && k2 == 1,
            "{op}: WeightLayout::InOut is for 1×1 kernels, got weight {stored:?}"
        );
        assert!(
            !x.device().is_autodiff(),
            "{op}: WeightLayout::InOut is inference only, got an autodiff device"
        );
    }
    assert!(
        has_event_kernels(&x.device()),
        "{op}: the event kernels run on the CPU backends (Flex, NdArray), got {:?}",
        x.device()
    );
    assert!(
        dims[2] == ci && k == k2 && co > 0 && k > 0,
        "{op}: expected x [batch, time, {ci}, height, width] and a square kernel, got x {dims:?} and weight {:?}",
        [co, ci, k, k2]
    );
    assert!(
        scale.dims() == [dims[0]],
        "{op}: expected scale of shape [{}], got {:?}",
        dims[0],
        scale.dims()
    );
    assert!(
        stride > 0 && dims[3] + 2 * padding >= k && dims[4] + 2 * padding >= k,
        "{op}: stride must be > 0 and the padded map at least the kernel, got stride {stride}, padding {padding}, kernel {k}, map {:?}",
        &dims[3..]
    );
}

/// The second moment `E_X[a²]` of the pooled PSP `a = Pool(ε ∗ s)` of spikes `s`, per sample
/// (`PspNormKind::Layer`, PSP-LN) or per channel (`Batch`, PSP-BN): the statistic of
/// [`psp_second_moment`](crate::functional::psp_second_moment) computed from the spikes, so that
/// autodiff keeps only the spikes (one bit per element when `binary`) and recomputes `a` in the
/// backward pass, instead of keeping `a` as floats. Needs a device with event kernels.
///
/// # Shapes
///
/// - `s`: `[batch, time, channels, ...]` (rank 5 when `pool > 1`)
/// - output: `[batch]` (`Layer`) or `[channels]` (`Batch`)
///
/// # Panics
///
/// If the device has no event kernels, the rank is below 3, or `pool > 1` on a rank other than 5.
#[track_caller]
pub(crate) fn psp_moment<const D: usize>(
    s: Tensor<D>,
    tau_s: f64,
    pool: usize,
    kind: PspNormKind,
    binary: bool,
) -> Tensor<1> {
    let dims = s.dims();
    assert!(
        has_event_kernels(&s.device()),
        "psp_moment: the event kernels run on the CPU backends (Flex, NdArray), got {:?}",
        s.device()
    );
    assert!(
        D >= 3 && (pool == 1 || D == 5) && pool > 0,
        "psp_moment: expected [batch, time, channels, ...] (rank 5 when pooling), got shape {dims:?} with pool {pool}"
    );
    Tensor::from_dispatch(<Dispatch as EventBackend>::psp_moment(
        s.into_dispatch(),
        tau_s,
        pool,
        kind == PspNormKind::Layer,
        binary,
    ))
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;
    use crate::kernels::event_host::tests::{moments, packs, paths};
    use crate::test_util::{random_spikes, random_values, tensor_f32};
    use burn::tensor::Distribution;

    /// Runs a forward and backward pass of one event-driven convolution of spikes of `density`
    /// and returns how many of its two convolutions (forward, weight gradient) ran the event
    /// loops and how many the dense convolution.
    fn paths_taken(density: f64, dense_above: f64) -> (usize, usize) {
        let device = crate::device::cpu().autodiff();
        let x = Tensor::<5>::random([2, 6, 3, 9, 9], Distribution::Bernoulli(density), &device)
            .require_grad();
        let weight = Tensor::<4>::random([4, 3, 3, 3], Distribution::Normal(0.0, 1.0), &device)
            .require_grad();
        let scale = Tensor::<1>::ones([2], &device);
        let options = EventConvOptions::new(1, 1).with_dense_above(dense_above);
        let before = paths();
        let y = conv2d_events(x, weight.clone(), scale, options, true);
        let grads = y.sum().backward();
        assert!(weight.grad(&grads).is_some());
        let after = paths();
        (after.0 - before.0, after.1 - before.1)
    }

    #[test]
    fn sparse_inputs_run_the_event_loops_and_dense_inputs_the_dense_convolution() {
        let default = crate::kernels::DENSE_ABOVE_DENSITY;
        // Forward and weight gradient each run the event loops: a sparse input never takes the
        // dense path silently.
        assert_eq!(paths_taken(0.02, default), (2, 0));
        assert_eq!(paths_taken(0.5, default), (0, 2));
        // The setting forces either path, and the backward pass follows the forward pass.
        assert_eq!(paths_taken(0.5, 1.0), (2, 0));
        assert_eq!(paths_taken(0.02, -1.0), (0, 2));
    }

    /// `conv2d_events_spike` against the three ops it fuses (`conv2d_events`, `psp`, `spike`):
    /// the same spikes and the same gradients for the input, the weight and the scale, with the
    /// event loops (the backward pass recomputes the convolution: a third event-loop run, none
    /// with `BackwardMemory::Keep`) and with the dense fallback (which keeps the surrogate).
    #[test]
    fn the_fused_spike_op_matches_the_three_ops_and_recomputes_only_on_events() {
        use crate::functional::{psp, spike};
        use crate::test_util::assert_close;
        let device = crate::device::cpu().autodiff();
        let cfg = SrmConfig::new()
            .with_theta(1.0)
            .with_tau_s(3.0)
            .with_tau_r(2.0);
        use crate::kernels::BackwardMemory::{Keep, Recompute};
        // (density, dense_above, backward memory, event-loop runs, dense runs) of the fused
        // op's forward, recompute and weight gradient.
        for (i, (density, dense_above, memory, runs)) in [
            (0.001, 1.0, Recompute, (3, 0)),
            (0.05, 1.0, Recompute, (3, 0)),
            (0.05, crate::kernels::DENSE_ABOVE_DENSITY, Recompute, (3, 0)),
            (0.05, 1.0, Keep, (2, 0)),
            (0.5, 1.0, Recompute, (3, 0)),
            (0.5, crate::kernels::DENSE_ABOVE_DENSITY, Recompute, (0, 2)),
        ]
        .into_iter()
        .enumerate()
        {
            // Input and weight seeded: at density 0.001 (about 5 events) some unseeded draws
            // left the layer without an output spike.
            let x = tensor_f32(&random_spikes(4704, density, 11), [2, 16, 3, 7, 7], &device);
            let weight = tensor_f32(&random_values(108, 12), [4, 3, 3, 3], &device).mul_scalar(2.0);
            let scale = Tensor::<1>::random([2], Distribution::Uniform(0.5, 2.0), &device);
            let r = Tensor::<5>::random([2, 16, 4, 7, 7], Distribution::Normal(0.0, 1.0), &device);
            let options = EventConvOptions::new(1, 1)
                .with_dense_above(dense_above)
                .with_memory(memory);
            let grads_of = |fused: bool| {
                let (x, weight, scale) = (
                    x.clone().require_grad(),
                    weight.clone().require_grad(),
                    scale.clone().require_grad(),
                );
                let before = paths();
                let s = if fused {
                    conv2d_events_spike(
                        x.clone(),
                        weight.clone(),
                        scale.clone(),
                        options,
                        true,
                        cfg.tau_s,
                        &cfg,
                    )
                } else {
                    let y = conv2d_events(x.clone(), weight.clone(), scale.clone(), options, true);
                    spike(psp(y, cfg.tau_s), &cfg)
                };
                let grads = (s.clone() * r.clone()).sum().backward();
                let after = paths();
                let values = crate::test_util::to_f64::<5>;
                let all = [
                    values(s),
                    values(x.grad(&grads).unwrap().unsqueeze()),
                    values(weight.grad(&grads).unwrap().unsqueeze()),
                    values(scale.grad(&grads).unwrap().unsqueeze()),
                ];
                (all, (after.0 - before.0, after.1 - before.1))
            };
            let (want, _) = grads_of(false);
            let (got, taken) = grads_of(true);
            let what =
                format!("case {i}: density {density}, dense above {dense_above}, {memory:?}");
            assert!(
                want[0].contains(&1.0) && want[1].iter().any(|&g| g != 0.0),
                "{what}: no spikes or no gradient"
            );
            for (k, name) in ["spikes", "∂/∂x", "∂/∂W", "∂/∂scale"].iter().enumerate() {
                assert_close(&got[k], &want[k], 1e-6, &format!("{what}: {name}"));
            }
            assert_eq!(taken, runs, "{what}: (event-loop runs, dense runs)");
        }
    }

    /// A layer's statistic and its synapse take the same spikes: they are packed to bits once,
    /// the statistic is computed from them, and both backward passes read that copy.
    #[test]
    fn the_statistic_and_the_convolution_share_one_packed_copy() {
        let device = crate::device::cpu().autodiff();
        let s = Tensor::<5>::random([2, 8, 3, 9, 9], Distribution::Bernoulli(0.05), &device)
            .require_grad();
        let weight = Tensor::<4>::random([4, 3, 3, 3], Distribution::Normal(0.0, 1.0), &device)
            .require_grad();
        let before = packs();
        let read = moments();
        let m = psp_moment(s.clone(), 5.0, 1, PspNormKind::Layer, true);
        // The tracked statistic reads the packed bits, and gives what the float spikes give.
        assert_eq!(
            moments(),
            (read.0 + 1, read.1),
            "the statistic read the bits"
        );
        let untracked = s.clone().detach().set_require_grad(false);
        let from_floats = psp_moment(untracked, 5.0, 1, PspNormKind::Layer, true);
        assert_eq!(moments(), (read.0 + 1, read.1 + 1), "untracked: the floats");
        let from_floats = from_floats.into_data().try_to_vec::<f32>().unwrap();
        assert!(from_floats.iter().all(|&v| v > 0.0), "silent test spikes");
        let from_bits = m.clone().detach().into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(from_bits, from_floats);
        let scale = m.clone().add_scalar(0.1).sqrt().recip();
        let y = conv2d_events(s.clone(), weight, scale, EventConvOptions::new(1, 1), true);
        assert_eq!(packs() - before, 1, "one packed copy for both ops");
        let grads = (y.sum() + m.sum()).backward();
        assert!(s.grad(&grads).is_some());
        // Another tensor is packed again.
        let other = s.clone().detach().require_grad();
        let _ = psp_moment(other, 5.0, 1, PspNormKind::Layer, true);
        assert_eq!(packs() - before, 2);
    }
}
