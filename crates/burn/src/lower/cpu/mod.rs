//! nasc's own CPU kernels for the ops that dominate training time on burn's `flex` backend:
//! convolutions, pools and training-mode batch norm on channels-last tensors, with hand-written
//! backward passes (the arithmetic is in the `nasc-kernels` crate, `crates/kernels`).
//!
//! burn-flex runs convolutions channels-first and derives their gradients from generic
//! transposed convolutions, and its batch norm takes a dozen element-wise passes, so the lowering
//! permuted every activation around every conv, pool and norm and spent most of a step there
//! (`benches/README.md` has the profile). Here the language's NHWC layout goes straight into
//! im2col + gemm. The kernels are a burn backend extension, implemented for `Flex` (forward) and
//! `Autodiff<Flex>` (forward + backward). [`runs_here`] says whether a tensor can use them; on
//! any other device (CUDA) the lowering keeps burn's own modules.

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, AutodiffBackend, Backend, Dispatch, DispatchDevice, Flex, backend_extension};
use burn::nn::BatchNorm;
use burn::tensor::{DType, Tensor, TensorData};
pub use nasc_kernels::{ConvGeom, PoolGeom, conv, norm, pool};
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
    /// The same plus a bias `[out]`, added in the same pass.
    fn conv2d_bias_nhwc(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>, geom: ConvGeom) -> FloatTensor<Self>;
    /// `x` NHWC.
    fn pool2d_nhwc(x: FloatTensor<Self>, geom: PoolGeom, kind: PoolKind) -> FloatTensor<Self>;
    /// Training-mode batch norm of `x` `[rows, channels]`, followed by a ReLU when `relu`: the
    /// output, the batch mean and the batch's biased variance (for the running statistics; not
    /// differentiated).
    fn batch_norm_rows(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

/// The tensor with contiguous storage (copied only when it is strided).
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

    fn conv2d_bias_nhwc(x: FlexTensor, weight: FlexTensor, bias: FlexTensor, geom: ConvGeom) -> FlexTensor {
        let (x, w, b) = (contiguous(&x), contiguous(&weight), contiguous(&bias));
        let mut y = conv::forward(&geom, values(&x), values(&w));
        conv::add_bias(&mut y, values(&b));
        flex_tensor(y, conv_out_shape(&geom))
    }

    fn pool2d_nhwc(x: FlexTensor, geom: PoolGeom, kind: PoolKind) -> FlexTensor {
        pool_forward(&x, geom, kind).0
    }

    fn batch_norm_rows(x: FlexTensor, gamma: FlexTensor, beta: FlexTensor, epsilon: f64, relu: bool) -> (FlexTensor, FlexTensor, FlexTensor) {
        let (y, stats) = batch_norm_forward(&x, &gamma, &beta, epsilon, relu);
        let c = stats.mean.len();
        (y, flex_tensor(stats.mean, [c]), flex_tensor(stats.variance, [c]))
    }
}

/// A pool's output and, for a max pool, the winners its backward pass needs.
fn pool_forward(x: &FlexTensor, geom: PoolGeom, kind: PoolKind) -> (FlexTensor, Option<Arc<Vec<u32>>>) {
    let x = contiguous(x);
    let (y, arg) = match kind {
        PoolKind::Max => {
            let (y, arg) = pool::max_forward(&geom, values(&x));
            (y, Some(Arc::new(arg)))
        }
        PoolKind::Avg => (pool::avg_forward(&geom, values(&x)), None),
    };
    (flex_tensor(y, pool_out_shape(&geom)), arg)
}

fn batch_norm_forward(x: &FlexTensor, gamma: &FlexTensor, beta: &FlexTensor, epsilon: f64, relu: bool) -> (FlexTensor, norm::BatchStats) {
    let (x, gamma, beta) = (contiguous(x), contiguous(gamma), contiguous(beta));
    let shape = x.layout().shape().to_vec();
    let channels = shape.last().copied().unwrap_or(1);
    let (y, stats) = norm::forward(values(&x), channels, values(&gamma), values(&beta), epsilon, relu);
    (flex_tensor(y, shape), stats)
}

#[derive(Debug)]
struct ConvBackward;

/// Registers the input and weight gradients of a convolution, for the parents that want them.
fn conv_grads([x_id, w_id]: [Option<NodeId>; 2], dy: &FlexTensor, grads: &mut Gradients, (x, w, g): (FlexTensor, FlexTensor, ConvGeom)) {
    if let Some(id) = x_id {
        let dx = conv::backward_input(&g, values(dy), values(&w));
        grads.register::<Flex>(id, flex_tensor(dx, [g.batch, g.input[0], g.input[1], g.input[2]]));
    }
    if let Some(id) = w_id {
        let dw = conv::backward_weight(&g, values(&x), values(dy));
        grads.register::<Flex>(id, flex_tensor(dw, w.layout().shape().to_vec()));
    }
}

impl Backward<Flex, 2> for ConvBackward {
    type State = (FlexTensor, FlexTensor, ConvGeom);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = contiguous(&grads.consume::<Flex>(&ops.node));
        conv_grads(ops.parents.map(|p| p.map(|n| n.id)), &dy, grads, ops.state);
    }
}

#[derive(Debug)]
struct ConvBiasBackward;

