//! [`CpuHost`] for Burn's Flex CPU backend: the CPU loops read and write the tensors' own
//! storage (no copy for contiguous tensors of the loop's float type).

use super::cpu::Real;
use super::host::CpuHost;
use burn::backend::{Flex, ops::FloatTensorOps, tensor::Device};
use burn::tensor::{Bytes, DType};
use burn_flex::{FlexTensor, Layout};

impl CpuHost for Flex {
    fn read<F: Real, R>(x: FlexTensor, f: impl FnOnce(&[F]) -> R) -> R {
        let x = if x.dtype() == F::dtype() {
            x
        } else {
            Flex::float_cast(x, F::dtype().into())
        };
        let x = x.to_contiguous();
        f(x.as_slice::<F>()
            .expect("a contiguous tensor has a contiguous slice"))
    }

    fn write<F: Real>(values: Vec<F>, shape: &[usize], _device: &Device<Self>) -> FlexTensor {
        FlexTensor::new(
            Bytes::from_elems(values),
            Layout::contiguous(shape.into()),
            F::dtype(),
        )
    }

    fn read_bytes<R>(x: FlexTensor, f: impl FnOnce(&[u8]) -> R) -> R {
        let x = x.to_contiguous();
        f(x.as_slice::<u8>().expect("a u8 tensor made by write_bytes"))
    }

    fn write_bytes(bytes: Vec<u8>, _device: &Device<Self>) -> FlexTensor {
        let len = bytes.len();
        FlexTensor::new(
            Bytes::from_elems(bytes),
            Layout::contiguous([len].into()),
            DType::U8,
        )
    }
}

super::host::impl_cpu_backend!(Flex);
