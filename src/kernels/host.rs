//! The one way the CPU backends run a kernel: host access to a backend's tensors
//! ([`CpuHost`], the only trait a CPU backend implements) and one float-type dispatch
//! ([`run_in`]) that every CPU op goes through.

use super::cpu::{CarryKernel, CpuKernel, Real, TimeLayout};
use burn::backend::{
    Backend, TensorMetadata,
    tensor::{Device, FloatTensor, IntTensor},
};
use burn::tensor::DType;

/// Host access to a CPU backend's tensors: what a CPU backend implements to get every op of
/// [`SnnBackend`](super::SnnBackend) and [`EventBackend`](super::EventBackend)
/// ([`impl_cpu_backend`]).
pub trait CpuHost: Backend {
    /// Runs `f` on the tensor's values, row-major, as `F` (converted first if the dtype
    /// differs; without a copy where the backend allows).
    fn read<F: Real, R>(x: FloatTensor<Self>, f: impl FnOnce(&[F]) -> R) -> R;

    /// A contiguous tensor of `values` (dtype `F`) with `shape` on `device`.
    fn write<F: Real>(values: Vec<F>, shape: &[usize], device: &Device<Self>) -> FloatTensor<Self>;

    /// Runs `f` on the bytes of a `u8` integer tensor made by
    /// [`write_bytes`](CpuHost::write_bytes).
    fn read_bytes<R>(x: IntTensor<Self>, f: impl FnOnce(&[u8]) -> R) -> R;

    /// A `u8` integer tensor of `bytes`, shape `[len]`, on `device`.
    fn write_bytes(bytes: Vec<u8>, device: &Device<Self>) -> IntTensor<Self>;
}

/// An operation on host values that runs in either float type and returns `N` tensors.
pub(crate) trait HostOp<B: CpuHost, const N: usize> {
    /// Runs in `F`; the outputs are tensors of dtype `F`.
    fn run<F: Real>(self) -> [FloatTensor<B>; N];
}

/// The float-type dispatch of every CPU op: runs `op` in `f64` for `f64` tensors and in `f32`
/// otherwise (half-precision tensors are computed in `f32`), and returns its outputs in `dtype`.
pub(crate) fn run_in<B: CpuHost, const N: usize>(
    dtype: DType,
    op: impl HostOp<B, N>,
) -> [FloatTensor<B>; N] {
    let outputs = if dtype == DType::F64 {
        op.run::<f64>()
    } else {
        op.run::<f32>()
    };
    outputs.map(|y| {
        if y.dtype() == dtype {
            y
        } else {
            B::float_cast(y, dtype.into())
        }
    })
}

/// A [`CpuKernel`] on one tensor, as a [`HostOp`]: its outputs have the input's shape.
struct Kernel<'a, B: CpuHost, K> {
    x: FloatTensor<B>,
    kernel: &'a K,
}

impl<B: CpuHost, K: CpuKernel<N>, const N: usize> HostOp<B, N> for Kernel<'_, B, K> {
    fn run<F: Real>(self) -> [FloatTensor<B>; N] {
        let (shape, device) = (self.x.shape().to_vec(), self.x.device());
        let layout = TimeLayout::from_dims(&shape);
        let outputs = B::read::<F, _>(self.x, |x| self.kernel.run(x, layout));
        outputs.map(|y| B::write(y, &shape, &device))
    }
}

/// Runs a [`CpuKernel`] on a CPU backend's tensor.
pub(crate) fn run_kernel<B: CpuHost, K: CpuKernel<N>, const N: usize>(
    x: FloatTensor<B>,
    kernel: &K,
) -> [FloatTensor<B>; N] {
    run_in(x.dtype(), Kernel::<B, K> { x, kernel })
}

/// A [`CarryKernel`] on a tensor and its carried state, as a [`HostOp`]: its outputs have the
/// input's and the state's shapes.
struct Carry<'a, B: CpuHost, K> {
    x: FloatTensor<B>,
    state: FloatTensor<B>,
    kernel: &'a K,
}

impl<B: CpuHost, K: CarryKernel> HostOp<B, 2> for Carry<'_, B, K> {
    fn run<F: Real>(self) -> [FloatTensor<B>; 2] {
        let (shape, device) = (self.x.shape().to_vec(), self.x.device());
        let state_shape = self.state.shape().to_vec();
        let layout = TimeLayout::from_dims(&shape);
        let (y, state) = B::read::<F, _>(self.x, |x| {
            B::read::<F, _>(self.state, |state| self.kernel.run(x, state, layout))
        });
        [
            B::write(y, &shape, &device),
            B::write(state, &state_shape, &device),
        ]
    }
}

/// Runs a [`CarryKernel`] on a CPU backend's tensor from its carried state; returns the output
/// and the new state.
pub(crate) fn run_carry<B: CpuHost, K: CarryKernel>(
    x: FloatTensor<B>,
    state: FloatTensor<B>,
    kernel: &K,
) -> (FloatTensor<B>, FloatTensor<B>) {
    let [y, state] = run_in(x.dtype(), Carry::<B, K> { x, state, kernel });
    (y, state)
}

