//! The kernels against burn's own ops (the reference): forward and every gradient within 1e-4
//! relative, on random shapes, strides, dilations, groups (depthwise included) and SAME paddings.

use super::*;
use crate::lower::same_padding;
use burn::module::Param;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2dConfig;
use burn::nn::pool::{AvgPool2dConfig, MaxPool2dConfig};
use burn::tensor::{Device, Distribution};
use nasc_core::rng::Rng;

fn device() -> Device {
    Device::flex().autodiff()
}

/// Largest |a - b| over the largest |b| (a relative difference that tolerates zeros).
fn rel_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
    let scale = b.clone().abs().max().into_scalar::<f32>().max(1e-6);
    (a - b).abs().max().into_scalar::<f32>() / scale
}

fn nchw(x: Tensor<4>) -> Tensor<4> {
    x.permute([0, 3, 1, 2])
}

fn nhwc(x: Tensor<4>) -> Tensor<4> {
    x.permute([0, 2, 3, 1])
}

/// SAME padding of an h×w input: the kernels' (top, left) and burn's explicit config.
fn same(h: usize, w: usize, kernel: usize, stride: usize, dilation: usize) -> ([usize; 2], PaddingConfig2d) {
    let (t, b) = same_padding(h, kernel, stride, dilation);
    let (l, r) = same_padding(w, kernel, stride, dilation);
    ([t, l], PaddingConfig2d::Explicit(t, l, b, r))
}

struct ConvCase {
    geom: ConvGeom,
    padding: PaddingConfig2d,
}

fn random_conv(rng: &mut Rng) -> ConvCase {
    let groups = *rng.pick(&[1, 1, 2, 0]); // 0: depthwise
    let cin = if groups == 0 { 2 + rng.below(6) } else { groups * (1 + rng.below(4)) };
    let (groups, cout) = if groups == 0 { (cin, cin) } else { (groups, groups * (1 + rng.below(4))) };
    let kernel = *rng.pick(&[1, 3, 3, 5]);
    let stride = 1 + rng.below(2);
    let dilation = if kernel > 1 { 1 + rng.below(2) } else { 1 };
    let (h, w) = (stride * (2 + rng.below(4)), stride * (2 + rng.below(4)));
    let (pad, padding) = same(h, w, kernel, stride, dilation);
    ConvCase {
        geom: ConvGeom {
            batch: 1 + rng.below(3),
            input: [h, w, cin],
            output: [h / stride, w / stride, cout],
            kernel: [kernel, kernel],
            stride: [stride, stride],
            dilation: [dilation, dilation],
            pad,
            groups,
        },
        padding,
    }
}

/// burn's Conv2d for the same convolution (channels-first).
fn reference_conv(g: &ConvGeom, padding: PaddingConfig2d, bias: bool, dev: &Device) -> burn::nn::conv::Conv2d {
    Conv2dConfig::new([g.input[2], g.output[2]], g.kernel)
        .with_stride(g.stride)
        .with_dilation(g.dilation)
        .with_groups(g.groups)
        .with_bias(bias)
        .with_padding(padding)
        .init(dev)
}

#[test]
fn convolution_matches_burn_forward_and_gradients() {
    let mut rng = Rng::new(11);
    let dev = device();
    for _ in 0..40 {
        let ConvCase { geom: g, padding } = random_conv(&mut rng);
        let reference = reference_conv(&g, padding, false, &dev);
        let w = reference.weight.val().detach().require_grad();
        let x = Tensor::<4>::random([g.batch, g.input[0], g.input[1], g.input[2]], Distribution::Normal(0.0, 1.0), &dev).require_grad();
        let dy = Tensor::<4>::random([g.batch, g.output[0], g.output[1], g.output[2]], Distribution::Normal(0.0, 1.0), &dev);

        let ours = conv2d_nhwc(x.clone(), w.clone(), None, g);
        let grads = (ours.clone() * dy.clone()).sum().backward();
        let (dx, dw) = (x.grad(&grads).unwrap(), w.grad(&grads).unwrap());

        let (x2, w2) = (x.clone().detach().require_grad(), w.clone().detach().require_grad());
        let conv = burn::nn::conv::Conv2d { weight: Param::from_tensor(w2.clone()), ..reference };
        let theirs = nhwc(conv.forward(nchw(x2.clone())));
        let grads2 = (theirs.clone() * dy).sum().backward();
        let (dx2, dw2) = (x2.grad(&grads2).unwrap(), conv.weight.val().grad(&grads2).unwrap());

        assert!(rel_diff(ours.inner(), theirs.inner()) < 1e-4, "forward {g:?}");
        assert!(rel_diff(dx, dx2) < 1e-4, "input gradient {g:?}");
        assert!(rel_diff(dw, dw2) < 1e-4, "weight gradient {g:?}");
    }
}

