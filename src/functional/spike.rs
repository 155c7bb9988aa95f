use crate::SrmConfig;
use crate::kernels::{SnnBackend, SpikeParams};
use burn::backend::Dispatch;
use burn::tensor::Tensor;

/// Spikes of SRM neurons from their input potential, with the refractory response and the
/// SLAYER surrogate gradient.
///
/// For each neuron, sequentially in time (eq. 4):
///
/// - `u[t] = v[t] + r[t]`, where `v` is the input (e.g. `W·a`, the synaptic potential);
/// - `s[t] = 1` if `u[t] ≥ θ`, else `0`;
/// - a spike at step `t` adds `ν(k) = −2θ·e^{−k/τr}` to `u[t+k]` for every `k ≥ 1`, so
///   `r[t] = Σ_{t' < t} s[t']·ν(t − t')`, computed as the recursion
///   `r[t+1] = e^{−1/τr}·(r[t] − 2θ·s[t])`.
///
/// Backward (SLAYER, eq. 10): `∂L/∂v[t] = ρ(u[t])·∂L/∂s[t]` with
/// `ρ(u) = (1/α)·exp(−|u − θ|/β)`, where `u[t]` includes the refractory response of earlier
/// spikes. No gradient flows through the refractory feedback. ρ is computed by the forward
/// kernel only when gradients are tracked.
///
/// # Shapes
///
/// - `v`: `[batch, time, ...]`
/// - output: same as `v`, values 0 or 1
///
/// # Panics
///
/// If the tensor has no time dim (rank < 2) or an empty one, or if a parameter of `cfg` is not
/// finite and positive.
#[track_caller]
pub fn spike<const D: usize>(v: Tensor<D>, cfg: &SrmConfig) -> Tensor<D> {
    check("spike", &v, cfg);
    Tensor::from_dispatch(<Dispatch as SnnBackend>::spike_fire(
        v.into_dispatch(),
        SpikeParams::from(cfg),
    ))
}

/// The spikes of [`spike`] and the surrogate derivative `ρ(u[t])` of every step, for
/// inspection (e.g. how much gradient a layer lets through).
///
/// The spikes carry the same gradient as [`spike`]'s; the surrogate is a constant.
///
/// # Shapes
///
/// - `v`: `[batch, time, ...]`
/// - output: `(spikes, surrogate)`, both shaped like `v`
///
/// # Panics
///
/// As [`spike`].
#[track_caller]
pub fn spike_with_surrogate<const D: usize>(
    v: Tensor<D>,
    cfg: &SrmConfig,
) -> (Tensor<D>, Tensor<D>) {
    check("spike_with_surrogate", &v, cfg);
    let (spikes, surrogate) =
        <Dispatch as SnnBackend>::spike_fire_surrogate(v.into_dispatch(), SpikeParams::from(cfg));
    (
        Tensor::from_dispatch(spikes),
        Tensor::from_dispatch(surrogate),
    )
}

