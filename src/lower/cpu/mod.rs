//! nasc's own CPU kernels for the ops that dominate training time on burn's `flex` backend:
//! convolutions and pools on channels-last tensors, with hand-written backward passes.
//!
//! burn-flex runs convolutions channels-first and derives their gradients from generic
//! transposed convolutions, so the lowering permuted every activation around every conv and pool
//! and spent most of a step in the backward pass (`benches/README.md` has the profile). Here the
//! language's NHWC layout goes straight into im2col + gemm. The kernels are a burn backend
//! extension: implemented for `Flex` (forward) and `Autodiff<Flex>` (forward + backward); any
//! other device (CUDA) takes burn's own modules through [`conv2d`]'s and [`pool2d`]'s fallback.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, DispatchDevice, Flex, backend_extension};
use burn::tensor::{DType, Tensor, TensorData};
pub use nasc_kernels::{ConvGeom, PoolGeom, conv, pool};
use std::sync::Arc;

/// Which pooling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolKind {
    Max,
    Avg,
}

#[backend_extension(Flex, Autodiff)]
pub trait CpuKernels: Backend {
    /// `x` NHWC, `weight` `[out, in/groups, kh, kw]`; no bias.
    fn conv2d_nhwc(x: FloatTensor<Self>, weight: FloatTensor<Self>, geom: ConvGeom) -> FloatTensor<Self>;
    /// `x` NHWC.
    fn pool2d_nhwc(x: FloatTensor<Self>, geom: PoolGeom, kind: PoolKind) -> FloatTensor<Self>;
}

/// A contiguous f32 copy-free view (copied only when the tensor is strided).
fn contiguous(t: &FlexTensor) -> FlexTensor {
    t.to_contiguous()
}

fn values(t: &FlexTensor) -> &[f32] {
    // Callers route only f32 tensors here (see `runs_here`) and made them contiguous.
    t.as_slice::<f32>().unwrap_or(&[])
}

fn flex_tensor(v: Vec<f32>, shape: impl Into<Vec<usize>>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(v, shape.into()))
}

fn conv_out_shape(g: &ConvGeom) -> [usize; 4] {
    [g.batch, g.output[0], g.output[1], g.output[2]]
}

fn pool_out_shape(g: &PoolGeom) -> [usize; 4] {
    [g.batch, g.output[0], g.output[1], g.input[2]]
}

impl CpuKernels for Flex {
    fn conv2d_nhwc(x: FlexTensor, weight: FlexTensor, geom: ConvGeom) -> FlexTensor {
        let (x, w) = (contiguous(&x), contiguous(&weight));
        flex_tensor(conv::forward(&geom, values(&x), values(&w)), conv_out_shape(&geom))
    }

    fn pool2d_nhwc(x: FlexTensor, geom: PoolGeom, kind: PoolKind) -> FlexTensor {
        let x = contiguous(&x);
        let y = match kind {
            PoolKind::Max => pool::max_forward(&geom, values(&x)).0,
            PoolKind::Avg => pool::avg_forward(&geom, values(&x)),
        };
        flex_tensor(y, pool_out_shape(&geom))
    }
}

#[derive(Debug)]
struct ConvBackward;

impl Backward<Flex, 2> for ConvBackward {
    type State = (FlexTensor, FlexTensor, ConvGeom);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_w] = ops.parents;
        let dy = contiguous(&grads.consume::<Flex>(&ops.node));
        let (x, w, g) = ops.state;
        if let Some(node) = node_x {
            let dx = conv::backward_input(&g, values(&dy), values(&w));
            grads.register::<Flex>(node.id, flex_tensor(dx, [g.batch, g.input[0], g.input[1], g.input[2]]));
        }
        if let Some(node) = node_w {
            let dw = conv::backward_weight(&g, values(&x), values(&dy));
            grads.register::<Flex>(node.id, flex_tensor(dw, w.layout().shape().to_vec()));
        }
    }
}

#[derive(Debug)]
struct PoolBackward;

impl Backward<Flex, 1> for PoolBackward {
    /// The max pool's winners (none for an average pool).
    type State = (Option<Arc<Vec<u32>>>, PoolGeom);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let dy = contiguous(&grads.consume::<Flex>(&ops.node));
        let (arg, g) = ops.state;
        if let Some(node) = node_x {
            let dx = match arg {
                Some(arg) => pool::max_backward(&g, values(&dy), &arg),
                None => pool::avg_backward(&g, values(&dy)),
            };
            grads.register::<Flex>(node.id, flex_tensor(dx, [g.batch, g.input[0], g.input[1], g.input[2]]));
        }
    }
}

impl<C: CheckpointStrategy> CpuKernels for Autodiff<Flex, C> {
    fn conv2d_nhwc(x: FloatTensor<Self>, weight: FloatTensor<Self>, geom: ConvGeom) -> FloatTensor<Self> {
        let (xp, wp) = (contiguous(x.primitive()), contiguous(weight.primitive()));
        let y = <Flex as CpuKernels>::conv2d_nhwc(xp.clone(), wp.clone(), geom);
        match ConvBackward.prepare::<C>([x.node(), weight.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish((xp, wp, geom), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }

    fn pool2d_nhwc(x: FloatTensor<Self>, geom: PoolGeom, kind: PoolKind) -> FloatTensor<Self> {
        let xp = contiguous(x.primitive());
        let (y, arg) = match kind {
            PoolKind::Max => {
                let (y, arg) = pool::max_forward(&geom, values(&xp));
                (y, Some(Arc::new(arg)))
            }
            PoolKind::Avg => (pool::avg_forward(&geom, values(&xp)), None),
        };
        let y = flex_tensor(y, pool_out_shape(&geom));
        match PoolBackward.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish((arg, geom), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }
}

/// Whether the kernels here can run on this tensor: f32 on the flex device (with or without
/// autodiff).
/// `NASC_CPU_KERNELS=burn` turns them off (burn's channels-first ops instead), for A/B timing.
pub fn runs_here<const D: usize>(x: &Tensor<D>) -> bool {
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let enabled = *ENABLED.get_or_init(|| std::env::var("NASC_CPU_KERNELS").map_or(true, |v| v != "burn"));
    enabled && x.dtype() == DType::F32 && matches!(x.device().as_dispatch().clone().inner(), DispatchDevice::Flex(_))
}

/// Convolution of an NHWC tensor with burn-layout weights (no bias) on the flex device.
pub fn conv2d_nhwc(x: Tensor<4>, weight: Tensor<4>, geom: ConvGeom) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as CpuKernels>::conv2d_nhwc(x.into_dispatch(), weight.into_dispatch(), geom))
}

/// Pooling of an NHWC tensor on the flex device.
pub fn pool2d_nhwc(x: Tensor<4>, geom: PoolGeom, kind: PoolKind) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as CpuKernels>::pool2d_nhwc(x.into_dispatch(), geom, kind))
}

#[cfg(test)]
mod tests;
