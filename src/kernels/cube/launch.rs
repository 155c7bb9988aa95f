//! Launching the kernels on a `CubeBackend` tensor.

use super::kernel::{psp_filter_kernel, spike_kernel};
use crate::kernels::SnnBackend;
use crate::kernels::cpu::TimeLayout;
use burn::backend::cubecl::dtype_to_storage_type;
use burn::backend::tensor::FloatTensor;
use burn_cubecl::CubeBackend;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_dtype;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

/// Threads per work group.
const WORKGROUP: u32 = 256;

/// The contiguous input, its `[B, T, N]` view, an empty output like it, and the launch grid
/// (one thread per column).
fn prepare(x: CubeTensor) -> (CubeTensor, TimeLayout, CubeCount, CubeDim, u32) {
    let x = into_contiguous(x);
    let layout = TimeLayout::from_dims(x.meta.shape());
    let columns = (layout.batch * layout.neurons) as u32;
    let groups = columns.div_ceil(WORKGROUP).max(1);
    (
        x,
        layout,
        CubeCount::Static(groups, 1, 1),
        CubeDim::new_1d(WORKGROUP),
        columns,
    )
}

fn empty_like(x: &CubeTensor) -> CubeTensor {
    empty_device_dtype(
        x.client.clone(),
        x.device.clone(),
        x.meta.shape().clone(),
        x.dtype,
    )
}

impl SnnBackend for CubeBackend {
    fn psp_filter(x: FloatTensor<Self>, tau_s: f32, reverse: bool) -> FloatTensor<Self> {
        let (x, layout, count, dim, columns) = prepare(x);
        let y = empty_like(&x);
        if layout.is_empty() {
            return y;
        }
        let decay = (-1.0 / tau_s as f64).exp();
        psp_filter_kernel::launch(
            &x.client,
            count,
            dim,
            x.clone().into_tensor_arg(),
            y.clone().into_tensor_arg(),
            decay as f32,
            (core::f64::consts::E / tau_s as f64 * decay) as f32,
            layout.neurons as u32,
            layout.time as u32,
            columns,
            u32::from(reverse),
            dtype_to_storage_type(x.dtype),
        );
        y
    }

    fn spike_fire(
        v: FloatTensor<Self>,
        theta: f32,
        tau_r: f32,
        alpha: f32,
        beta: f32,
    ) -> FloatTensor<Self> {
        let (spikes, _) = spike(v, theta, tau_r, alpha, beta, false);
        spikes
    }

    fn spike_fire_surrogate(
        v: FloatTensor<Self>,
        theta: f32,
        tau_r: f32,
        alpha: f32,
        beta: f32,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        spike(v, theta, tau_r, alpha, beta, true)
    }
}

/// Spikes, and the surrogate when `surrogate` (else a one-element placeholder that is never
/// written).
fn spike(
    v: CubeTensor,
    theta: f32,
    tau_r: f32,
    alpha: f32,
    beta: f32,
    surrogate: bool,
) -> (CubeTensor, CubeTensor) {
    let (v, layout, count, dim, columns) = prepare(v);
    let spikes = empty_like(&v);
    let rho = if surrogate {
        empty_like(&v)
    } else {
        empty_device_dtype(v.client.clone(), v.device.clone(), [1].into(), v.dtype)
    };
    if layout.is_empty() {
        return (spikes, rho);
    }
    spike_kernel::launch(
        &v.client,
        count,
        dim,
        v.clone().into_tensor_arg(),
        spikes.clone().into_tensor_arg(),
        rho.clone().into_tensor_arg(),
        theta,
        (-1.0 / tau_r as f64).exp() as f32,
        1.0 / alpha,
        1.0 / beta,
        layout.neurons as u32,
        layout.time as u32,
        columns,
        surrogate,
        dtype_to_storage_type(v.dtype),
    );
    (spikes, rho)
}
