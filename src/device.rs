//! The CPU device of the backend this crate was built with.

use burn::tensor::Device;

/// The CPU device: Flex (feature `flex`, the default), else NdArray (feature `ndarray`), else
/// Burn's default device (a build with `wgpu` only).
///
/// Call [`memory::keep_freed_memory`](crate::memory::keep_freed_memory) once at the start of a
/// CPU training program as well; this function only picks the device.
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