/// Implements [`SnnBackend`](super::SnnBackend) and [`EventBackend`](super::EventBackend) for
/// a CPU backend that implements [`CpuHost`].
macro_rules! impl_cpu_backend {
    ($backend:ty) => {
        impl $crate::kernels::SnnBackend for $backend {
            fn psp_filter(
                x: burn::backend::tensor::FloatTensor<Self>,
                tau_s: f64,
                reverse: bool,
            ) -> burn::backend::tensor::FloatTensor<Self> {
                let kernel = $crate::kernels::cpu::PspKernel { tau_s, reverse };
                let [y] = $crate::kernels::host::run_kernel::<Self, _, 1>(x, &kernel);
                y
            }

            fn spike_fire(
                v: burn::backend::tensor::FloatTensor<Self>,
                params: $crate::kernels::SpikeParams,
            ) -> burn::backend::tensor::FloatTensor<Self> {
                let kernel = $crate::kernels::cpu::SpikeKernel::<false>(params);
                let [spikes] = $crate::kernels::host::run_kernel::<Self, _, 1>(v, &kernel);
                spikes
            }

            fn spike_fire_surrogate(
                v: burn::backend::tensor::FloatTensor<Self>,
                params: $crate::kernels::SpikeParams,
            ) -> (
                burn::backend::tensor::FloatTensor<Self>,
                burn::backend::tensor::FloatTensor<Self>,
            ) {
                let kernel = $crate::kernels::cpu::SpikeKernel::<true>(params);
                let [spikes, surrogate] =
                    $crate::kernels::host::run_kernel::<Self, _, 2>(v, &kernel);
                (spikes, surrogate)
            }

            fn psp_filter_carry(
                x: burn::backend::tensor::FloatTensor<Self>,
                state: burn::backend::tensor::FloatTensor<Self>,
                tau_s: f64,
            ) -> (
                burn::backend::tensor::FloatTensor<Self>,
                burn::backend::tensor::FloatTensor<Self>,
            ) {
                let kernel = $crate::kernels::cpu::PspKernel {
                    tau_s,
                    reverse: false,
                };
                $crate::kernels::host::run_carry::<Self, _>(x, state, &kernel)
            }

            fn spike_fire_carry(
                v: burn::backend::tensor::FloatTensor<Self>,
                state: burn::backend::tensor::FloatTensor<Self>,
                params: $crate::kernels::SpikeParams,
            ) -> (
                burn::backend::tensor::FloatTensor<Self>,
                burn::backend::tensor::FloatTensor<Self>,
            ) {
                let kernel = $crate::kernels::cpu::SpikeKernel::<false>(params);
                $crate::kernels::host::run_carry::<Self, _>(v, state, &kernel)
            }

            fn psp_spike_carry(
                x: burn::backend::tensor::FloatTensor<Self>,
                state: burn::backend::tensor::FloatTensor<Self>,
                tau_s: f64,
                params: $crate::kernels::SpikeParams,
            ) -> (
                burn::backend::tensor::FloatTensor<Self>,
                burn::backend::tensor::FloatTensor<Self>,
            ) {
                let kernel = $crate::kernels::cpu::PspSpikeKernel { tau_s, params };
                $crate::kernels::host::run_carry::<Self, _>(x, state, &kernel)
            }
        }

        impl $crate::kernels::EventBackend for $backend {
            fn event_conv2d(
                x: burn::backend::tensor::FloatTensor<Self>,
                weight: burn::backend::tensor::FloatTensor<Self>,
                scale: burn::backend::tensor::FloatTensor<Self>,
                options: $crate::kernels::EventConvOptions,
                _binary: bool,
            ) -> burn::backend::tensor::FloatTensor<Self> {
                $crate::kernels::event_host::conv2d::<Self>(
                    $crate::kernels::event_host::Kept::Float(x),
                    weight,
                    scale,
                    options,
                )
            }

            fn event_conv2d_spike(
                x: burn::backend::tensor::FloatTensor<Self>,
                weight: burn::backend::tensor::FloatTensor<Self>,
                scale: burn::backend::tensor::FloatTensor<Self>,
                options: $crate::kernels::EventConvOptions,
                _binary: bool,
                tau_s: f64,
                params: $crate::kernels::SpikeParams,
            ) -> burn::backend::tensor::FloatTensor<Self> {
                $crate::kernels::event_host::conv2d_spike::<Self>(
                    $crate::kernels::event_host::Kept::Float(x),
                    weight,
                    scale,
                    options,
                    tau_s,
                    params,
                )
            }

            fn psp_moment(
                x: burn::backend::tensor::FloatTensor<Self>,
                tau_s: f64,
                pool: usize,
                per_sample: bool,
                _binary: bool,
            ) -> burn::backend::tensor::FloatTensor<Self> {
                let dtype = burn::backend::TensorMetadata::dtype(&x);
                $crate::kernels::event_host::psp_moment::<Self>(
                    $crate::kernels::event_host::Kept::Float(x),
                    dtype,
                    tau_s,
                    pool,
                    per_sample,
                )
            }
        }
    };
}
pub(crate) use impl_cpu_backend;
