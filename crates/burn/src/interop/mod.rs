//! A lowered model for other tools: its weights as named tensors in PyTorch's layout (read and
//! written as safetensors) and the model as a PyTorch module (`--emit torch`).

pub mod npy;
pub mod onnx;
mod onnx_proto;
pub mod torch;
pub mod weights;

#[cfg(test)]
mod tests;
