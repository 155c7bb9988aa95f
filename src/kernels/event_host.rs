//! [`EventBackend`](super::EventBackend) for the CPU backends: the [`event`](super::event)
//! loops on the tensors' host memory, or the backend's dense convolution above
//! [`dense_above_density`](event::dense_above_density).

use super::cpu::{self, Real, TimeLayout};
use super::event::{self, ConvGeometry};
use super::input_grad;
use burn::backend::{
    Backend, TensorMetadata,
    tensor::{Device, FloatTensor, IntTensor},
};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, FloatDType, Shape};

/// Host access to a CPU backend's float tensors.
pub(crate) trait HostTensors: Backend {
    /// Runs `f` on the tensor's values, row-major, as `F` (converted if the dtype differs).
    fn with_host<F: Real, R>(x: FloatTensor<Self>, f: impl FnOnce(&[F]) -> R) -> R;

    /// A contiguous tensor of `values` with `shape` on `device`.
    fn from_host<F: Real>(
        values: Vec<F>,
        shape: &[usize],
        device: &Device<Self>,
    ) -> FloatTensor<Self>;

    /// A `u8` integer tensor of `bytes`, shape `[len]`, on `device`.
    fn bytes_from_host(bytes: Vec<u8>, device: &Device<Self>) -> IntTensor<Self>;

    /// Runs `f` on the bytes of a `u8` integer tensor made by
    /// [`bytes_from_host`](HostTensors::bytes_from_host).
    fn with_host_bytes<R>(x: IntTensor<Self>, f: impl FnOnce(&[u8]) -> R) -> R;
}

/// [`EventBackend::pack_spikes`](super::EventBackend::pack_spikes) on a CPU backend.
pub(crate) fn pack_spikes<B: HostTensors>(x: FloatTensor<B>) -> IntTensor<B> {
    let device = x.device();
    let bits = if x.dtype() == DType::F64 {
        B::with_host::<f64, _>(x, event::pack_bits)
    } else {
        B::with_host::<f32, _>(x, event::pack_bits)
    };
    B::bytes_from_host(bits, &device)
}

/// [`EventBackend::unpack_spikes`](super::EventBackend::unpack_spikes) on a CPU backend.
pub(crate) fn unpack_spikes<B: HostTensors>(
    bits: IntTensor<B>,
    shape: Shape,
    dtype: FloatDType,
) -> FloatTensor<B> {
    let device = bits.device();
    let dims = shape.to_vec();
    let len: usize = dims.iter().product();
    let y = if dtype == FloatDType::F64 {
        let v = B::with_host_bytes(bits, |b| event::unpack_bits::<f64>(b, len));
        B::from_host(v, &dims, &device)
    } else {
        let v = B::with_host_bytes(bits, |b| event::unpack_bits::<f32>(b, len));
        B::from_host(v, &dims, &device)
    };
    cast_back::<B>(y, DType::from(dtype))
}

fn options(stride: usize, padding: usize) -> ConvOptions<2> {
    ConvOptions::new([stride; 2], [padding; 2], [1, 1], 1)
}

fn geometry(x: &[usize], weight: &[usize], stride: usize, padding: usize) -> ConvGeometry {
    ConvGeometry {
        channels_in: x[2],
        channels_out: weight[0],
        height: x[3],
        width: x[4],
        kernel: weight[2],
        stride,
        padding,
    }
}

/// Casts to `f32` unless the tensor is `f32` or `f64`; returns the dtype to cast back to.
fn compute_dtype<B: Backend>(x: FloatTensor<B>) -> (FloatTensor<B>, DType) {
    let dtype = x.dtype();
    match dtype {
        DType::F32 | DType::F64 => (x, dtype),
        _ => (B::float_cast(x, FloatDType::F32), dtype),
    }
}

fn cast_back<B: Backend>(y: FloatTensor<B>, dtype: DType) -> FloatTensor<B> {
    if y.dtype() == dtype {
        y
    } else {
        B::float_cast(y, dtype.into())
    }
}

fn is_sparse<B: HostTensors>(x: &FloatTensor<B>) -> bool {
    let x = x.clone();
    let density = if x.dtype() == DType::F64 {
        B::with_host::<f64, _>(x, event::estimate_density)
    } else {
        B::with_host::<f32, _>(x, event::estimate_density)
    };
    density <= event::dense_above_density()
}

