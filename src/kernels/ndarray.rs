//! [`SnnBackend`](super::SnnBackend) for Burn's NdArray CPU backend: the
//! [`cpu`](super::cpu) loops through `TensorData` (one copy in, one copy out at most).

#![allow(deprecated)]

use super::cpu::{CpuKernel, Real, TimeLayout};
use burn::backend::{Backend, NdArray, TensorMetadata, tensor::FloatTensor};
use burn::tensor::{DType, TensorData, read_sync};

/// Runs `kernel` on any backend's tensor by reading it into host memory. `f32` and `f64` run
/// natively; other float types are computed in `f32` and converted back.
fn apply<B: Backend>(x: FloatTensor<B>, kernel: &impl CpuKernel) -> Vec<FloatTensor<B>> {
    let device = x.device();
    let data = read_sync(B::float_into_data(x)).expect("reading a CPU tensor cannot fail");
    let dtype = data.dtype();
    let outputs = match dtype {
        DType::F32 => run_typed::<f32>(&data, kernel),
        DType::F64 => run_typed::<f64>(&data, kernel),
        _ => run_typed::<f32>(&data.convert::<f32>(), kernel)
            .into_iter()
            .map(|out| out.convert_dtype(dtype))
            .collect(),
    };
    outputs
        .into_iter()
        .map(|out| B::float_from_data(out, &device))
        .collect()
}

fn run_typed<F: Real>(data: &TensorData, kernel: &impl CpuKernel) -> Vec<TensorData> {
    let input = data.as_slice::<F>().expect("dtype checked by the caller");
    let layout = TimeLayout::from_dims(data.shape());
    kernel
        .run(input, layout)
        .into_iter()
        .map(|out| TensorData::new(out, data.shape().clone()))
        .collect()
}

super::impl_snn_backend_on_cpu!(NdArray, apply::<NdArray>);
