//! The `#[cube]` kernels. Reference: the CPU loops in `kernels/cpu.rs`.

use cubecl::prelude::*;

/// Alpha-PSP filter (or its adjoint when `reverse == 1`) of one neuron column per thread.
/// `columns = batch × neurons`; `q = e^{−1/τs}`, `gain = (e/τs)·q`. With `carry`, the two
/// traces start from `state_in` (`[batch, 2, neurons]`: `w`, then `z`) and end in `state_out`;
/// otherwise they start at zero and neither is touched (one-element placeholders).
#[cube(launch)]
pub fn psp_filter_kernel<F: Float>(
    x: &Tensor<F>,
    y: &mut Tensor<F>,
    state_in: &Tensor<F>,
    state_out: &mut Tensor<F>,
    q: f32,
    gain: f32,
    neurons: u32,
    time: u32,
    columns: u32,
    reverse: u32,
    #[comptime] carry: bool,
    #[define(F)] _dtype: ElemType,
) {
    let column = ABSOLUTE_POS as u32;
    if column >= columns {
        terminate!();
    }
    let q = F::cast_from(q);
    let gain = F::cast_from(gain);
    let b = column / neurons;
    let n = column % neurons;
    let base = b * time * neurons + n;
    let carried = (b * 2 * neurons + n) as usize;
    let mut w = F::new(0.0);
    let mut z = F::new(0.0);
    if carry {
        w = state_in[carried];
        z = state_in[carried + neurons as usize];
    }
    for step in 0..time {
        let mut t = step;
        if reverse == 1 {
            t = time - 1 - step;
        }
        let index = (base + t * neurons) as usize;
        let w_prev = w;
        z = q * z + w_prev;
        w = q * w_prev + x[index];
        y[index] = gain * z;
    }
    if carry {
        state_out[carried] = w;
        state_out[carried + neurons as usize] = z;
    }
}

/// Spikes with the refractory response, one neuron column per thread; with `surrogate`, also
/// the SLAYER surrogate `ρ(u) = (1/α)·exp(−|u−θ|/β)` of every step into `rho` (otherwise `rho`
/// is not touched and may be a one-element placeholder). With `carry`, the refractory
/// response starts from `state_in` (`[batch, 1, neurons]`) and ends in `state_out`; otherwise it
/// starts at zero and both are placeholders.
#[cube(launch)]
pub fn spike_kernel<F: Float>(
    v: &Tensor<F>,
    spikes: &mut Tensor<F>,
    rho: &mut Tensor<F>,
    state_in: &Tensor<F>,
    state_out: &mut Tensor<F>,
    theta: f32,
    decay: f32,
    inv_alpha: f32,
    inv_beta: f32,
    neurons: u32,
    time: u32,
    columns: u32,
    #[comptime] surrogate: bool,
    #[comptime] carry: bool,
    #[define(F)] _dtype: ElemType,
) {
    let column = ABSOLUTE_POS as u32;
    if column >= columns {
        terminate!();
    }
    let theta = F::cast_from(theta);
    let decay = F::cast_from(decay);
    let inv_alpha = F::cast_from(inv_alpha);
    let neg_inv_beta = F::new(0.0) - F::cast_from(inv_beta);
    let reset = F::new(-2.0) * theta;
    let base = (column / neurons) * time * neurons + column % neurons;
    let mut r = F::new(0.0);
    if carry {
        r = state_in[column as usize];
    }
    for t in 0..time {
        let index = (base + t * neurons) as usize;
        let u = v[index] + r;
        let mut fired = F::new(0.0);
        if u >= theta {
            fired = F::new(1.0);
        }
        spikes[index] = fired;
        if surrogate {
            rho[index] = inv_alpha * (F::abs(u - theta) * neg_inv_beta).exp();
        }
        r = decay * (r + reset * fired);
    }
    if carry {
        state_out[column as usize] = r;
    }
}

/// The PSP filter then spike generation of one neuron column per thread, from the carried
/// state `state_in` (`[batch, 3, neurons]`: the filter's traces `w`, `z`, then the refractory
/// response `r`) to `state_out`; `x` is a synapse's output before its filter. The arithmetic
/// of [`psp_filter_kernel`] then [`spike_kernel`], without writing the potential.
#[cube(launch)]
pub fn psp_spike_kernel<F: Float>(
    x: &Tensor<F>,
    spikes: &mut Tensor<F>,
    state_in: &Tensor<F>,
    state_out: &mut Tensor<F>,
    q: f32,
    gain: f32,
    theta: f32,
    decay: f32,
    neurons: u32,
    time: u32,
    columns: u32,
    #[define(F)] _dtype: ElemType,
) {
    let column = ABSOLUTE_POS as u32;
    if column >= columns {
        terminate!();
    }
    let q = F::cast_from(q);
    let gain = F::cast_from(gain);
    let theta = F::cast_from(theta);
    let decay = F::cast_from(decay);
    let reset = F::new(-2.0) * theta;
    let b = column / neurons;
    let n = column % neurons;
    let base = b * time * neurons + n;
    let carried = (b * 3 * neurons + n) as usize;
    let stride = neurons as usize;
    let mut w = state_in[carried];
    let mut z = state_in[carried + stride];
    let mut r = state_in[carried + 2 * stride];
    for t in 0..time {
        let index = (base + t * neurons) as usize;
        let w_prev = w;
        z = q * z + w_prev;
        w = q * w_prev + x[index];
        let u = gain * z + r;
        let mut fired = F::new(0.0);
        if u >= theta {
            fired = F::new(1.0);
        }
        spikes[index] = fired;
        r = decay * (r + reset * fired);
    }
    state_out[carried] = w;
    state_out[carried + stride] = z;
    state_out[carried + 2 * stride] = r;
}
