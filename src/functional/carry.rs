use crate::SrmConfig;
use crate::kernels::{SnnBackend, SpikeParams};
use burn::backend::Dispatch;
use burn::tensor::Tensor;

/// [`psp`](super::psp) of the next chunk of a stream: the PSP filter run from the state the
/// previous chunk left (`state`: the filter's two traces per neuron, zeros at the start of a
/// stream). Returns the chunk's PSP and the state after its last step.
///
/// Chunk after chunk, the outputs equal those of [`psp`](super::psp) on the whole sequence,
/// value for value: the same recursion runs in the same order. Inference only (no gradient).
///
/// # Shapes
///
/// - `x`: `[batch, k, ...]`, the chunk's `k ≥ 1` steps
/// - `state`: `[batch, 2, ...]`, the neuron dims of `x`
/// - output: `(psp, state)`, shaped like `x` and `state`
///
/// # Example
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use burn_snn::functional::{psp, psp_carry};
///
/// let device = Device::default();
/// let s = Tensor::<3>::from_floats([[[1.0], [0.0], [1.0], [0.0], [0.0], [1.0]]], &device);
/// let whole = psp(s.clone(), 2.0);
/// // Two chunks of three steps from rest.
/// let state = Tensor::<3>::zeros([1, 2, 1], &device);
/// let (first, state) = psp_carry(s.clone().slice([0..1, 0..3]), state, 2.0);
/// let (second, _) = psp_carry(s.slice([0..1, 3..6]), state, 2.0);
/// let chunked = Tensor::cat(vec![first, second], 1);
/// assert_eq!(chunked.into_data(), whole.into_data());
/// ```
///
/// # Panics
///
/// If `x` has no time steps, `state`'s shape does not match it, or `tau_s` is not finite and
/// positive.
#[track_caller]
pub fn psp_carry<const D: usize>(
    x: Tensor<D>,
    state: Tensor<D>,
    tau_s: f64,
) -> (Tensor<D>, Tensor<D>) {
    check_state("psp_carry", &x.dims(), &state.dims(), 2);
    super::check_tau_s("psp_carry", tau_s);
    let (y, state) =
        <Dispatch as SnnBackend>::psp_filter_carry(x.into_dispatch(), state.into_dispatch(), tau_s);
    (Tensor::from_dispatch(y), Tensor::from_dispatch(state))
}

/// [`spike`](super::spike) of the next chunk of a stream: spike generation from the refractory
/// response the previous chunk left (`state`, zeros at the start of a stream). Returns the
/// chunk's spikes and the refractory response after its last step.
///
/// Chunk after chunk, the spikes equal those of [`spike`](super::spike) on the whole sequence.
/// Inference only (no gradient).
///
/// # Shapes
///
/// - `v`: `[batch, k, ...]`, the chunk's `k ≥ 1` steps
/// - `state`: `[batch, 1, ...]`, the neuron dims of `v`
/// - output: `(spikes, state)`, shaped like `v` and `state`
///
/// # Panics
///
/// If `v` has no time steps, `state`'s shape does not match it, or a parameter of `cfg` is
/// invalid.
#[track_caller]
pub fn spike_carry<const D: usize>(
    v: Tensor<D>,
    state: Tensor<D>,
    cfg: &SrmConfig,
) -> (Tensor<D>, Tensor<D>) {
    check_state("spike_carry", &v.dims(), &state.dims(), 1);
    super::check_srm("spike_carry", cfg);
    let (spikes, state) = <Dispatch as SnnBackend>::spike_fire_carry(
        v.into_dispatch(),
        state.into_dispatch(),
        SpikeParams::from(cfg),
    );
    (Tensor::from_dispatch(spikes), Tensor::from_dispatch(state))
}

