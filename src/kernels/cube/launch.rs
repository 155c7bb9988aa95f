//! Launching the kernels on a `CubeBackend` tensor.

use super::kernel::{psp_filter_kernel, psp_spike_kernel, spike_kernel};
use crate::kernels::addressable::check_addressable;
use crate::kernels::cpu::TimeLayout;
use crate::kernels::{SnnBackend, SpikeParams};
use burn::backend::cubecl::dtype_to_storage_type;
use burn::backend::tensor::FloatTensor;
use burn_cubecl::CubeBackend;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_dtype;
use burn_cubecl::tensor::CubeTensor;
use cubecl::calculate_cube_count_elemwise;
use cubecl::client::Client;
use cubecl::prelude::*;

/// Threads per work group.
const WORKGROUP: u32 = 256;

/// The launch grid for one thread per column: as many 256-thread work groups as needed,
/// spread over the grid's dimensions within the device's limits (a 1-D grid stops at 65,535
/// groups, i.e. 16.7 M columns). The kernels take their column from `ABSOLUTE_POS`, which is
/// linear over the whole grid, and return early past the last column.
fn launch_grid(client: &Client, columns: usize) -> (CubeCount, CubeDim, u64) {
    let dim = CubeDim::new_1d(WORKGROUP);
    let count = calculate_cube_count_elemwise(client, columns.max(1), dim);
    let groups = match count {
        CubeCount::Static(x, y, z) => x as u64 * y as u64 * z as u64,
        CubeCount::Dynamic(_) => unreachable!("calculate_cube_count_elemwise gives a static count"),
    };
    (count, dim, groups * WORKGROUP as u64)
}

/// The contiguous input, its `[B, T, N]` view, an empty output like it, and the launch grid
/// (one thread per column).
fn prepare(x: CubeTensor) -> (CubeTensor, TimeLayout, CubeCount, CubeDim, u32) {
    // Checked before `into_contiguous`, which would materialize a broadcast view.
    let layout = TimeLayout::from_dims(x.meta.shape());
    let columns = layout.batch * layout.neurons;
    let (count, dim, threads) = launch_grid(&x.client, columns);
    check_addressable(x.meta.shape(), threads);
    let x = into_contiguous(x);
    (x, layout, count, dim, columns as u32)
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
    fn psp_filter(x: FloatTensor<Self>, tau_s: f64, reverse: bool) -> FloatTensor<Self> {
        psp_filter(x, None, tau_s, reverse).0
    }

    fn spike_fire(v: FloatTensor<Self>, params: SpikeParams) -> FloatTensor<Self> {
        spike(v, None, params, false).0
    }

    fn spike_fire_surrogate(
        v: FloatTensor<Self>,
        params: SpikeParams,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let (spikes, rho, _) = spike(v, None, params, true);
        (spikes, rho)
    }

    fn psp_filter_carry(
        x: FloatTensor<Self>,
        state: FloatTensor<Self>,
        tau_s: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        psp_filter(x, Some(state), tau_s, false)
    }

    fn spike_fire_carry(
        v: FloatTensor<Self>,
        state: FloatTensor<Self>,
        params: SpikeParams,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let (spikes, _, state) = spike(v, Some(state), params, false);
        (spikes, state)
    }

    fn psp_spike_carry(
        x: FloatTensor<Self>,
        state: FloatTensor<Self>,
        tau_s: f64,
        params: SpikeParams,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let (x, layout, count, dim, columns) = prepare(x);
        let spikes = empty_like(&x);
        let (state_in, state_out, _) = carried(&x, Some(state));
        if layout.len() == 0 {
            return (spikes, state_in);
        }
        let decay = (-1.0 / tau_s).exp();
        psp_spike_kernel::launch(
            &x.client,
            count,
            dim,
            x.clone().into_tensor_arg(),
            spikes.clone().into_tensor_arg(),
            state_in.into_tensor_arg(),
            state_out.clone().into_tensor_arg(),
            decay as f32,
            (core::f64::consts::E / tau_s * decay) as f32,
            params.theta as f32,
            (-1.0 / params.tau_r).exp() as f32,
            layout.neurons as u32,
            layout.time as u32,
            columns,
            dtype_to_storage_type(x.dtype),
        );
        (spikes, state_out)
    }
}

/// A one-element placeholder for a buffer a kernel does not touch.
fn placeholder(x: &CubeTensor) -> CubeTensor {
    empty_device_dtype(x.client.clone(), x.device.clone(), [1].into(), x.dtype)
}

/// The carried state (contiguous) and an empty buffer for the new one, or placeholders.
fn carried(x: &CubeTensor, state: Option<CubeTensor>) -> (CubeTensor, CubeTensor, bool) {
    match state {
        Some(state) => {
            check_addressable(state.meta.shape(), 0);
            let state = into_contiguous(state);
            let out = empty_like(&state);
            (state, out, true)
        }
        None => (placeholder(x), placeholder(x), false),
    }
}

/// The PSP filter, from a carried state when `state` is given; returns the output and the new
/// state (a placeholder without one).
fn psp_filter(
    x: CubeTensor,
    state: Option<CubeTensor>,
    tau_s: f64,
    reverse: bool,
) -> (CubeTensor, CubeTensor) {
    let (x, layout, count, dim, columns) = prepare(x);
    let y = empty_like(&x);
    let (state_in, state_out, carry) = carried(&x, state);
    if layout.len() == 0 {
        return (y, state_in);
    }
    // The kernels compute in f32 (WGSL has no f64): the parameters are rounded here, once.
    let decay = (-1.0 / tau_s).exp();
    psp_filter_kernel::launch(
        &x.client,
        count,
        dim,
        x.clone().into_tensor_arg(),
        y.clone().into_tensor_arg(),
        state_in.into_tensor_arg(),
        state_out.clone().into_tensor_arg(),
        decay as f32,
        (core::f64::consts::E / tau_s * decay) as f32,
        layout.neurons as u32,
        layout.time as u32,
        columns,
        u32::from(reverse),
        carry,
        dtype_to_storage_type(x.dtype),
    );
    (y, state_out)
}

/// Spikes, the surrogate when `surrogate` (else a one-element placeholder that is never
/// written), and the new refractory state when `state` is given (else a placeholder).
fn spike(
    v: CubeTensor,
    state: Option<CubeTensor>,
    params: SpikeParams,
    surrogate: bool,
) -> (CubeTensor, CubeTensor, CubeTensor) {
    let SpikeParams {
        theta,
        tau_r,
        alpha,
        beta,
    } = params;
    let (v, layout, count, dim, columns) = prepare(v);
    let spikes = empty_like(&v);
    let rho = if surrogate {
        empty_like(&v)
    } else {
        placeholder(&v)
    };
    let (state_in, state_out, carry) = carried(&v, state);
    if layout.len() == 0 {
        return (spikes, rho, state_in);
    }
    spike_kernel::launch(
        &v.client,
        count,
        dim,
        v.clone().into_tensor_arg(),
        spikes.clone().into_tensor_arg(),
        rho.clone().into_tensor_arg(),
        state_in.into_tensor_arg(),
        state_out.clone().into_tensor_arg(),
        theta as f32,
        (-1.0 / tau_r).exp() as f32,
        (1.0 / alpha) as f32,
        (1.0 / beta) as f32,
        layout.neurons as u32,
        layout.time as u32,
        columns,
        surrogate,
        carry,
        dtype_to_storage_type(v.dtype),
    );
    (spikes, rho, state_out)
}
