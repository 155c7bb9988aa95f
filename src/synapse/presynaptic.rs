//! A Func layer's output in factored form: spikes, PSP and normalization kept apart.

use crate::functional::{
    Clock, PspNormKind, conv2d_events, conv2d_events_spike, psp_norm_with_moment,
};
use crate::kernels::EventConvOptions;
use burn::tensor::{Device, Tensor};

/// The input of a synapse, `â = Norm(Pool(ε ∗ s))`, kept as its factors: the (pooled) spikes
/// `Pool(s)`, the PSP `a = Pool(ε ∗ s)` where it is needed, and the normalization's second
/// moment.
///
/// The PSP filter acts on time, pooling and the synapse on space and channels, and the PSP
/// normalization's statistic is constant over time (eq. 19–20: per channel for PSP-BN, per
/// sample for PSP-LN). So a synapse `W` can be applied to the spikes first:
///
/// `W ⊛ â = ε ∗ (W·diag(c) ⊛ Pool(s)) · r_b`,
///
/// with `c` PSP-BN's per-channel factor `1/sqrt(E[a²] + λ)` folded into the weights and `r_b`
/// PSP-LN's per-sample factor scaling the output. On spikes the convolution is event-driven
/// ([`conv2d_events`](crate::functional::conv2d_events)); [`dense`](Self::dense) gives `â`
/// itself for everything else (the dense path, the residual stream, GPUs).
#[derive(Clone, Debug)]
pub struct Presynaptic<const D: usize> {
    events: Tensor<D>,
    binary: bool,
    psp: Option<Tensor<D>>,
    norm: Option<Moment<D>>,
    tau_s: f64,
}

/// A PSP normalization's second moment, shaped to broadcast against the PSP.
#[derive(Clone, Debug)]
struct Moment<const D: usize> {
    kind: PspNormKind,
    moment: Tensor<D>,
    lambda: f64,
    /// The moment changes from step to step (a running moment on a stream: `[batch, time,
    /// 1, ...]`), so the factor is applied to the PSP, after the filter.
    varying: bool,
}

impl<const D: usize> Presynaptic<D> {
    /// Spikes without normalization (their PSP is computed when needed).
    ///
    /// # Shapes
    ///
    /// - `events`: `[batch, time, channels, ...]`
    pub fn new(events: Tensor<D>, tau_s: f64) -> Self {
        Self {
            events,
            binary: false,
            psp: None,
            norm: None,
            tau_s,
        }
    }

    /// Spikes with their PSP `a` (when already computed; otherwise [`dense`](Self::dense)
    /// computes it from the spikes) and its second moment `E_X[a²]` (shaped like
    /// [`psp_second_moment`](crate::functional::psp_second_moment)'s output).
    ///
    /// # Shapes
    ///
    /// - `events`, `psp`: `[batch, time, channels, ...]`
    /// - `moment`: `[batch, 1, ...]` (`Layer`) or `[1, 1, channels, 1, ...]` (`Batch`)
    pub fn normalized(
        events: Tensor<D>,
        psp: Option<Tensor<D>>,
        kind: PspNormKind,
        moment: Tensor<D>,
        lambda: f64,
        tau_s: f64,
    ) -> Self {
        Self {
            events,
            binary: false,
            psp,
            norm: Some(Moment {
                kind,
                moment,
                lambda,
                varying: false,
            }),
            tau_s,
        }
    }

    /// Whether the moment changes from step to step (`[batch, time, 1, ...]`, PSP-LN's running
    /// moment on a stream): the factor then scales the PSP after the filter, never its input.
    pub(crate) fn with_varying_moment(mut self, varying: bool) -> Self {
        if let Some(norm) = &mut self.norm {
            norm.varying = varying;
        }
        self
    }

    /// Declares that the events hold only 0 and 1 (unpooled spikes), so that an event-driven
    /// synapse keeps them for its backward pass as one bit per element.
    pub fn with_binary_events(mut self, binary: bool) -> Self {
        self.binary = binary;
        self
    }