/// [`EventBackend::event_conv2d`](super::EventBackend::event_conv2d) on a CPU backend.
pub(crate) fn conv2d<B: HostTensors>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    scale: FloatTensor<B>,
    stride: usize,
    padding: usize,
) -> FloatTensor<B> {
    let dims: [usize; 5] = x.shape().dims();
    let [b, t, ci, h, w] = dims;
    if !is_sparse::<B>(&x) {
        let y = B::conv2d(
            B::float_reshape(x, [b * t, ci, h, w].into()),
            weight,
            None,
            options(stride, padding),
        );
        let [_, co, ho, wo]: [usize; 4] = y.shape().dims();
        return super::scale_samples::<B>(B::float_reshape(y, [b, t, co, ho, wo].into()), scale);
    }
    let g = geometry(&dims, &weight.shape().to_vec(), stride, padding);
    let shape = [b, t, g.channels_out, g.height_out(), g.width_out()];
    on_host::<B>(x, weight, scale, &shape, Forward { g, t })
}

/// A loop of [`event`] on three host slices, for `f32` or `f64`.
trait HostKernel {
    fn run<F: Real>(&self, a: &[F], b: &[F], c: &[F]) -> Vec<F>;
}

/// [`event::conv2d`] on `(x, weight, scale)`.
struct Forward {
    g: ConvGeometry,
    t: usize,
}

impl HostKernel for Forward {
    fn run<F: Real>(&self, x: &[F], weight: &[F], scale: &[F]) -> Vec<F> {
        event::conv2d(x, weight, scale, self.t, &self.g)
    }
}

/// [`event::conv2d_weight_grad`] on `(x, grad, scale)`.
struct WeightGrad {
    g: ConvGeometry,
    t: usize,
}

impl HostKernel for WeightGrad {
    fn run<F: Real>(&self, x: &[F], grad: &[F], scale: &[F]) -> Vec<F> {
        event::conv2d_weight_grad(x, grad, scale, self.t, &self.g)
    }
}

/// Runs `kernel` on the host values of `a`, `b`, `c` in the float type of `a` (`f32` for half
/// precision) and returns a tensor of `shape` in that type.
fn on_host<B: HostTensors>(
    a: FloatTensor<B>,
    b: FloatTensor<B>,
    c: FloatTensor<B>,
    shape: &[usize],
    kernel: impl HostKernel,
) -> FloatTensor<B> {
    fn typed<B: HostTensors, F: Real>(
        a: FloatTensor<B>,
        b: FloatTensor<B>,
        c: FloatTensor<B>,
        shape: &[usize],
        kernel: impl HostKernel,
    ) -> FloatTensor<B> {
        let device = a.device();
        let y = B::with_host::<F, _>(a, |a| {
            B::with_host::<F, _>(b, |b| B::with_host::<F, _>(c, |c| kernel.run(a, b, c)))
        });
        B::from_host(y, shape, &device)
    }
    let (a, dtype) = compute_dtype::<B>(a);
    let y = if dtype == DType::F64 {
        typed::<B, f64>(a, b, c, shape, kernel)
    } else {
        typed::<B, f32>(a, b, c, shape, kernel)
    };
    cast_back::<B>(y, dtype)
}

/// [`EventBackend::event_conv2d_weight_grad`](super::EventBackend::event_conv2d_weight_grad) on
/// a CPU backend.
pub(crate) fn conv2d_weight_grad<B: HostTensors>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    grad: FloatTensor<B>,
    scale: FloatTensor<B>,
    stride: usize,
    padding: usize,
) -> FloatTensor<B> {
    let dims: [usize; 5] = x.shape().dims();
    let [b, t, ci, h, w] = dims;
    let weight_dims = weight.shape().to_vec();
    if !is_sparse::<B>(&x) {
        let [_, _, co, ho, wo]: [usize; 5] = grad.shape().dims();
        let grad = super::scale_samples::<B>(grad, scale);
        return B::conv2d_weight_backward(
            B::float_reshape(x, [b * t, ci, h, w].into()),
            weight,
            B::float_reshape(grad, [b * t, co, ho, wo].into()),
            options(stride, padding),
        );
    }
    let g = geometry(&dims, &weight_dims, stride, padding);
    on_host::<B>(x, grad, scale, &weight_dims, WeightGrad { g, t })
}

