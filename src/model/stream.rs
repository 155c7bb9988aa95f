//! Streaming inference: a network run step by step on a live input, from a state that carries
//! every temporal operation from one chunk of steps to the next.

use super::{SnnModel, SpikingNetwork, SpikingResNet};
use crate::functional::{Calibration, CausalLayerNorm, Clock, StreamState};
use burn::tensor::{Device, Tensor};

/// Why a stream cannot take a chunk.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// BNTT normalizes each time step with its own statistics, learned for `limit` steps: a
    /// stream cannot go past them.
    #[error(
        "this network has statistics for {limit} time steps (BNTT), but the stream has seen {seen} and the chunk has {asked} more; reset the stream"
    )]
    PastLimit {
        /// Steps with statistics.
        limit: usize,
        /// Steps the stream has seen.
        seen: usize,
        /// Steps of the refused chunk.
        asked: usize,
    },
}

mod sealed {
    use crate::functional::Clock;
    use burn::tensor::Tensor;

    /// The forward pass on a clock, which only the crate's networks implement.
    pub trait Forward {
        /// The network's forward pass on `clock`.
        fn forward_on(&self, input: Tensor<5>, clock: &mut Clock) -> Tensor<3>;
    }
}

/// Streaming inference, for every network the crate builds: the output spikes of each time
/// step as the input arrives, with memory that does not grow with the stream's length.
///
/// A [`StreamState`] made by [`stream`](Self::stream) holds what every temporal operation
/// carries to the next step (the PSP filters' traces, the refractory responses, causal
/// statistics). [`step`](Self::step) runs one time step, [`forward_chunk`](Self::forward_chunk)
/// `k` steps at once (the same result, fewer calls), [`StreamState::reset`] starts a new
/// stream. The CPU backends run the event-driven synapse on every step, so a step costs in
/// proportion to its spikes; GPU backends run the dense path.
///
/// Exact where the math allows: without normalization, with PSP-BN (its running moment), BN
/// and tdBN (their running statistics) and BNTT (within its `num_steps`), the streamed output
/// spikes are those of [`forward`](SpikingNetwork::forward) on the whole sequence (tested in
/// f64 on N-MNIST recordings, `tests/streaming.rs`). PSP-LN's statistic looks at the whole
/// sequence; a stream uses its causal form, [`CausalLayerNorm`].
///
/// Streaming is inference: use the model on a device without autodiff (e.g. `model.valid()`).
///
/// # Example
///
/// ```
/// use burn::tensor::{Device, Distribution, Tensor};
/// use burn_snn::model::{SpikingNetworkConfig, Streaming};
/// use burn_snn::neuron::LayerSettings;
/// use burn_snn::norm::Normalization;
///
/// let device = Device::default();
/// let net = SpikingNetworkConfig::new("8x8x2-n4c3-10".parse().unwrap())
///     .with_settings(LayerSettings::new().with_norm(Normalization::None))
///     .init(&device);
/// let input = Tensor::<5>::random([1, 20, 2, 8, 8], Distribution::Bernoulli(0.1), &device);
///
/// let mut stream = net.stream(1, &device);
/// let mut steps: Vec<Tensor<3>> = Vec::new();
/// for t in 0..20 {
///     let frame: Tensor<4> = input.clone().slice([0..1, t..t + 1]).reshape([1, 2, 8, 8]);
///     steps.push(net.step(&mut stream, frame).unwrap().unsqueeze_dim(1));
/// }
/// let streamed = Tensor::cat(steps, 1);
/// assert_eq!(streamed.into_data(), net.forward(input).into_data());
/// ```
pub trait Streaming: sealed::Forward {
    /// The input of one step: `[channels, height, width]`.
    fn input_shape(&self) -> [usize; 3];

    /// The most time steps a stream may run (BNTT's `num_steps`), or `None` for no limit.
    fn stream_limit(&self) -> Option<usize>;

    /// A stream at rest for `batch` samples on `device`, PSP-LN in its default causal form.
    fn stream(&self, batch: usize, device: &Device) -> StreamState {
        StreamState::new(batch, device)
    }

