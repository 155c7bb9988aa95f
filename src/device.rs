//! The CPU device of the backend this crate was built with, and the floating-point setup of
//! CPU training.

use burn::tensor::Device;

/// The CPU device: Flex (feature `flex`, the default), else NdArray (feature `ndarray`), else
/// Burn's default device (a build with `wgpu` only).
///
/// Call [`memory::keep_freed_memory`](crate::memory::keep_freed_memory) and
/// [`flush_denormals`] once at the start of a CPU training program as well; this function only
/// picks the device.
///
/// ```
/// let device = burn_snn::device::cpu();
/// let x = burn::tensor::Tensor::<2>::zeros([2, 3], &device);
/// assert_eq!(x.dims(), [2, 3]);
/// ```
pub fn cpu() -> Device {
    #[cfg(feature = "flex")]
    return Device::flex();
    #[cfg(all(not(feature = "flex"), feature = "ndarray"))]
    #[allow(deprecated)]
    return Device::ndarray();
    #[cfg(not(any(feature = "flex", feature = "ndarray")))]
    return Device::default();
}

/// Whether `device` (with or without autodiff) is a CUDA device, from its backend variant:
/// what Burn's DDP collectives need.
///
/// ```
/// assert!(!burn_snn::device::is_cuda(&burn_snn::device::cpu()));
/// ```
pub fn is_cuda(device: &Device) -> bool {
    #[allow(unused_imports)]
    use burn::backend::DispatchDevice;
    match device.clone().inner().as_dispatch() {
        #[cfg(feature = "cuda")]
        DispatchDevice::Cube(cubecl::Device::Cuda(_)) => true,
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

/// Makes the CPU treat subnormal ("denormal") `f32`/`f64` values as zero, in inputs and
/// results (x86-64 SSE: MXCSR flush-to-zero and denormals-are-zero), on the calling thread and
/// on every thread of rayon's global pool (which Burn's CPU backends and their matrix
/// multiplications use). Threads created later by the calling thread inherit the setting.
///
/// Why: the surrogate gradient `(1/α)·exp(−|u − θ|/β)` and its products through many layers
/// drift below `f32`'s normal range (1.2e-38) as training proceeds; every operation on such a
/// value takes a microcode assist about a hundred times slower than a normal one. In the
/// 13-layer N-MNIST network at T = 100 (`benches/train_step.rs`) the backward pass grew from
/// 10 s to 28, 49 and 85 s over the first four steps; flushed, it stays at 9.2–10 s. Values
/// that small are far below anything the loss or the optimizer can resolve, so training is
/// unaffected except in the last bits of results that underflow anyway.
///
/// Call it once at the start of a CPU training program (the examples do). Returns whether it
/// applied: `true` on x86-64, `false` elsewhere (a no-op; AArch64 would need FPCR.FZ).
pub fn flush_denormals() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        // Bits 15 (flush to zero) and 6 (denormals are zero) of MXCSR.
        #[allow(deprecated)]
        fn set() {
            // SAFETY: MXCSR is per-thread state; setting FTZ and DAZ changes only how this
            // thread rounds subnormal values, and SSE2 is part of the x86-64 baseline.
            unsafe {
                use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};
                _mm_setcsr(_mm_getcsr() | 0x8040);
            }
        }
        set();
        rayon::broadcast(|_| set());
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}