/// [`EventBackend::event_conv2d_input_grad`](super::EventBackend::event_conv2d_input_grad) on a
/// CPU backend: [`input_grad::conv2d_input_grad`] where it applies, the backend's dense
/// transposed convolution otherwise.
pub(crate) fn conv2d_input_grad<B: HostTensors>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    grad: FloatTensor<B>,
    scale: FloatTensor<B>,
    stride: usize,
    padding: usize,
    scale_grad: bool,
) -> (FloatTensor<B>, FloatTensor<B>) {
    let dims: [usize; 5] = x.shape().dims();
    let g = geometry(&dims, &weight.shape().to_vec(), stride, padding);
    if !input_grad::supports(&g) {
        return super::dense_input_grad::<B>(x, weight, grad, scale, stride, padding, scale_grad);
    }
    fn typed<B: HostTensors, F: Real>(
        x: FloatTensor<B>,
        weight: FloatTensor<B>,
        grad: FloatTensor<B>,
        scale: FloatTensor<B>,
        g: &ConvGeometry,
        scale_grad: bool,
    ) -> (FloatTensor<B>, FloatTensor<B>) {
        let dims: [usize; 5] = x.shape().dims();
        let device = grad.device();
        let run = |x: Option<&[F]>| {
            B::with_host::<F, _>(grad, |grad| {
                B::with_host::<F, _>(weight, |weight| {
                    B::with_host::<F, _>(scale, |scale| {
                        input_grad::conv2d_input_grad(grad, weight, scale, x, dims[1], g)
                    })
                })
            })
        };
        let (dx, sums) = if scale_grad {
            B::with_host::<F, _>(x, |x| run(Some(x)))
        } else {
            run(None)
        };
        let sums = sums.unwrap_or_else(|| vec![F::ZERO; dims[0]]);
        (
            B::from_host(dx, &dims, &device),
            B::from_host(sums, &[dims[0]], &device),
        )
    }
    let (grad, dtype) = compute_dtype::<B>(grad);
    let (dx, sums) = if dtype == DType::F64 {
        typed::<B, f64>(x, weight, grad, scale, &g, scale_grad)
    } else {
        typed::<B, f32>(x, weight, grad, scale, &g, scale_grad)
    };
    (cast_back::<B>(dx, dtype), cast_back::<B>(sums, dtype))
}

/// [`EventBackend::psp_moment`](super::EventBackend::psp_moment) on a CPU backend: without
/// pooling one pass that never writes the PSP ([`cpu::psp_moment`]), with pooling the tensor
/// operations.
pub(crate) fn psp_moment<B: HostTensors + super::SnnBackend>(
    x: FloatTensor<B>,
    tau_s: f64,
    pool: usize,
    per_sample: bool,
) -> FloatTensor<B> {
    if pool > 1 {
        return super::psp_moment_of_tensors::<B>(x, tau_s, pool, per_sample);
    }
    fn typed<B: HostTensors, F: Real>(
        x: FloatTensor<B>,
        tau_s: f64,
        per_sample: bool,
    ) -> FloatTensor<B> {
        let (dims, device) = (x.shape().to_vec(), x.device());
        let groups = if per_sample { dims[0] } else { dims[2] };
        let layout = TimeLayout::from_dims(&dims);
        let m = B::with_host::<F, _>(x, |x| {
            cpu::psp_moment(x, layout, tau_s, per_sample, dims[2])
        });
        B::from_host(m, &[groups], &device)
    }
    let (x, dtype) = compute_dtype::<B>(x);
    let y = if dtype == DType::F64 {
        typed::<B, f64>(x, tau_s, per_sample)
    } else {
        typed::<B, f32>(x, tau_s, per_sample)
    };
    cast_back::<B>(y, dtype)
}