#[track_caller]
fn check<const D: usize>(op: &str, v: &Tensor<D>, cfg: &SrmConfig) {
    super::check_time_layout(op, &v.dims());
    super::check_srm(op, cfg);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functional::psp;
    use crate::test_util::*;

    /// Step-by-step reference on a `[B, T, N]` buffer, with the refractory response summed
    /// directly over all earlier spikes. Returns `(spikes, u)`.
    fn reference(v: &[f64], [b, t, n]: [usize; 3], cfg: &SrmConfig) -> (Vec<f64>, Vec<f64>) {
        let mut s = vec![0.0; v.len()];
        let mut u = vec![0.0; v.len()];
        for bi in 0..b {
            for ni in 0..n {
                let at = |ti: usize| (bi * t + ti) * n + ni;
                for ti in 0..t {
                    let refractory: f64 = (0..ti)
                        .map(|tp| {
                            s[at(tp)] * -2.0 * cfg.theta * (-((ti - tp) as f64) / cfg.tau_r).exp()
                        })
                        .sum();
                    u[at(ti)] = v[at(ti)] + refractory;
                    s[at(ti)] = if u[at(ti)] >= cfg.theta { 1.0 } else { 0.0 };
                }
            }
        }
        (s, u)
    }

    fn rho(u: f64, cfg: &SrmConfig) -> f64 {
        (-(u - cfg.theta).abs() / cfg.beta).exp() / cfg.alpha
    }

    /// Membrane-like input: a drive that crosses θ = 10 often.
    fn drive(n: usize, seed: u64) -> Vec<f64> {
        random_values(n, seed)
            .into_iter()
            .map(|x| 9.0 + 12.0 * x)
            .collect()
    }

    #[test]
    fn matches_the_step_by_step_reference() {
        let device = device();
        for (shape, cfg) in [
            ([2, 60, 7], SrmConfig::new()),
            ([1, 1, 4], SrmConfig::new()),
            (
                [3, 40, 600],
                SrmConfig::new().with_theta(5.0).with_tau_r(2.0),
            ),
        ] {
            let v = drive(shape.iter().product(), 5);
            let (want, _) = reference(&v, shape, &cfg);
            let got = to_f64(spike(tensor_f64(v.clone(), shape, &device), &cfg));
            assert_eq!(got, want, "{shape:?}");
            assert!(want.contains(&1.0) && want.contains(&0.0));
        }
    }

    /// An f64 tensor runs with its f64 parameters: a surrogate with α = 0.1, β = 0.3, τr = 0.7
    /// and θ = 10.1 (none representable in binary) matches the f64 reference at 1e-12.
    #[test]
    fn f64_parameters_are_not_rounded() {
        let device = device();
        let shape = [2, 40, 5];
        let cfg = SrmConfig::new()
            .with_theta(10.1)
            .with_tau_r(0.7)
            .with_alpha(0.1)
            .with_beta(0.3);
        let v = drive(shape.iter().product(), 17);
        assert_f64_surrogate_matches_the_reference(&v, shape, &cfg, &device);
    }

    /// The f64 kernel's spikes equal the reference's and its surrogate is `ρ(u)` at 1e-12;
    /// returns the reference `(u, ρ(u))`.
    fn assert_f64_surrogate_matches_the_reference(
        v: &[f64],
        shape: [usize; 3],
        cfg: &SrmConfig,
        device: &burn::tensor::Device,
    ) -> (Vec<f64>, Vec<f64>) {
        let (want_s, u) = reference(v, shape, cfg);
        let (s, surrogate) = spike_with_surrogate(tensor_f64(v.to_vec(), shape, device), cfg);
        assert_eq!(to_f64(s), want_s);
        let want: Vec<f64> = u.iter().map(|&u| rho(u, cfg)).collect();
        assert_close(&to_f64(surrogate), &want, 1e-12, "surrogate f64");
        (u, want)
    }

    #[test]
    fn f32_agrees_except_at_threshold_ties() {
        let device = device();
        let shape = [4, 100, 50];
        let cfg = SrmConfig::new();
        let v = drive(shape.iter().product(), 9);
        let (want, u) = reference(&v, shape, &cfg);
        let got = to_f64(spike(tensor_f32(&v, shape, &device), &cfg));
        // Once a spike differs, later steps of that neuron legitimately differ too: compare each
        // neuron up to its first step whose u is within f32 rounding of θ.
        let (b, t, n) = (shape[0], shape[1], shape[2]);
        let mut compared = 0;
        for bi in 0..b {
            for ni in 0..n {
                for ti in 0..t {
                    let i = (bi * t + ti) * n + ni;
                    if (u[i] - cfg.theta).abs() < 1e-4 {
                        break;
                    }
                    assert_eq!(got[i], want[i], "b {bi} t {ti} n {ni}");
                    compared += 1;
                }
            }
        }
        assert!(compared > b * t * n * 9 / 10);
    }

    #[test]
    fn refractory_response_follows_a_spike() {
        // Constant drive 15 with θ = 10: spike at t = 0 (u = 15), then u = 15 − 20e^{−k/10}
        // stays below θ until 20e^{−k/10} ≤ 5, i.e. k ≥ 10·ln 4 ≈ 13.9: next spike at t = 14.
        let device = device();
        let got = to_f64(spike(
            tensor_f64(vec![15.0; 20], [1, 20], &device),
            &SrmConfig::new(),
        ));
        let fired: Vec<usize> = (0..20).filter(|&t| got[t] == 1.0).collect();
        assert_eq!(fired, vec![0, 14]);
    }

    #[test]
    fn zeros_and_5d() {
        let device = device();
        let zeros = to_f64(spike(
            Tensor::<3>::zeros([2, 3, 4], &device),
            &SrmConfig::new(),
        ));
        assert!(zeros.iter().all(|&s| s == 0.0));

        let shape = [2, 30, 2, 3, 4];
        let v = drive(shape.iter().product(), 2);
        let got = to_f64(spike(
            tensor_f64(v.clone(), shape, &device),
            &SrmConfig::new(),
        ));
        let (want, _) = reference(&v, [2, 30, 24], &SrmConfig::new());
        assert_eq!(got, want);
    }

    #[test]
    fn surrogate_is_rho_of_u_with_refractory_response() {
        let device = device();
        let shape = [2, 50, 9];
        let cfg = SrmConfig::new().with_alpha(2.0).with_beta(3.0);
        let v = drive(shape.iter().product(), 4);
        let (u, want) = assert_f64_surrogate_matches_the_reference(&v, shape, &cfg, &device);
        // The f32 kernel (vectorized exp) is limited by the f32 rounding of u (|u| ~ 20).
        let (_, surrogate) = spike_with_surrogate(tensor_f32(&v, shape, &device), &cfg);
        let got = to_f64(surrogate);
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            if (u[i] - cfg.theta).abs() > 1e-3 {
                assert!((g - w).abs() <= 1e-5 * w, "element {i}: {g} vs {w}");
            }
        }
    }

    #[test]
    fn gradient_through_spike_and_psp_matches_finite_differences_of_the_surrogate() {
        // With the earlier spikes fixed (no gradient through the refractory feedback), SLAYER's
        // backward is the exact derivative of the smooth stand-in
        // s̃[t] = R(v[t] + r[t]), R(u) = sign(u − θ)·(β/α)·(1 − e^{−|u−θ|/β}), R' = ρ.
        let device = device().autodiff();
        let shape = [2, 30, 4];
        let cfg = SrmConfig::new().with_alpha(3.0).with_beta(4.0);
        let v = drive(shape.iter().product(), 21);
        let weights = random_values(v.len(), 22);
        let (_, u) = reference(&v, shape, &cfg);
        let refractory: Vec<f64> = u.iter().zip(&v).map(|(u, v)| u - v).collect();
        let smooth = |v: &[f64]| -> f64 {
            let s: Vec<f64> = v
                .iter()
                .zip(&refractory)
                .map(|(v, r)| {
                    let d = v + r - cfg.theta;
                    d.signum() * cfg.beta / cfg.alpha * (1.0 - (-d.abs() / cfg.beta).exp())
                })
                .collect();
            let s = tensor_f64(s, shape, &crate::test_util::device());
            let a = to_f64(psp(s, cfg.tau_s));
            a.iter().zip(&weights).map(|(a, w)| a * w).sum()
        };
        let vt = tensor_f64(v.clone(), shape, &device).require_grad();
        let loss = (psp(spike(vt.clone(), &cfg), cfg.tau_s)
            * tensor_f64(weights.clone(), shape, &device))
        .sum();
        let grad = to_f64(vt.grad(&loss.backward()).expect("gradient"));
        assert_close(&grad, &finite_differences(&v, smooth), 1e-6, "gradient");
    }

    #[test]
    fn no_gradient_through_the_refractory_feedback() {
        let device = device().autodiff();
        let t = 30;
        let vt = tensor_f64(vec![15.0; t], [1, t], &device).require_grad();
        let s = spike(vt.clone(), &SrmConfig::new());
        // Only the last step's spike enters the loss.
        let loss = s.slice([0..1, t - 1..t]).sum();
        let grad = to_f64(vt.grad(&loss.backward()).expect("gradient"));
        assert!(grad[..t - 1].iter().all(|&g| g == 0.0), "{grad:?}");
        assert!(grad[t - 1] > 0.0);
    }

    #[test]
    fn inference_and_training_paths_give_the_same_spikes() {
        let shape = [3, 40, 11];
        let v = drive(shape.iter().product(), 8);
        let plain = to_f64(spike(tensor_f32(&v, shape, &device()), &SrmConfig::new()));
        let tracked = tensor_f32(&v, shape, &device().autodiff()).require_grad();
        let tracked = to_f64(spike(tracked, &SrmConfig::new()));
        assert_eq!(plain, tracked);
    }

    #[test]
    #[should_panic(expected = "spike: invalid SRM parameter theta = -1: it must be finite and > 0")]
    fn bad_config_panics() {
        spike(
            Tensor::<3>::zeros([1, 2, 3], &device()),
            &SrmConfig::new().with_theta(-1.0),
        );
    }

    #[test]
    #[should_panic(
        expected = "spike: expected a tensor of shape [batch, time, ...] (rank >= 2), got rank 1 with shape [4]"
    )]
    fn missing_time_dim_panics() {
        spike(Tensor::<1>::zeros([4], &device()), &SrmConfig::new());
    }

    #[test]
    #[should_panic(expected = "spike: the time dim (dim 1) is empty in shape [1, 0]")]
    fn empty_time_dim_panics() {
        spike(Tensor::<2>::zeros([1, 0], &device()), &SrmConfig::new());
    }
}