    /// The spikes (averaged over the pooling windows when the Func pools).
    pub fn events(&self) -> &Tensor<D> {
        &self.events
    }

    /// The device of the tensors.
    pub fn device(&self) -> Device {
        self.events.device()
    }

    /// `â` itself: `Norm(Pool(ε ∗ s))`.
    ///
    /// # Shapes
    ///
    /// - output: `[batch, time, channels, ...]`
    pub fn dense(self) -> Tensor<D> {
        self.dense_in(&mut Clock::Whole)
    }

    /// [`dense`](Self::dense) on `clock`.
    pub(crate) fn dense_in(self, clock: &mut Clock) -> Tensor<D> {
        let a = match self.psp {
            Some(a) => a,
            None => clock.psp(self.events, self.tau_s),
        };
        match self.norm {
            Some(norm) => psp_norm_with_moment(a, norm.moment, norm.lambda),
            None => a,
        }
    }

    /// The per-sample factor `1/sqrt(E[a²] + λ)` of PSP-LN.
    ///
    /// # Shapes
    ///
    /// - output: `[batch]`
    pub fn sample_scale(&self) -> Option<Tensor<1>> {
        let norm = self
            .norm
            .as_ref()
            .filter(|n| n.kind == PspNormKind::Layer && !n.varying)?;
        Some(inverse_root(norm).reshape([self.events.dims()[0]]))
    }

    /// The per-channel factor `1/sqrt(E[a²] + λ)` of PSP-BN (per neuron of dim 2 onwards for
    /// a flattened map, see [`flatten`](Presynaptic::flatten)).
    ///
    /// # Shapes
    ///
    /// - output: `[channels]` (the product of dims 2.. of the moment)
    pub fn channel_scale(&self) -> Option<Tensor<1>> {
        let norm = self
            .norm
            .as_ref()
            .filter(|n| n.kind == PspNormKind::Batch)?;
        let len: usize = norm.moment.dims()[2..].iter().product();
        Some(inverse_root(norm).reshape([len]))
    }
}

fn inverse_root<const D: usize>(norm: &Moment<D>) -> Tensor<D> {
    norm.moment.clone().add_scalar(norm.lambda).sqrt().recip()
}

impl Presynaptic<5> {
    /// `W ⊛ â` without forming `â`: `ε ∗ (W·diag(c) ⊛ Pool(s))·r_b` (see [`Presynaptic`]), the
    /// convolution event-driven ([`conv2d_events`]), zero padding `padding`, no bias.
    ///
    /// # Shapes
    ///
    /// - `weight`: `[channels_out, channels, k, k]`
    /// - output: `[batch, time, channels_out, height', width']`
    ///
    /// # Panics
    ///
    /// As [`conv2d_events`] (a device without event kernels, shapes that disagree).
    pub fn convolve(self, weight: Tensor<4>, options: EventConvOptions) -> Tensor<5> {
        self.convolve_in(weight, options, &mut Clock::Whole)
    }

    /// [`convolve`](Self::convolve) on `clock`.
    pub(crate) fn convolve_in(
        self,
        weight: Tensor<4>,
        options: EventConvOptions,
        clock: &mut Clock,
    ) -> Tensor<5> {
        self.convolve_potential(weight, options, clock)
            .filtered(clock)
    }

