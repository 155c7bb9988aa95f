//! The Func layer of the paper (Fig. 3c): Spike → PSP → Norm.

use super::LayerSettings;
use crate::SrmConfig;
use crate::functional::{Clock, PspNormKind, pool_psp};
use crate::norm::{PspNorm, PspNormConfig};
use crate::synapse::{Presynaptic, SynapseInput};
use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

/// Configuration of a [`Func`] layer.
#[derive(Config, Debug)]
pub struct FuncConfig {
    /// Channels (dim 2) of the potentials it receives.
    pub channels: usize,
    /// The network's settings: the neuron parameters, and the normalization, which acts here
    /// when it is a PSP normalization (PSP-BN, PSP-LN) and is ignored otherwise (the membrane
    /// kinds sit after the synapse). Default: Table 1 with PSP-LN.
    #[config(default = "LayerSettings::new()")]
    pub settings: LayerSettings,
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
        let settings = &self.settings;
        if let Err(err) = settings.srm.check() {
            panic!("FuncConfig: {err}");
        }
        assert!(self.pool > 0, "FuncConfig: pool must be >= 1, got 0");
        Func {
            norm: settings.norm.psp_kind().map(|kind| {
                PspNormConfig::new(kind, self.channels)
                    .with_lambda(settings.lambda)
                    .init(device)
            }),
            srm: settings.srm.clone(),
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

    /// The spikes of the potential `v` (the first stage of [`forward`](Self::forward)).
    pub fn spikes<const D: usize>(&self, v: Tensor<D>) -> Tensor<D> {
        self.spikes_in(v, &mut Clock::Whole)
    }

    /// [`spikes`](Self::spikes) on `clock`.
    pub(crate) fn spikes_in<const D: usize>(&self, v: Tensor<D>, clock: &mut Clock) -> Tensor<D> {
        clock.spike(v, &self.srm)
    }

    /// PSP → (Pool) → Norm of spikes (the layer after its spike stage, e.g. on input spikes).
    ///
    /// # Shapes
    ///
    /// - `s`: `[batch, time, channels, ...]`; rank 5 when `pool > 1`
    /// - output: same, spatial dims divided by `pool`
    pub fn forward_spikes<const D: usize>(&self, s: Tensor<D>) -> Tensor<D> {
        // The output is `â` itself: the statistic from the PSP that `â` needs anyway (the event
        // path's statistic from the spikes would filter them a second time).
        self.forward_spikes_in(s, &mut Clock::Whole)
    }

    /// [`forward_spikes`](Self::forward_spikes) on `clock`.
    pub(crate) fn forward_spikes_in<const D: usize>(
        &self,
        s: Tensor<D>,
        clock: &mut Clock,
    ) -> Tensor<D> {
        self.factors(s, false, false, clock).dense_in(clock)
    }

    /// [`forward`](Self::forward) on `clock`.
    pub(crate) fn forward_in<const D: usize>(&self, v: Tensor<D>, clock: &mut Clock) -> Tensor<D> {
        let s = self.spikes_in(v, clock);
        self.forward_spikes_in(s, clock)
    }

    /// PSP → (Pool) → Norm of spikes `s` in factored form, for a synapse (see
    /// [`Presynaptic`]), prepared for what the synapse convolves (`input`, from the synapse's
    /// `input`): for [`SynapseInput::Spikes`] the normalization's statistic is computed from the
    /// spikes ([`PspNorm::moment_of_spikes`](crate::norm::PspNorm::moment_of_spikes), keeping
    /// them as bits for the backward pass when `binary`: `s` holds only 0 and 1, e.g. from
    /// [`spikes`](Self::spikes)), for [`SynapseInput::Psp`] from the PSP, which is kept for
    /// [`Presynaptic::dense`].
    ///
    /// # Shapes
    ///
    /// - `s`: `[batch, time, channels, ...]`; rank 5 when `pool > 1`
    pub fn presynaptic<const D: usize>(
        &self,
        s: Tensor<D>,
        binary: bool,
        input: SynapseInput,
    ) -> Presynaptic<D> {
        self.presynaptic_in(s, binary, input, &mut Clock::Whole)
    }

    /// [`presynaptic`](Self::presynaptic) on `clock`.
    pub(crate) fn presynaptic_in<const D: usize>(
        &self,
        s: Tensor<D>,
        binary: bool,
        input: SynapseInput,
        clock: &mut Clock,
    ) -> Presynaptic<D> {
        self.factors(s, binary, input == SynapseInput::Spikes, clock)
    }

    /// [`presynaptic`](Self::presynaptic) of the spikes of the potential `v`: the layer in
    /// factored form for a synapse that convolves `input`.
    ///
    /// # Shapes
    ///
    /// - `v`: `[batch, time, channels, ...]`; rank 5 when `pool > 1`
    pub fn forward_presynaptic<const D: usize>(
        &self,
        v: Tensor<D>,
        input: SynapseInput,
    ) -> Presynaptic<D> {
        self.forward_presynaptic_in(v, input, &mut Clock::Whole)
    }

    /// [`forward_presynaptic`](Self::forward_presynaptic) on `clock`.
    pub(crate) fn forward_presynaptic_in<const D: usize>(
        &self,
        v: Tensor<D>,
        input: SynapseInput,
        clock: &mut Clock,
    ) -> Presynaptic<D> {
        let s = self.spikes_in(v, clock);
        self.presynaptic_in(s, true, input, clock)
    }

    /// The factors of `â`; with `events`, the statistic comes from the spikes
    /// ([`PspNorm::moment_of_spikes`](crate::norm::PspNorm::moment_of_spikes)) and the PSP is
    /// left for [`Presynaptic::dense`] to compute if it is ever asked for.
    ///
    /// On a stream, the PSP runs from the stream's state, and a normalization's statistic
    /// must be causal (see [`PspNorm::stream_moment`](crate::norm::PspNorm)).
    fn factors<const D: usize>(
        &self,
        s: Tensor<D>,
        binary: bool,
        events: bool,
        clock: &mut Clock,
    ) -> Presynaptic<D> {
        let tau_s = self.srm.tau_s;
        // Pooled spikes are averages, no longer 0 or 1.
        let events_binary = binary && self.pool == 1;
        let Some(norm) = &self.norm else {
            return Presynaptic::new(self.pooled(s), tau_s).with_binary_events(events_binary);
        };
        let (psp, moment, varying) = if clock.is_stream() {
            // The statistic must not look ahead: the running moment (PSP-BN) or a causal form
            // (PSP-LN), from the PSP of the chunk when it needs one. The dense path computes the
            // PSP before pooling, as the whole-sequence forward does.
            let a = (!events || norm.stream_needs_psp(clock))
                .then(|| self.pooled(clock.psp(s.clone(), tau_s)));
            let (moment, varying) = norm.stream_moment(a.clone(), &s, clock);
            (a.filter(|_| !events), moment, varying)
        } else if events {
            let moment = norm.moment_of_spikes(s.clone(), tau_s, self.pool, binary);
            (None, moment, false)
        } else {
            let a = self.pooled(clock.psp(s.clone(), tau_s));
            (Some(a.clone()), norm.moment(a), false)
        };
        if norm.kind == PspNormKind::Layer {
            clock.record_layer_moment(&moment);
        }
        Presynaptic::normalized(self.pooled(s), psp, norm.kind, moment, norm.lambda, tau_s)
            .with_binary_events(events_binary)
            .with_varying_moment(varying)
    }

    /// Spatial average pooling (identity when `pool == 1`).
    fn pooled<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        if self.pool == 1 {
            return x;
        }
        let dims = x.dims();
        assert!(
            D == 5,
            "Func: pooling needs [batch, time, channels, height, width], got shape {dims:?}"
        );
        let pooled = pool_psp(
            x.reshape([dims[0], dims[1], dims[2], dims[3], dims[4]]),
            self.pool,
        );
        let mut out = dims;
        out[3..].copy_from_slice(&pooled.dims()[3..]);
        pooled.reshape(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functional::{psp, psp_norm, spike};
    use crate::norm::Normalization;
    use crate::test_util::*;

    #[test]
    fn is_spike_then_psp_then_norm() {
        let device = device();
        let func = FuncConfig::new(3).init(&device);
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
        let func = FuncConfig::new(2)
            .with_settings(LayerSettings::new().with_norm(Normalization::None))
            .with_pool(2)
            .init(&device);
        let out = func.forward(Tensor::<5>::ones([1, 3, 2, 6, 6], &device).mul_scalar(20.0));
        assert_eq!(out.dims(), [1, 3, 2, 3, 3]);
    }
}
