//! [`SnnBackend`](super::SnnBackend) for Burn's NdArray CPU backend: the
//! [`cpu`](super::cpu) loops through `TensorData` (one copy in, one copy out at most).

#![allow(deprecated)]

use super::cpu::{CpuKernel, Real, TimeLayout};
use burn::backend::{
    Backend, NdArray, TensorMetadata,
    ops::{FloatTensorOps, IntTensorOps},
    tensor::{FloatTensor, IntTensor},
};
use burn::tensor::{DType, TensorData, read_sync};

/// Runs `kernel` on any backend's tensor by reading it into host memory. `f32` and `f64` run
/// natively; other float types are computed in `f32` and converted back.
fn apply<B: Backend, const N: usize>(
    x: FloatTensor<B>,
    kernel: &impl CpuKernel<N>,
) -> [FloatTensor<B>; N] {
    let device = x.device();
    let data = read_sync(B::float_into_data(x)).expect("reading a CPU tensor cannot fail");
    let dtype = data.dtype();
    let outputs = match dtype {
        DType::F32 => run_typed::<f32, N>(&data, kernel),
        DType::F64 => run_typed::<f64, N>(&data, kernel),
        _ => {
            run_typed::<f32, N>(&data.convert::<f32>(), kernel).map(|out| out.convert_dtype(dtype))
        }
    };
    outputs.map(|out| B::float_from_data(out, &device))
}

fn run_typed<F: Real, const N: usize>(
    data: &TensorData,
    kernel: &impl CpuKernel<N>,
) -> [TensorData; N] {
    let input = data.as_slice::<F>().expect("dtype checked by the caller");
    let layout = TimeLayout::from_dims(data.shape());
    kernel
        .run(input, layout)
        .map(|out| TensorData::new(out, data.shape().clone()))
}

super::impl_snn_backend_on_cpu!(NdArray, apply::<NdArray, _>);

impl super::event_host::HostTensors for NdArray {
    fn with_host<F: Real, R>(x: FloatTensor<Self>, f: impl FnOnce(&[F]) -> R) -> R {
        let data = read_sync(Self::float_into_data(x)).expect("reading a CPU tensor cannot fail");
        let data = if data.dtype() == F::dtype() {
            data
        } else {
            data.convert::<F>()
        };
        f(data.as_slice::<F>().expect("converted to F"))
    }

    fn from_host<F: Real>(
        values: Vec<F>,
        shape: &[usize],
        device: &burn::backend::tensor::Device<Self>,
    ) -> FloatTensor<Self> {
        Self::float_from_data(TensorData::new(values, shape.to_vec()), device)
    }

    fn bytes_from_host(
        bytes: Vec<u8>,
        device: &burn::backend::tensor::Device<Self>,
    ) -> IntTensor<Self> {
        let len = bytes.len();
        Self::int_from_data(TensorData::new(bytes, [len]), device)
    }

    fn with_host_bytes<R>(x: IntTensor<Self>, f: impl FnOnce(&[u8]) -> R) -> R {
        let data = read_sync(Self::int_into_data(x)).expect("reading a CPU tensor cannot fail");
        let data = data.convert::<u8>();
        f(data.as_slice::<u8>().expect("converted to u8"))
    }
}

super::event_host::impl_event_backend_on_cpu!(NdArray);