/// [`psp_carry`] then [`spike_carry`] in one pass: the spikes of the PSP of `x` (a synapse's
/// output before its filter), for the next chunk of a stream. `state` holds the filter's two
/// traces, then the refractory response (zeros at the start of a stream). Returns the chunk's
/// spikes and the state after its last step: the same spikes as the two functions in turn,
/// without writing the potential.
///
/// # Shapes
///
/// - `x`: `[batch, k, ...]`, the chunk's `k ≥ 1` steps
/// - `state`: `[batch, 3, ...]`, the neuron dims of `x`
/// - output: `(spikes, state)`, shaped like `x` and `state`
///
/// # Panics
///
/// As [`psp_carry`] and [`spike_carry`].
#[track_caller]
pub fn psp_spike_carry<const D: usize>(
    x: Tensor<D>,
    state: Tensor<D>,
    tau_s: f64,
    cfg: &SrmConfig,
) -> (Tensor<D>, Tensor<D>) {
    check_state("psp_spike_carry", &x.dims(), &state.dims(), 3);
    super::check_tau_s("psp_spike_carry", tau_s);
    super::check_srm("psp_spike_carry", cfg);
    let (spikes, state) = <Dispatch as SnnBackend>::psp_spike_carry(
        x.into_dispatch(),
        state.into_dispatch(),
        tau_s,
        SpikeParams::from(cfg),
    );
    (Tensor::from_dispatch(spikes), Tensor::from_dispatch(state))
}

