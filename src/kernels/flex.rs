//! [`SnnBackend`](super::SnnBackend) for Burn's Flex CPU backend: the [`cpu`](super::cpu) loops on the tensor's own storage.

use super::cpu::{CpuKernel, Real, TimeLayout};
use burn::backend::{Flex, ops::FloatTensorOps};
use burn::tensor::{Bytes, DType, FloatDType};
use burn_flex::{FlexTensor, Layout};

/// Runs `kernel` on `x` without copying it when it is contiguous. `f32` and `f64` run natively;
/// half-precision tensors are computed in `f32` and cast back.
fn apply<const N: usize>(x: FlexTensor, kernel: &impl CpuKernel<N>) -> [FlexTensor; N] {
    match x.dtype() {
        DType::F32 => apply_typed::<f32, N>(x, kernel),
        DType::F64 => apply_typed::<f64, N>(x, kernel),
        dtype => {
            let x = Flex::float_cast(x, FloatDType::F32);
            apply_typed::<f32, N>(x, kernel).map(|y| Flex::float_cast(y, dtype.into()))
        }
    }
}

fn apply_typed<F: Real, const N: usize>(
    x: FlexTensor,
    kernel: &impl CpuKernel<N>,
) -> [FlexTensor; N] {
    let x = x.to_contiguous();
    let shape = x.layout().shape().clone();
    let layout = TimeLayout::from_dims(&shape);
    let input = x
        .as_slice::<F>()
        .expect("a contiguous tensor has a contiguous slice");
    kernel.run(input, layout).map(|out| {
        FlexTensor::new(
            Bytes::from_elems(out),
            Layout::contiguous(shape.clone()),
            x.dtype(),
        )
    })
}

super::impl_snn_backend_on_cpu!(Flex, apply);

impl super::event_host::HostTensors for Flex {
    fn with_host<F: Real, R>(x: FlexTensor, f: impl FnOnce(&[F]) -> R) -> R {
        let x = if x.dtype() == F::dtype() {
            x
        } else {
            Flex::float_cast(x, F::dtype().into())
        };
        let x = x.to_contiguous();
        f(x.as_slice::<F>()
            .expect("a contiguous tensor has a contiguous slice"))
    }

    fn from_host<F: Real>(
        values: Vec<F>,
        shape: &[usize],
        _device: &burn::backend::tensor::Device<Self>,
    ) -> FlexTensor {
        FlexTensor::new(
            Bytes::from_elems(values),
            Layout::contiguous(shape.into()),
            F::dtype(),
        )
    }

    fn bytes_from_host(
        bytes: Vec<u8>,
        _device: &burn::backend::tensor::Device<Self>,
    ) -> FlexTensor {
        let len = bytes.len();
        FlexTensor::new(
            Bytes::from_elems(bytes),
            Layout::contiguous([len].into()),
            DType::U8,
        )
    }

    fn with_host_bytes<R>(x: FlexTensor, f: impl FnOnce(&[u8]) -> R) -> R {
        let x = x.to_contiguous();
        f(x.as_slice::<u8>()
            .expect("a u8 tensor made by bytes_from_host"))
    }
}

super::event_host::impl_event_backend_on_cpu!(Flex);