#[test]
fn convolution_with_bias_matches_burn() {
    let mut rng = Rng::new(13);
    let dev = device();
    for _ in 0..10 {
        let ConvCase { geom: g, padding } = random_conv(&mut rng);
        let reference = reference_conv(&g, padding, true, &dev);
        let (w, b) = (reference.weight.val(), reference.bias.as_ref().map(|b| b.val()).unwrap());
        let x = Tensor::<4>::random([g.batch, g.input[0], g.input[1], g.input[2]], Distribution::Normal(0.0, 1.0), &dev).require_grad();
        let dy = Tensor::<4>::random([g.batch, g.output[0], g.output[1], g.output[2]], Distribution::Normal(0.0, 1.0), &dev);
        let ours = conv2d_nhwc(x.clone(), w.clone(), Some(b.clone()), g);
        let grads = (ours.clone() * dy.clone()).sum().backward();
        let theirs = nhwc(reference.forward(nchw(x.clone().detach())));
        let grads2 = (theirs.clone() * dy).sum().backward();
        assert!(rel_diff(ours.inner(), theirs.inner()) < 1e-4, "forward {g:?}");
        assert!(rel_diff(b.grad(&grads).unwrap(), b.grad(&grads2).unwrap()) < 1e-4, "bias gradient {g:?}");
        assert!(rel_diff(w.grad(&grads).unwrap(), w.grad(&grads2).unwrap()) < 1e-4, "weight gradient {g:?}");
    }
}

#[test]
fn pools_match_burn_forward_and_gradients() {
    let mut rng = Rng::new(12);
    let dev = device();
    for case in 0..30 {
        let window = 1 + rng.below(3);
        let stride = 1 + rng.below(2);
        let (h, w, c) = (stride * (2 + rng.below(4)), stride * (2 + rng.below(4)), 1 + rng.below(5));
        let (pad, padding) = same(h, w, window, stride, 1);
        let PaddingConfig2d::Explicit(_, _, bottom, right) = padding else { unreachable!("same() is explicit") };
        let g = PoolGeom {
            batch: 1 + rng.below(3),
            input: [h, w, c],
            output: [h / stride, w / stride],
            window: [window; 2],
            stride: [stride; 2],
            pad,
            count_pad: None,
        };
        let x = Tensor::<4>::random([g.batch, h, w, c], Distribution::Normal(0.0, 1.0), &dev).require_grad();
        let dy = Tensor::<4>::random([g.batch, g.output[0], g.output[1], c], Distribution::Normal(0.0, 1.0), &dev);
        for (kind, count_pad) in [(PoolKind::Max, None), (PoolKind::Avg, None), (PoolKind::Avg, Some([bottom, right]))] {
            let g = PoolGeom { count_pad, ..g };
            let ours = pool2d_nhwc(x.clone(), g, kind);
            let dx = x.grad(&(ours.clone() * dy.clone()).sum().backward()).unwrap();
            let x2 = x.clone().detach().require_grad();
            let theirs = match kind {
                PoolKind::Max => MaxPool2dConfig::new(g.window).with_strides(g.stride).with_padding(padding.clone()).init().forward(nchw(x2.clone())),
                PoolKind::Avg => AvgPool2dConfig::new(g.window)
                    .with_strides(g.stride)
                    .with_padding(padding.clone())
                    .with_count_include_pad(count_pad.is_some())
                    .init()
                    .forward(nchw(x2.clone())),
            };
            let theirs = nhwc(theirs);
            let dx2 = x2.grad(&(theirs.clone() * dy.clone()).sum().backward()).unwrap();
            assert!(rel_diff(ours.inner(), theirs.inner()) < 1e-5, "{kind:?} forward, case {case}: {g:?}");
            assert!(rel_diff(dx, dx2) < 1e-5, "{kind:?} gradient, case {case}: {g:?}");
        }
    }
}