    /// [`convolve`](Self::convolve) on `clock`, leaving the output's PSP filter to run later on
    /// a stream (see [`Potential`]).
    pub(crate) fn convolve_potential(
        self,
        weight: Tensor<4>,
        options: EventConvOptions,
        clock: &mut Clock,
    ) -> Potential<5> {
        let [b, ..] = self.events.dims();
        // PSP-BN's factor scales the weights along their input channels.
        let weight = match self.channel_scale() {
            Some(channel) => {
                let inputs = options.weight.channel_dims().1;
                let mut shape = [1; 4];
                shape[inputs] = weight.dims()[inputs];
                weight * channel.reshape(shape)
            }
            None => weight,
        };
        let sample = self
            .sample_scale()
            .unwrap_or_else(|| Tensor::ones([b], &self.events.device()));
        // A factor that changes over time scales the filtered output.
        let varying = self
            .norm
            .as_ref()
            .filter(|n| n.varying)
            .map(|norm| inverse_root(norm).reshape([b, norm.moment.dims()[1], 1, 1, 1]));
        // The PSP (kept for `dense`) is not needed: drop it before the convolution.
        let Self {
            events,
            binary,
            tau_s,
            ..
        } = self;
        // On a whole sequence: left to the next spike generation, which runs the convolution,
        // the filter and the spikes as one op that never writes the synapse's output (and, in
        // training, recomputes it in the backward pass instead of keeping the surrogate).
        if varying.is_none() && !clock.is_stream() {
            let conv = SynapticConv {
                events,
                weight,
                sample,
                options,
                binary,
                tau_s,
            };
            let shape = conv.output_dims();
            return Potential::Synaptic {
                conv: Box::new(conv),
                shape,
            };
        }
        let x = conv2d_events(events, weight, sample, options, binary);
        // On a stream, left unfiltered: the next spike generation takes the filter in the same
        // pass from the stream's state.
        match varying {
            Some(factor) => Potential::Filtered(clock.psp(x, tau_s) * factor),
            None => Potential::Unfiltered { x, tau_s },
        }
    }

    /// `[batch, time, channels, height, width]` → `[batch, time, channels·height·width]` (for a
    /// dense synapse after a map). A per-channel moment becomes per neuron.
    pub fn flatten(self) -> Presynaptic<3> {
        let [b, t, c, h, w] = self.events.dims();
        let flat = |x: Tensor<5>| x.reshape([b, t, c * h * w]);
        Presynaptic {
            events: flat(self.events),
            binary: self.binary,
            psp: self.psp.map(flat),
            norm: self.norm.map(|norm| {
                let moment = match norm.kind {
                    PspNormKind::Layer => {
                        let steps = norm.moment.dims()[1];
                        norm.moment.reshape([b, steps, 1])
                    }
                    PspNormKind::Batch => {
                        norm.moment
                            .expand([1, 1, c, h, w])
                            .reshape([1, 1, c * h * w])
                    }
                };
                Moment {
                    kind: norm.kind,
                    moment,
                    lambda: norm.lambda,
                    varying: norm.varying,
                }
            }),
            tau_s: self.tau_s,
        }
    }
}

impl Presynaptic<3> {
    /// `[batch, time, neurons]` → `[batch, time, neurons, 1, 1]`: every neuron a channel of a
    /// 1×1 map, so that a dense synapse is a 1×1 [`convolve`](Presynaptic::convolve).
    pub fn into_map(self) -> Presynaptic<5> {
        let [b, t, n] = self.events.dims();
        let map = |x: Tensor<3>| x.reshape([b, t, n, 1, 1]);
        Presynaptic {
            events: map(self.events),
            binary: self.binary,
            psp: self.psp.map(map),
            norm: self.norm.map(|norm| {
                let [m0, m1, m2] = norm.moment.dims();
                Moment {
                    kind: norm.kind,
                    moment: norm.moment.reshape([m0, m1, m2, 1, 1]),
                    lambda: norm.lambda,
                    varying: norm.varying,
                }
            }),
            tau_s: self.tau_s,
        }
    }
}

/// A synapse's output potential on a clock, possibly with its PSP filter still to run: on a
/// stream, the filter of an event-driven synapse's output runs in one pass with the next spike
/// generation ([`Clock::psp_spike`]) when nothing acts between them.
#[derive(Clone, Debug)]
pub(crate) enum Potential<const D: usize> {
    /// The potential.
    Filtered(Tensor<D>),
    /// The potential is `ε ∗ x`, with the PSP kernel of `tau_s`.
    Unfiltered {
        /// The synapse's output before the filter.
        x: Tensor<D>,
        /// The PSP time constant.
        tau_s: f64,
    },
    /// The potential is `ε ∗ conv2d_events(…)` of an event-driven synapse on a whole sequence,
    /// not yet computed, reshaped to `shape`: its spikes are one op
    /// ([`conv2d_events_spike`]) that never writes the synapse's output, and whose backward
    /// pass recomputes it.
    Synaptic {
        /// The convolution.
        conv: Box<SynapticConv>,
        /// The potential's shape.
        shape: [usize; D],
    },
}

