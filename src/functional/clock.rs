//! How a forward pass treats time: a whole sequence from rest, or the next chunk of a stream.

use super::{psp, psp_carry, psp_spike_carry, spike, spike_carry};
use crate::SrmConfig;
use burn::tensor::{DType, Device, Tensor};

/// The state of a stream: what every temporal operation of a network carries from one chunk
/// of time steps to the next (the PSP filters' traces, the refractory responses, the running
/// statistics of a causal normalization), and the number of steps seen.
///
/// Made for one network and one batch size by the network's `stream` method
/// ([`Streaming::stream`](crate::model::Streaming::stream)); its
/// memory does not grow with the stream's length: one tensor per temporal operation, shaped
/// like one time step of the operation's input (times its number of traces).
#[derive(Clone, Debug)]
pub struct StreamState {
    batch: usize,
    device: Device,
    /// PSP-LN's causal form.
    layer_norm: CausalLayerNorm,
    /// The next calibrated PSP-LN moment of the current chunk.
    next_calibrated: usize,
    /// The operations' states `[batch, traces, neurons]`, in the order a forward pass uses
    /// them; filled by the first chunk.
    slots: Vec<Tensor<3>>,
    /// The next slot of the current chunk.
    next: usize,
    /// Steps before the current chunk.
    steps: usize,
}

impl StreamState {
    /// A stream at rest (no step seen) of `batch` samples on `device`.
    pub fn new(batch: usize, device: &Device) -> Self {
        assert!(batch > 0, "StreamState: batch must be > 0, got 0");
        Self {
            batch,
            device: device.clone(),
            layer_norm: CausalLayerNorm::default(),
            next_calibrated: 0,
            slots: Vec::new(),
            next: 0,
            steps: 0,
        }
    }

    /// With another causal form of PSP-LN (default: [`CausalLayerNorm::default`]).
    pub fn with_layer_norm(mut self, form: CausalLayerNorm) -> Self {
        self.layer_norm = form;
        self
    }

    /// PSP-LN's causal form.
    pub fn layer_norm(&self) -> &CausalLayerNorm {
        &self.layer_norm
    }

    /// Samples per step.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// The device the state lives on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Time steps seen since the start (or the last [`reset`](Self::reset)).
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Back to rest, as at the start of a new stream (keeps the batch size and device).
    pub fn reset(&mut self) {
        self.slots.clear();
        self.next = 0;
        self.steps = 0;
    }

    /// Bytes the state holds (constant once the first chunk has run).
    pub fn memory_bytes(&self) -> usize {
        self.slots
            .iter()
            .map(|s| s.shape().num_elements() * s.dtype().size())
            .sum()
    }

    /// Starts a chunk.
    pub(crate) fn begin(&mut self) {
        self.next = 0;
        self.next_calibrated = 0;
    }

    /// Ends the chunk begun last, of `steps` steps.
    ///
    /// # Panics
    /// If the chunk used fewer states than the first one (a different network).
    pub(crate) fn end(&mut self, steps: usize) {
        assert!(
            self.next == self.slots.len(),
            "StreamState: this chunk used {} of the stream's {} operation states; a stream state belongs to the network that made it",
            self.next,
            self.slots.len()
        );
        self.steps += steps;
    }

    /// The next operation's state for an input of shape `dims` (`[batch, k, ...]`), with
    /// `traces` traces per neuron: zeros on the first chunk.
    fn take<const D: usize>(&mut self, dims: [usize; D], traces: usize, dtype: DType) -> Tensor<D> {
        let mut shape = dims;
        shape[1] = traces;
        let neurons: usize = dims[2..].iter().product();
        if self.next == self.slots.len() {
            self.slots.push(Tensor::zeros(
                [self.batch, traces, neurons],
                (&self.device, dtype),
            ));
        }
        let slot = self.slots[self.next].clone();
        assert!(
            slot.dims() == [dims[0], traces, neurons],
            "StreamState: operation {} of this network has state {:?}, but its input now has shape {dims:?}; a stream state belongs to the network and batch size that made it",
            self.next,
            slot.dims()
        );
        slot.reshape(shape)
    }

