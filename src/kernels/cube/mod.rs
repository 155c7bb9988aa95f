//! [`SnnBackend`](super::SnnBackend) for CubeCL backends (burn-wgpu, with or without Burn's
//! fusion): one GPU thread per neuron column.
//!
//! With the `[batch, time, neurons...]` layout, thread `i` owns sample `i / N`, neuron `i % N`
//! and walks time sequentially, keeping the filter or refractory state in registers. At each
//! step the threads of a work group read and write neighbouring neurons of one time row, so
//! global memory accesses are coalesced, and every element is read and written exactly once.
//!
//! The launch grid spreads the work groups over the grid's dimensions within the device's
//! limits (a one-dimensional grid stops at 65,535 groups of 256 threads, 16.7 M columns); the
//! kernels index with 32-bit offsets, so a tensor may hold at most 2³² − 1 elements: a larger one
//! is refused with a panic naming its shape (split the batch).
//!
//! Limits: the time loop is sequential, so parallelism is `batch × neurons`. Layers with few
//! neurons and long T (e.g. a 10-neuron output layer at batch 10: 100 threads) leave a large
//! GPU mostly idle; those layers are also the cheapest, so a training step is dominated by the
//! wide convolutional layers, where `batch × neurons` is in the hundreds of thousands.

mod kernel;
mod launch;
