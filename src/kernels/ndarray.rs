//! [`CpuHost`] for Burn's NdArray CPU backend: the CPU loops through `TensorData` (one copy in,
//! one copy out at most).

#![allow(deprecated)]

use super::cpu::Real;
use super::host::CpuHost;
use burn::backend::{
    NdArray,
    ops::{FloatTensorOps, IntTensorOps},
    tensor::{Device, FloatTensor, IntTensor},
};
use burn::tensor::{TensorData, read_sync};

impl CpuHost for NdArray {
    fn read<F: Real, R>(x: FloatTensor<Self>, f: impl FnOnce(&[F]) -> R) -> R {
        let data = read_sync(Self::float_into_data(x)).expect("reading a CPU tensor cannot fail");
        let data = if data.dtype() == F::dtype() {
            data
        } else {
            data.convert::<F>()
        };
        f(data.as_slice::<F>().expect("converted to F"))
    }

    fn write<F: Real>(values: Vec<F>, shape: &[usize], device: &Device<Self>) -> FloatTensor<Self> {
        Self::float_from_data(TensorData::new(values, shape.to_vec()), device)
    }

    fn read_bytes<R>(x: IntTensor<Self>, f: impl FnOnce(&[u8]) -> R) -> R {
        let data = read_sync(Self::int_into_data(x)).expect("reading a CPU tensor cannot fail");
        let data = data.convert::<u8>();
        f(data.as_slice::<u8>().expect("converted to u8"))
    }

    fn write_bytes(bytes: Vec<u8>, device: &Device<Self>) -> IntTensor<Self> {
        let len = bytes.len();
        Self::int_from_data(TensorData::new(bytes, [len]), device)
    }
}

super::host::impl_cpu_backend!(NdArray);
