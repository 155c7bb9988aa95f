use crate::kernels::EventBackend;
use burn::backend::{Dispatch, DispatchDevice};
use burn::tensor::{Device, Tensor};

/// Whether `device` has the event-driven synapse kernels: the CPU backends (Flex, NdArray),
/// with or without autodiff. On other devices synapses run their dense convolution.
pub fn has_event_kernels(device: &Device) -> bool {
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
/// [`dense_above_density`](crate::kernels::event::dense_above_density) nonzeros the backend's
/// dense convolution runs instead (same result). This is what lets a synapse convolve a layer's
/// spikes instead of their PSP (`conv(ε ∗ s) = ε ∗ conv(s)`, see
/// [`Presynaptic`](crate::neuron::Presynaptic)).
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
/// # Panics
///
/// If `device` has no event kernels ([`has_event_kernels`]), the shapes disagree, the kernel
/// is not square, the stride is 0 or the padded map is smaller than the kernel.
#[track_caller]
pub fn conv2d_events(
    x: Tensor<5>,
    weight: Tensor<4>,
    scale: Tensor<1>,
    stride: usize,
    padding: usize,
) -> Tensor<5> {
    let dims = x.dims();
    let [co, ci, k, k2] = weight.dims();
    assert!(
        has_event_kernels(&x.device()),
        "conv2d_events: the event kernels run on the CPU backends (Flex, NdArray), got {:?}",
        x.device()
    );
    assert!(
        dims[2] == ci && k == k2 && co > 0 && k > 0,
        "conv2d_events: expected x [batch, time, {ci}, height, width] and a square kernel, got x {dims:?} and weight {:?}",
        [co, ci, k, k2]
    );
    assert!(
        scale.dims() == [dims[0]],
        "conv2d_events: expected scale of shape [{}], got {:?}",
        dims[0],
        scale.dims()
    );
    assert!(
        stride > 0 && dims[3] + 2 * padding >= k && dims[4] + 2 * padding >= k,
        "conv2d_events: stride must be > 0 and the padded map at least the kernel, got stride {stride}, padding {padding}, kernel {k}, map {:?}",
        &dims[3..]
    );
    Tensor::from_dispatch(<Dispatch as EventBackend>::event_conv2d(
        x.into_dispatch(),
        weight.into_dispatch(),
        scale.into_dispatch(),
        stride,
        padding,
    ))
}