impl Backward<Flex, 3> for ConvBiasBackward {
    type State = (FlexTensor, FlexTensor, ConvGeom);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [x_id, w_id, b_id] = ops.parents.map(|p| p.map(|n| n.id));
        let cout = ops.state.2.output[2];
        let dy = contiguous(&grads.consume::<Flex>(&ops.node));
        conv_grads([x_id, w_id], &dy, grads, ops.state);
        if let Some(id) = b_id {
            grads.register::<Flex>(id, flex_tensor(conv::bias_grad(values(&dy), cout), [cout]));
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

#[derive(Debug)]
struct BatchNormBackward;

impl Backward<Flex, 3> for BatchNormBackward {
    type State = (FlexTensor, FlexTensor, Arc<norm::BatchStats>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let dy = contiguous(&grads.consume::<Flex>(&ops.node));
        let (x, gamma, stats) = ops.state;
        let c = stats.mean.len();
        let (dx, dgamma, dbeta) = norm::backward(values(&x), values(&dy), c, values(&gamma), &stats);
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, flex_tensor(dx, x.layout().shape().to_vec()));
        }
        if let Some(node) = node_gamma {
            grads.register::<Flex>(node.id, flex_tensor(dgamma, [c]));
        }
        if let Some(node) = node_beta {
            grads.register::<Flex>(node.id, flex_tensor(dbeta, [c]));
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

    fn conv2d_bias_nhwc(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>, geom: ConvGeom) -> FloatTensor<Self> {
        let (xp, wp) = (contiguous(x.primitive()), contiguous(weight.primitive()));
        let y = <Flex as CpuKernels>::conv2d_bias_nhwc(xp.clone(), wp.clone(), bias.primitive().clone(), geom);
        match ConvBiasBackward.prepare::<C>([x.node(), weight.node(), bias.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish((xp, wp, geom), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }

    fn pool2d_nhwc(x: FloatTensor<Self>, geom: PoolGeom, kind: PoolKind) -> FloatTensor<Self> {
        let (y, arg) = pool_forward(x.primitive(), geom, kind);
        match PoolBackward.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish((arg, geom), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }

    fn batch_norm_rows(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let (xp, gp) = (contiguous(x.primitive()), contiguous(gamma.primitive()));
        let (y, stats) = batch_norm_forward(&xp, &gp, beta.primitive(), epsilon, relu);
        let c = stats.mean.len();
        let mean = Self::from_inner(flex_tensor(stats.mean.clone(), [c]));
        let variance = Self::from_inner(flex_tensor(stats.variance.clone(), [c]));
        let y = match BatchNormBackward.prepare::<C>([x.node(), gamma.node(), beta.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish((xp, gp, Arc::new(stats)), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        };
        (y, mean, variance)
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

/// Convolution of an NHWC tensor with burn-layout weights and an optional bias on the flex device.
pub fn conv2d_nhwc(x: Tensor<4>, weight: Tensor<4>, bias: Option<Tensor<1>>, geom: ConvGeom) -> Tensor<4> {
    let (x, w) = (x.into_dispatch(), weight.into_dispatch());
    Tensor::from_dispatch(match bias {
        Some(b) => <Dispatch as CpuKernels>::conv2d_bias_nhwc(x, w, b.into_dispatch(), geom),
        None => <Dispatch as CpuKernels>::conv2d_nhwc(x, w, geom),
    })
}

/// burn's `BatchNorm` in training or inference mode on a channels-last tensor of any rank,
/// normalising over every dim but the last, then a ReLU when `relu`; training mode updates the
/// running statistics as burn's own forward does.
pub fn batch_norm_nhwc<const D: usize>(bn: &BatchNorm, x: Tensor<D>, relu: bool) -> Tensor<D> {
    let dims = x.dims();
    let c = dims[D - 1];
    let rows = dims.iter().product::<usize>() / c.max(1);
    if !(x.device().is_autodiff() && bn.training.is_enabled()) {
        let scale = bn.gamma.val() / (bn.running_var.value().add_scalar(bn.epsilon)).sqrt();
        let shift = bn.beta.val() - bn.running_mean.value() * scale.clone();
        let x2: Tensor<2> = x.reshape([rows, c]);
        let y = x2 * scale.unsqueeze::<2>() + shift.unsqueeze::<2>();
        return super::relu_if(relu, y).reshape(dims);
    }
    let x2: Tensor<2> = x.reshape([rows, c]);
    let (y, mean, var) =
        <Dispatch as CpuKernels>::batch_norm_rows(x2.into_dispatch(), bn.gamma.val().into_dispatch(), bn.beta.val().into_dispatch(), bn.epsilon, relu);
    let (mean, var) = (Tensor::<1>::from_dispatch(mean), Tensor::<1>::from_dispatch(var));
    let m = bn.momentum;
    bn.running_mean.update(bn.running_mean.value_sync().mul_scalar(1.0 - m).add(mean.detach().mul_scalar(m)).detach());
    bn.running_var.update(bn.running_var.value_sync().mul_scalar(1.0 - m).add(var.detach().mul_scalar(m)).detach());
    Tensor::<2>::from_dispatch(y).reshape(dims)
}

/// Pooling of an NHWC tensor on the flex device.
pub fn pool2d_nhwc(x: Tensor<4>, geom: PoolGeom, kind: PoolKind) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as CpuKernels>::pool2d_nhwc(x.into_dispatch(), geom, kind))
}

#[cfg(test)]
mod tests;