    /// `op` of `x` from the next operation's state (`traces` per neuron), keeping the state it
    /// returns for the next chunk.
    fn carry<const D: usize>(
        &mut self,
        x: Tensor<D>,
        traces: usize,
        op: impl FnOnce(Tensor<D>, Tensor<D>) -> (Tensor<D>, Tensor<D>),
    ) -> Tensor<D> {
        let carried = self.take(x.dims(), traces, x.dtype());
        let (y, next) = op(x, carried);
        self.put(next);
        y
    }

    /// Stores the state [`take`](Self::take) lent, after the chunk.
    fn put<const D: usize>(&mut self, state: Tensor<D>) {
        let [b, traces] = [state.dims()[0], state.dims()[1]];
        let neurons = state.shape().num_elements() / (b * traces);
        self.slots[self.next] = state.reshape([b, traces, neurons]);
        self.next += 1;
    }
}

/// The causal form PSP-LN takes on a stream.
///
/// PSP-LN's statistic (eq. 20, per sample) is the mean of `a²` over the sample's neurons and
/// all its time steps, so the whole-sequence forward looks ahead; a stream cannot.
///
/// Measured on trained N-MNIST networks (the `stream` example, `docs/streaming.md`): a
/// constant statistic per layer ([`Trained`](Self::Trained), [`Calibrated`](Self::Calibrated))
/// keeps the whole-sequence accuracy within a few points, where the running statistic loses
/// up to 48 points on a deep network (its first steps see tiny statistics and over-amplify).
/// The default is [`Trained`](Self::Trained): it needs no data at inference and lets the
/// PSP filter and spike generation run fused.
#[derive(Clone, Debug, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub enum CausalLayerNorm {
    /// The running average of the samples' statistic over the training batches, kept by each
    /// PSP-LN layer like PSP-BN's running moment (`PspNorm::running_moment`). A model trained
    /// before this average existed holds its initial value, 1: calibrate it instead.
    #[default]
    Trained,
    /// The mean of `a²` over the sample's neurons and the steps seen so far (`t' ≤ t`),
    /// updated every step: at the sequence's last step it equals the whole-sequence statistic.
    Running,
    /// A constant second moment per PSP-LN layer, in the order the forward pass meets them:
    /// the mean over calibration samples of each layer's whole-sequence statistic (see the
    /// networks' `calibrate_layer_norm`).
    Calibrated(Vec<f64>),
}