/// Panics unless `x` is `[batch, k ≥ 1, ...]` and `state` is `[batch, traces, ...]` with the
/// same neuron dims.
#[track_caller]
fn check_state(op: &str, x: &[usize], state: &[usize], traces: usize) {
    super::check_time_layout(op, x);
    let mut want = x.to_vec();
    want[1] = traces;
    assert!(
        state == want.as_slice(),
        "{op}: expected a state of shape {want:?} (dim 1: {traces} trace(s) per neuron) for an input of shape {x:?}, got {state:?}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functional::{psp, spike};
    use crate::test_util::*;

    /// Splits `[b, t, n]` values into chunks of the given lengths and runs `op` chunk by chunk
    /// from a zero state of `traces` traces; returns the concatenated outputs.
    fn chunked(
        x: &Tensor<3>,
        lengths: &[usize],
        traces: usize,
        mut op: impl FnMut(Tensor<3>, Tensor<3>) -> (Tensor<3>, Tensor<3>),
    ) -> Vec<f64> {
        let [b, t, n] = x.dims();
        assert_eq!(lengths.iter().sum::<usize>(), t);
        let mut state = Tensor::zeros([b, traces, n], &x.device());
        let mut start = 0;
        let mut out = Vec::new();
        for &k in lengths {
            let (y, next) = op(x.clone().slice([0..b, start..start + k]), state);
            out.push(y);
            state = next;
            start += k;
        }
        to_f64(Tensor::cat(out, 1))
    }

    #[test]
    fn psp_chunk_by_chunk_equals_the_whole_sequence_exactly() {
        let device = device();
        let shape = [3, 40, 600];
        let x = random_spikes(shape.iter().product(), 0.2, 31);
        for (name, tensor) in [
            ("f64", tensor_f64(x.clone(), shape, &device)),
            ("f32", tensor_f32(&x, shape, &device)),
        ] {
            let whole = to_f64(psp(tensor.clone(), 7.0));
            for lengths in [vec![1; 40], vec![13, 1, 26], vec![40]] {
                let got = chunked(&tensor, &lengths, 2, |x, s| psp_carry(x, s, 7.0));
                assert_eq!(got, whole, "{name} {lengths:?}");
            }
        }
    }

    #[test]
    fn spikes_chunk_by_chunk_equal_the_whole_sequence_exactly() {
        let device = device();
        let shape = [2, 60, 700];
        let v: Vec<f64> = random_values(shape.iter().product(), 32)
            .into_iter()
            .map(|x| 9.0 + 12.0 * x)
            .collect();
        let cfg = SrmConfig::new();
        for (name, tensor) in [
            ("f64", tensor_f64(v.clone(), shape, &device)),
            ("f32", tensor_f32(&v, shape, &device)),
        ] {
            let whole = to_f64(spike(tensor.clone(), &cfg));
            assert!(whole.contains(&1.0) && whole.contains(&0.0));
            for lengths in [vec![1; 60], vec![7, 50, 3]] {
                let got = chunked(&tensor, &lengths, 1, |v, s| spike_carry(v, s, &cfg));
                assert_eq!(got, whole, "{name} {lengths:?}");
            }
        }
    }

    #[test]
    fn fused_psp_and_spikes_equal_the_two_ops_in_turn() {
        let device = device();
        let shape = [2, 50, 700];
        let x: Vec<f64> = random_values(shape.iter().product(), 33)
            .into_iter()
            .map(|x| 2.5 * x)
            .collect();
        let cfg = SrmConfig::new();
        for (name, tensor) in [
            ("f64", tensor_f64(x.clone(), shape, &device)),
            ("f32", tensor_f32(&x, shape, &device)),
        ] {
            let whole = to_f64(spike(psp(tensor.clone(), 5.0), &cfg));
            assert!(whole.contains(&1.0) && whole.contains(&0.0));
            for lengths in [vec![1; 50], vec![20, 1, 29]] {
                let got = chunked(&tensor, &lengths, 3, |x, s| {
                    psp_spike_carry(x, s, 5.0, &cfg)
                });
                assert_eq!(got, whole, "{name} {lengths:?}");
            }
        }
    }

    /// The state is what the definition says: the traces `w`, `z` of the recursion and the
    /// refractory response `r` after the chunk, checked on one neuron by hand.
    #[test]
    fn the_state_is_the_recursion_state() {
        let device = device();
        let tau: f64 = 4.0;
        let q = (-1.0 / tau).exp();
        // Spikes at steps 0 and 1: w = q + 1, z = q·(0) + ... by the recursion.
        let (mut w, mut z) = (0.0f64, 0.0f64);
        for x in [1.0, 1.0, 0.0] {
            let w_prev = w;
            z = q * z + w_prev;
            w = q * w_prev + x;
        }
        let s = tensor_f64(vec![1.0, 1.0, 0.0], [1, 3, 1], &device);
        let (_, state) = psp_carry(s, Tensor::zeros([1, 2, 1], &device), tau);
        assert_close(&to_f64(state), &[w, z], 1e-15, "psp state");

        // Constant drive 15: spike at 0 only within 3 steps, r = e^{-3/τr}·(−2θ).
        let cfg = SrmConfig::new();
        let v = tensor_f64(vec![15.0; 3], [1, 3, 1], &device);
        let (spikes, state) = spike_carry(v, Tensor::zeros([1, 1, 1], &device), &cfg);
        assert_eq!(to_f64(spikes), vec![1.0, 0.0, 0.0]);
        let want = -2.0 * cfg.theta * (-3.0 / cfg.tau_r).exp();
        assert_close(&to_f64(state), &[want], 1e-12, "refractory state");
    }

    #[test]
    fn autodiff_tensors_run_untracked() {
        let device = device().autodiff();
        let x = Tensor::<3>::ones([1, 4, 2], &device).require_grad();
        let (y, _) = psp_carry(x, Tensor::zeros([1, 2, 2], &device), 10.0);
        assert_eq!(y.dims(), [1, 4, 2]);
    }

    #[test]
    #[should_panic(
        expected = "psp_carry: expected a state of shape [2, 2, 3] (dim 1: 2 trace(s) per neuron) for an input of shape [2, 5, 3], got [1, 2, 3]"
    )]
    fn a_state_of_another_shape_panics() {
        let device = device();
        psp_carry(
            Tensor::<3>::zeros([2, 5, 3], &device),
            Tensor::zeros([1, 2, 3], &device),
            10.0,
        );
    }
}