#[test]
fn kernels_run_on_flex_only() {
    let x = Tensor::<4>::zeros([1, 2, 2, 1], &Device::flex());
    assert!(runs_here(&x));
    assert!(runs_here(&Tensor::<4>::zeros([1, 2, 2, 1], &device())));
}

#[test]
fn batch_norm_matches_burn_in_training_and_inference() {
    use burn::module::Module;
    use burn::nn::BatchNormConfig;
    let dev = device();
    // Each shape plain and with a ReLU fused after the norm (against burn's norm, then its ReLU).
    let cases = [[2usize, 5, 4, 3], [3, 2, 7, 6], [1, 1, 9, 2]].into_iter().flat_map(|d| [(d, false), (d, true)]);
    for (case, (dims, relu)) in cases.enumerate() {
        let c = dims[3];
        let then_relu = |y: Tensor<4>| if relu { burn::tensor::activation::relu(y) } else { y };
        let ours_bn = BatchNormConfig::new(c).init(&dev);
        let gamma = Tensor::<1>::random([c], Distribution::Normal(1.0, 0.3), &dev);
        let beta = Tensor::<1>::random([c], Distribution::Normal(0.0, 0.3), &dev);
        let ours_bn = BatchNorm { gamma: Param::from_tensor(gamma.clone()), beta: Param::from_tensor(beta.clone()), ..ours_bn };
        let theirs_bn = BatchNorm {
            gamma: Param::from_tensor(gamma.detach().require_grad()),
            beta: Param::from_tensor(beta.detach().require_grad()),
            ..BatchNormConfig::new(c).init(&dev)
        };
        let x = Tensor::<4>::random(dims, Distribution::Normal(0.5, 2.0), &dev).require_grad();
        let dy = Tensor::<4>::random(dims, Distribution::Normal(0.0, 1.0), &dev);

        let ours = batch_norm_nhwc(&ours_bn, x.clone(), relu);
        let g1 = (ours.clone() * dy.clone()).sum().backward();
        let x2 = x.clone().detach().require_grad();
        let theirs = then_relu(nhwc(theirs_bn.forward(nchw(x2.clone()))));
        let g2 = (theirs.clone() * dy.clone()).sum().backward();

        assert!(rel_diff(ours.inner(), theirs.inner()) < 1e-4, "forward, case {case}");
        assert!(rel_diff(x.grad(&g1).unwrap(), x2.grad(&g2).unwrap()) < 1e-4, "input gradient, case {case}");
        let (dg1, dg2) = (ours_bn.gamma.val().grad(&g1).unwrap(), theirs_bn.gamma.val().grad(&g2).unwrap());
        assert!(rel_diff(dg1, dg2) < 1e-4, "gamma gradient, case {case}");
        let (db1, db2) = (ours_bn.beta.val().grad(&g1).unwrap(), theirs_bn.beta.val().grad(&g2).unwrap());
        assert!(rel_diff(db1, db2) < 1e-4, "beta gradient, case {case}");
        let (rm1, rm2) = (ours_bn.running_mean.value(), theirs_bn.running_mean.value());
        assert!(rel_diff(rm1, rm2) < 1e-5, "running mean, case {case}");
        let (rv1, rv2) = (ours_bn.running_var.value(), theirs_bn.running_var.value());
        assert!(rel_diff(rv1, rv2) < 1e-5, "running variance, case {case}");

        // Inference mode uses the running statistics.
        let (ours_eval, theirs_eval) = (ours_bn.valid(), theirs_bn.valid());
        let xi = x.clone().inner();
        let a = batch_norm_nhwc(&ours_eval, xi.clone(), relu);
        let b = then_relu(nhwc(theirs_eval.forward(nchw(xi))));
        assert!(rel_diff(a, b) < 1e-5, "inference, case {case}");
    }
}