/// [`EventBackend::psp_moment_backward`](super::EventBackend::psp_moment_backward) on a CPU
/// backend: without pooling [`cpu::psp_moment_backward`] (one pass, recompute and adjoint per
/// block), with pooling the tensor operations.
pub(crate) fn psp_moment_backward<B: HostTensors + super::SnnBackend>(
    x: FloatTensor<B>,
    grad: FloatTensor<B>,
    tau_s: f64,
    pool: usize,
    per_sample: bool,
) -> FloatTensor<B> {
    if pool > 1 {
        return super::psp_moment_backward_of_tensors::<B>(x, grad, tau_s, pool, per_sample);
    }
    fn typed<B: HostTensors, F: Real>(
        x: FloatTensor<B>,
        grad: FloatTensor<B>,
        tau_s: f64,
        per_sample: bool,
    ) -> FloatTensor<B> {
        let (dims, device) = (x.shape().to_vec(), x.device());
        let layout = TimeLayout::from_dims(&dims);
        let dx = B::with_host::<F, _>(x, |x| {
            B::with_host::<F, _>(grad, |grad| {
                cpu::psp_moment_backward(x, layout, tau_s, per_sample, dims[2], grad)
            })
        });
        B::from_host(dx, &dims, &device)
    }
    let (x, dtype) = compute_dtype::<B>(x);
    let y = if dtype == DType::F64 {
        typed::<B, f64>(x, grad, tau_s, per_sample)
    } else {
        typed::<B, f32>(x, grad, tau_s, per_sample)
    };
    cast_back::<B>(y, dtype)
}

/// Implements [`EventBackend`](super::EventBackend) for a CPU backend that implements
/// [`HostTensors`].
macro_rules! impl_event_backend_on_cpu {
    ($backend:ty) => {
        impl $crate::kernels::EventBackend for $backend {
            fn event_conv2d(
                x: burn::backend::tensor::FloatTensor<Self>,
                weight: burn::backend::tensor::FloatTensor<Self>,
                scale: burn::backend::tensor::FloatTensor<Self>,
                stride: usize,
                padding: usize,
                _binary: bool,
            ) -> burn::backend::tensor::FloatTensor<Self> {
                $crate::kernels::event_host::conv2d::<Self>(x, weight, scale, stride, padding)
            }

            fn event_conv2d_weight_grad(
                x: burn::backend::tensor::FloatTensor<Self>,
                weight: burn::backend::tensor::FloatTensor<Self>,
                grad: burn::backend::tensor::FloatTensor<Self>,
                scale: burn::backend::tensor::FloatTensor<Self>,
                stride: usize,
                padding: usize,
            ) -> burn::backend::tensor::FloatTensor<Self> {
                $crate::kernels::event_host::conv2d_weight_grad::<Self>(
                    x, weight, grad, scale, stride, padding,
                )
            }

            fn event_conv2d_input_grad(
                x: burn::backend::tensor::FloatTensor<Self>,
                weight: burn::backend::tensor::FloatTensor<Self>,
                grad: burn::backend::tensor::FloatTensor<Self>,
                scale: burn::backend::tensor::FloatTensor<Self>,
                stride: usize,
                padding: usize,
                scale_grad: bool,
            ) -> (
                burn::backend::tensor::FloatTensor<Self>,
                burn::backend::tensor::FloatTensor<Self>,
            ) {
                $crate::kernels::event_host::conv2d_input_grad::<Self>(
                    x, weight, grad, scale, stride, padding, scale_grad,
                )
            }

            fn psp_moment(
                x: burn::backend::tensor::FloatTensor<Self>,
                tau_s: f64,
                pool: usize,
                per_sample: bool,
                _binary: bool,
            ) -> burn::backend::tensor::FloatTensor<Self> {
                $crate::kernels::event_host::psp_moment::<Self>(x, tau_s, pool, per_sample)
            }

            fn psp_moment_backward(
                x: burn::backend::tensor::FloatTensor<Self>,
                grad: burn::backend::tensor::FloatTensor<Self>,
                tau_s: f64,
                pool: usize,
                per_sample: bool,
            ) -> burn::backend::tensor::FloatTensor<Self> {
                $crate::kernels::event_host::psp_moment_backward::<Self>(
                    x, grad, tau_s, pool, per_sample,
                )
            }

            fn pack_spikes(
                x: burn::backend::tensor::FloatTensor<Self>,
            ) -> burn::backend::tensor::IntTensor<Self> {
                $crate::kernels::event_host::pack_spikes::<Self>(x)
            }

            fn unpack_spikes(
                bits: burn::backend::tensor::IntTensor<Self>,
                shape: burn::tensor::Shape,
                dtype: burn::tensor::FloatDType,
            ) -> burn::backend::tensor::FloatTensor<Self> {
                $crate::kernels::event_host::unpack_spikes::<Self>(bits, shape, dtype)
            }
        }
    };
}
pub(crate) use impl_event_backend_on_cpu;
