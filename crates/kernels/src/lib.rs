//! nasc's CPU kernels on plain f32 slices, channels-last (NHWC): convolution (im2col + gemm,
//! direct depthwise), max/average pooling and training-mode batch norm, each with its backward pass. No burn types here:
//! `nasc::lower::cpu` wraps them as a burn backend extension with autodiff. A crate of its own
//! so that debug builds (tests) still compile these loops fully optimised.

pub mod conv;
pub mod norm;
pub mod pool;

pub use conv::ConvGeom;
pub use pool::PoolGeom;
