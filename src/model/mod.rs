//! Networks: architecture strings, plain and residual networks, the model choice of a run,
//! decoding, losses, firing rates.

mod architecture;
mod decode;
mod loss;
mod network;
mod paper;
mod rates;
mod resnet;
mod spec;
mod stream;

pub use architecture::*;
pub use decode::*;
pub use loss::*;
pub use network::*;
pub use paper::*;
pub use rates::*;
pub use resnet::*;
pub use spec::*;
pub use stream::*;