/// The inputs of an event-driven synapse's convolution ([`conv2d_events`]), kept for
/// [`Potential::Synaptic`].
#[derive(Clone, Debug)]
pub(crate) struct SynapticConv {
    events: Tensor<5>,
    weight: Tensor<4>,
    sample: Tensor<1>,
    options: EventConvOptions,
    binary: bool,
    tau_s: f64,
}

impl SynapticConv {
    /// The output dims: `[batch, time, channels_out, height', width']`.
    fn output_dims(&self) -> [usize; 5] {
        let [b, t, _, h, w] = self.events.dims();
        let EventConvOptions {
            stride,
            padding,
            weight,
            ..
        } = self.options;
        let stored = self.weight.dims();
        let k = stored[2];
        let out = |side: usize| (side + 2 * padding - k) / stride + 1;
        [b, t, stored[weight.channel_dims().0], out(h), out(w)]
    }

    /// The filtered output.
    fn filtered(self, clock: &mut Clock) -> Tensor<5> {
        let y = conv2d_events(
            self.events,
            self.weight,
            self.sample,
            self.options,
            self.binary,
        );
        clock.psp(y, self.tau_s)
    }

    /// The spikes of the filtered output.
    fn spikes(self, cfg: &crate::SrmConfig) -> Tensor<5> {
        conv2d_events_spike(
            self.events,
            self.weight,
            self.sample,
            self.options,
            self.binary,
            self.tau_s,
            cfg,
        )
    }
}

impl<const D: usize> Potential<D> {
    /// The potential itself.
    pub(crate) fn filtered(self, clock: &mut Clock) -> Tensor<D> {
        match self {
            Potential::Filtered(v) => v,
            Potential::Unfiltered { x, tau_s } => clock.psp(x, tau_s),
            Potential::Synaptic { conv, shape } => conv.filtered(clock).reshape(shape),
        }
    }

    /// The spikes of the potential.
    pub(crate) fn spikes(self, clock: &mut Clock, cfg: &crate::SrmConfig) -> Tensor<D> {
        match self {
            Potential::Filtered(v) => clock.spike(v, cfg),
            Potential::Unfiltered { x, tau_s } => clock.psp_spike(x, tau_s, cfg),
            // Only made on a whole sequence (see `convolve_potential`).
            Potential::Synaptic { conv, shape } => conv.spikes(cfg).reshape(shape),
        }
    }

    /// The shape of the potential.
    pub(crate) fn dims(&self) -> [usize; D] {
        match self {
            Potential::Filtered(x) | Potential::Unfiltered { x, .. } => x.dims(),
            Potential::Synaptic { shape, .. } => *shape,
        }
    }

    /// The same potential reshaped (the filter acts on dim 1 only, so a reshape that keeps
    /// dims 0 and 1 commutes with it).
    pub(crate) fn reshape<const D2: usize>(self, shape: [usize; D2]) -> Potential<D2> {
        match self {
            Potential::Filtered(v) => Potential::Filtered(v.reshape(shape)),
            Potential::Unfiltered { x, tau_s } => Potential::Unfiltered {
                x: x.reshape(shape),
                tau_s,
            },
            Potential::Synaptic { conv, shape: old } => {
                let (from, to): (usize, usize) = (old.iter().product(), shape.iter().product());
                assert_eq!(from, to, "Potential::reshape: {old:?} to {shape:?}");
                Potential::Synaptic { conv, shape }
            }
        }
    }
}
