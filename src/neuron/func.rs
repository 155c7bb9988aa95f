//! The Func layer of the paper (Fig. 3c): Spike → PSP → Norm.

use crate::functional::{psp, spike};
use crate::neuron::SrmConfig;
use crate::norm::{PspNorm, PspNormConfig, PspNormKind};
use crate::synapse::pool_psp;
use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

/// Configuration of a [`Func`] layer.
#[derive(Config, Debug)]
pub struct FuncConfig {
    /// Channels (dim 2) of the potentials it receives.
    pub channels: usize,
    /// PSP normalization, if any. Default: none.
    #[config(default = "None")]
    pub norm: Option<PspNormKind>,
    /// Neuron parameters. Default: the paper's Table 1.
    #[config(default = "SrmConfig::new()")]
    pub srm: SrmConfig,
    /// λ of the PSP normalization. Default: 0.1.
    #[config(default = 0.1)]
    pub lambda: f64,
    /// Spatial average pooling window applied to the PSP before the normalization (1 = none).
    /// Default: 1.
    #[config(default = 1)]
    pub pool: usize,
}

/// The Func layer (Fig. 3c): `â = Norm(Pool(ε ∗ Spike(v)))`.
///
/// Spikes of the potential `v` (eq. 4, with the refractory response), their PSP, an optional
/// spatial average pooling, and the PSP normalization (eq. 19–20) when configured. Its output
/// feeds a synapse.
#[derive(Module, Debug)]
pub struct Func {
    /// The PSP normalization, if any.
    pub norm: Option<PspNorm>,
    /// Neuron parameters.
    #[module(skip)]
    pub srm: SrmConfig,
    /// Pooling window (1 = none).
    pub pool: usize,
}

impl FuncConfig {
    /// Initializes the layer.
    ///
    /// # Panics
    ///
    /// If a neuron parameter is invalid, `pool` is 0, or the normalization config is invalid.
    pub fn init(&self, device: &Device) -> Func {
        if let Err(err) = self.srm.check() {
            panic!("FuncConfig: {err}");
        }
        assert!(self.pool > 0, "FuncConfig: pool must be >= 1, got 0");
        Func {
            norm: self.norm.map(|kind| {
                PspNormConfig::new(kind, self.channels)
                    .with_lambda(self.lambda)
                    .init(device)
            }),
            srm: self.srm.clone(),
            pool: self.pool,
        }
    }
}

impl Func {
    /// Spike → PSP → (Pool) → Norm.
    ///
    /// # Shapes
    ///
    /// - `v`: `[batch, time, channels, ...]`
    /// - output: same, spatial dims divided by `pool`
    pub fn forward<const D: usize>(&self, v: Tensor<D>) -> Tensor<D> {
        self.forward_spikes(self.spikes(v))
    }

    /// [`forward`](Self::forward) that also records this layer's firing rate under `name`
    /// when `rates` is `Some`, from the same spikes (nothing is computed twice).
    pub fn forward_recorded<const D: usize>(
        &self,
        v: Tensor<D>,
        rates: &mut Option<&mut crate::model::FiringRates>,
        name: impl Into<String>,
    ) -> Tensor<D> {
        let s = self.spikes(v);
        crate::model::FiringRates::record(rates, name, &s);
        self.forward_spikes(s)
    }

    /// The spikes of the potential `v` (the first stage of [`forward`](Self::forward)).
    pub fn spikes<const D: usize>(&self, v: Tensor<D>) -> Tensor<D> {
        spike(v, &self.srm)
    }

    /// PSP → (Pool) → Norm of spikes (the layer after its spike stage, e.g. on input spikes).
    ///
    /// # Shapes
    ///
    /// - `s`: `[batch, time, channels, ...]`; rank 5 when `pool > 1`
    /// - output: same, spatial dims divided by `pool`
    pub fn forward_spikes<const D: usize>(&self, s: Tensor<D>) -> Tensor<D> {
        let mut a = psp(s, self.srm.tau_s);
        if self.pool > 1 {
            let dims = a.dims();
            assert!(
                D == 5,
                "Func: pooling needs [batch, time, channels, height, width], got shape {dims:?}"
            );
            let pooled = pool_psp(
                a.reshape([dims[0], dims[1], dims[2], dims[3], dims[4]]),
                self.pool,
            );
            let mut out = dims;
            out[3..].copy_from_slice(&pooled.dims()[3..]);
            a = pooled.reshape(out);
        }
        match &self.norm {
            Some(norm) => norm.forward(a),
            None => a,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functional::psp_norm;
    use crate::test_util::*;

    #[test]
    fn is_spike_then_psp_then_norm() {
        let device = device();
        let func = FuncConfig::new(3)
            .with_norm(Some(PspNormKind::Layer))
            .init(&device);
        let v = tensor_f32(
            &random_values(2 * 30 * 3, 1)
                .iter()
                .map(|x| 20.0 * x)
                .collect::<Vec<_>>(),
            [2, 30, 3],
            &device,
        );
        let want = psp_norm(
            psp(spike(v.clone(), &SrmConfig::new()), 10.0),
            PspNormKind::Layer,
            0.1,
        );
        assert_close(&to_f64(func.forward(v)), &to_f64(want), 1e-6, "func");
    }

    #[test]
    fn pooling_halves_the_map() {
        let device = device();
        let func = FuncConfig::new(2).with_pool(2).init(&device);
        let out = func.forward(Tensor::<5>::ones([1, 3, 2, 6, 6], &device).mul_scalar(20.0));
        assert_eq!(out.dims(), [1, 3, 2, 3, 3]);
    }
}