    /// The next `k` steps of the stream: output spikes for input spikes.
    ///
    /// # Shapes
    ///
    /// - `input`: `[batch, k, channels, height, width]`, `k ≥ 1`
    /// - output: `[batch, k, classes]`
    ///
    /// # Errors
    ///
    /// [`StreamError::PastLimit`] when the chunk would take a BNTT network past its
    /// `num_steps`; the state is left as it was.
    ///
    /// # Panics
    ///
    /// If the input's shape does not match the network or the state's batch size, it has no
    /// step, or it lives on an autodiff device.
    fn forward_chunk(
        &self,
        state: &mut StreamState,
        input: Tensor<5>,
    ) -> Result<Tensor<3>, StreamError> {
        let [b, k, c, h, w] = input.dims();
        let [ec, eh, ew] = self.input_shape();
        assert!(
            [c, h, w] == [ec, eh, ew] && b == state.batch() && k > 0,
            "Streaming: expected input [{}, k >= 1, {ec}, {eh}, {ew}] for this network and stream, got {:?}",
            state.batch(),
            input.dims()
        );
        assert!(
            !input.device().is_autodiff(),
            "Streaming: a stream is inference; run it on a device without autodiff (e.g. the model's `valid()`), got {:?}",
            input.device()
        );
        if let Some(limit) = self.stream_limit()
            && state.steps() + k > limit
        {
            return Err(StreamError::PastLimit {
                limit,
                seen: state.steps(),
                asked: k,
            });
        }
        state.begin();
        let out = self.forward_on(input, &mut Clock::Stream(state));
        state.end(k);
        Ok(out)
    }

    /// The next step of the stream.
    ///
    /// # Shapes
    ///
    /// - `input`: `[batch, channels, height, width]`
    /// - output: `[batch, classes]`
    ///
    /// # Errors and panics
    ///
    /// As [`forward_chunk`](Self::forward_chunk).
    fn step(&self, state: &mut StreamState, input: Tensor<4>) -> Result<Tensor<2>, StreamError> {
        let out = self.forward_chunk(state, input.unsqueeze_dim(1))?;
        let [b, _, n] = out.dims();
        Ok(out.reshape([b, n]))
    }

    /// PSP-LN's calibrated causal form ([`CausalLayerNorm::Calibrated`]): each PSP-LN layer's
    /// whole-sequence statistic averaged over the samples of `batches` (e.g. a few hundred
    /// training samples). A network without PSP-LN gets an empty calibration.
    ///
    /// # Shapes
    ///
    /// - each batch: `[batch, time, channels, height, width]`
    ///
    /// # Panics
    ///
    /// If `batches` is empty.
    fn calibrate_layer_norm(
        &self,
        batches: impl IntoIterator<Item = Tensor<5>>,
    ) -> CausalLayerNorm {
        let mut calibration = Calibration::default();
        let mut any = false;
        for batch in batches {
            calibration.begin(batch.dims()[0]);
            let _ = self.forward_on(batch, &mut Clock::Calibrate(&mut calibration));
            any = true;
        }
        assert!(any, "calibrate_layer_norm: no calibration batch");
        calibration.finish()
    }
}

impl sealed::Forward for SpikingNetwork {
    fn forward_on(&self, input: Tensor<5>, clock: &mut Clock) -> Tensor<3> {
        self.forward_in(input, clock)
    }
}

impl Streaming for SpikingNetwork {
    fn input_shape(&self) -> [usize; 3] {
        self.input
    }

    fn stream_limit(&self) -> Option<usize> {
        SpikingNetwork::stream_limit(self)
    }
}

impl sealed::Forward for SpikingResNet {
    fn forward_on(&self, input: Tensor<5>, clock: &mut Clock) -> Tensor<3> {
        self.forward_in(input, clock)
    }
}

impl Streaming for SpikingResNet {
    fn input_shape(&self) -> [usize; 3] {
        self.input
    }

    fn stream_limit(&self) -> Option<usize> {
        SpikingResNet::stream_limit(self)
    }
}

impl sealed::Forward for SnnModel {
    fn forward_on(&self, input: Tensor<5>, clock: &mut Clock) -> Tensor<3> {
        match self {
            SnnModel::Plain(net) => net.forward_in(input, clock),
            SnnModel::Residual(net) => net.forward_in(input, clock),
        }
    }
}

impl Streaming for SnnModel {
    fn input_shape(&self) -> [usize; 3] {
        match self {
            SnnModel::Plain(net) => net.input,
            SnnModel::Residual(net) => net.input,
        }
    }

    fn stream_limit(&self) -> Option<usize> {
        match self {
            SnnModel::Plain(net) => net.stream_limit(),
            SnnModel::Residual(net) => net.stream_limit(),
        }
    }
}