/// How a forward pass treats time. The modules' forward passes take it down to their temporal
/// operations ([`psp`](Self::psp), [`spike`](Self::spike)), so that one code path serves the
/// whole-sequence forward and streaming.
///
/// Public only to be named by the sealed part of
/// [`Streaming`](crate::model::Streaming); users never build one.
#[derive(Debug)]
pub enum Clock<'a> {
    /// The whole sequence at once: every temporal operation starts from rest.
    Whole,
    /// The next chunk of a stream: every temporal operation continues from the state.
    Stream(&'a mut StreamState),
    /// The whole sequence, recording PSP-LN's statistics for a calibration.
    Calibrate(&'a mut Calibration),
}

/// PSP-LN's whole-sequence statistics collected over calibration batches: per PSP-LN layer
/// (in the order a forward pass meets them) the sum of the samples' second moments.
#[derive(Debug, Default)]
pub struct Calibration {
    sums: Vec<f64>,
    samples: usize,
    next: usize,
}

impl Calibration {
    /// Starts a batch of `samples` samples.
    pub(crate) fn begin(&mut self, samples: usize) {
        self.next = 0;
        self.samples += samples;
    }

    /// The mean moment per layer, as PSP-LN's calibrated causal form.
    ///
    /// # Panics
    /// If no batch was recorded.
    pub(crate) fn finish(self) -> CausalLayerNorm {
        CausalLayerNorm::Calibrated(
            self.sums
                .iter()
                .map(|sum| sum / self.samples as f64)
                .collect(),
        )
    }
}

impl Clock<'_> {
    /// The PSP of `x` ([`psp`], or [`psp_carry`] from the stream's state).
    pub(crate) fn psp<const D: usize>(&mut self, x: Tensor<D>, tau_s: f64) -> Tensor<D> {
        match self {
            Clock::Whole | Clock::Calibrate(_) => psp(x, tau_s),
            Clock::Stream(state) => state.carry(x, 2, |x, s| psp_carry(x, s, tau_s)),
        }
    }

    /// The spikes of `v` ([`spike`], or [`spike_carry`] from the stream's state).
    pub(crate) fn spike<const D: usize>(&mut self, v: Tensor<D>, cfg: &SrmConfig) -> Tensor<D> {
        match self {
            Clock::Whole | Clock::Calibrate(_) => spike(v, cfg),
            Clock::Stream(state) => state.carry(v, 1, |v, s| spike_carry(v, s, cfg)),
        }
    }

    /// The spikes of the PSP of `x` (a synapse's output before its filter): in one pass from
    /// the stream's state ([`psp_spike_carry`]) on a stream, otherwise [`spike`] of [`psp`].
    pub(crate) fn psp_spike<const D: usize>(
        &mut self,
        x: Tensor<D>,
        tau_s: f64,
        cfg: &SrmConfig,
    ) -> Tensor<D> {
        match self {
            Clock::Whole | Clock::Calibrate(_) => spike(psp(x, tau_s), cfg),
            Clock::Stream(state) => state.carry(x, 3, |x, s| psp_spike_carry(x, s, tau_s, cfg)),
        }
    }

    /// The index of the input's first time step in the sequence (0 for a whole sequence).
    pub(crate) fn start(&self) -> usize {
        match self {
            Clock::Whole | Clock::Calibrate(_) => 0,
            Clock::Stream(state) => state.steps,
        }
    }

    /// PSP-LN's causal form on a stream (`None` for a whole sequence).
    pub(crate) fn layer_norm(&self) -> Option<&CausalLayerNorm> {
        match self {
            Clock::Whole | Clock::Calibrate(_) => None,
            Clock::Stream(state) => Some(&state.layer_norm),
        }
    }

    /// The next calibrated PSP-LN moment of a stream.
    ///
    /// # Panics
    /// If the calibration holds fewer moments than the network has PSP-LN layers.
    pub(crate) fn calibrated_moment(&mut self) -> f64 {
        let Clock::Stream(state) = self else {
            unreachable!("a calibrated moment is asked for on a stream only")
        };
        let CausalLayerNorm::Calibrated(moments) = &state.layer_norm else {
            unreachable!("asked for a calibrated moment without a calibration")
        };
        let i = state.next_calibrated;
        assert!(
            i < moments.len(),
            "StreamState: the PSP-LN calibration holds {} moment(s), but this network has more PSP-LN layers; calibrate it on this network",
            moments.len()
        );
        state.next_calibrated += 1;
        moments[i]
    }

    /// The running sums over time of `x` (`[batch, k]`, one value per sample and step) from
    /// the stream's state: `y[b, t] = Σ_{t' ≤ t} x[b, t']` over every step since the start.
    pub(crate) fn running_sum(&mut self, x: Tensor<2>) -> Tensor<2> {
        let Clock::Stream(state) = self else {
            return x.cumsum(1);
        };
        let [b, k] = x.dims();
        let carried: Tensor<2> = state.take([b, k], 1, x.dtype());
        let sums = x.cumsum(1) + carried;
        state.put(sums.clone().slice([0..b, k - 1..k]));
        sums
    }

    /// Records a PSP-LN statistic of the whole sequence (`[batch, 1, ...]`) when calibrating.
    pub(crate) fn record_layer_moment<const D: usize>(&mut self, moment: &Tensor<D>) {
        let Clock::Calibrate(calibration) = self else {
            return;
        };
        let sum: f64 = moment.clone().detach().sum().into_scalar::<f64>();
        let i = calibration.next;
        if i == calibration.sums.len() {
            calibration.sums.push(0.0);
        }
        calibration.sums[i] += sum;
        calibration.next += 1;
    }

    /// Whether this is a stream.
    pub(crate) fn is_stream(&self) -> bool {
        matches!(self, Clock::Stream(_))
    }
}
