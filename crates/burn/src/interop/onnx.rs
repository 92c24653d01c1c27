//! `nasc build --emit onnx`: a lowered model with its weights as an ONNX model (opset 17),
//! written from nasc's own graph. Tensors keep the language's channels-last layout, as in
//! `--emit torch`: convolutions and pools are transposed to ONNX's channels-first around the
//! op, a batch norm is its inference form (a per-channel scale and shift on the last axis), and
//! layer and group norms are written out in primitive ops (opset 17 has no group norm, and not
//! every runtime has `LayerNormalization`). Weights are initializers named as nasc's
//! safetensors names them (`conv_3.weight`). Every op of the catalog is exported: the match on
//! the layer description is exhaustive.

use super::onnx_proto::*;
use super::weights::{INPUT_MEAN, INPUT_STD, NamedTensor, layer_name, layer_tensors};
use crate::lower::cpu::PoolKind;
use crate::lower::layer::PoolDesc;
use crate::lower::{Activation, LayerDesc, LowerError, Net, Stateless, describe};
use crate::train::data::Normalisation;
use nasc_core::ir::{Graph, NodeKind};
use nasc_core::ops::OpKind;
use nasc_core::shape::Dim;
use prost::Message;
use std::collections::HashMap;

/// The opset the exported models use.
pub const OPSET: i64 = 17;

/// The ONNX model (serialised) of graph `g` lowered as `net`, with `net`'s weights; its inputs
/// are named `inputs`. With `norm`, the model first normalises its (single) input as it was
/// trained: `(x − mean) / std` per channel.
pub fn export_onnx(g: &Graph, net: &Net, inputs: &[String], norm: Option<&Normalisation>) -> Result<Vec<u8>, LowerError> {
    let mut b = Builder { g, net, nodes: Vec::new(), inits: Vec::new(), vals: HashMap::new(), fresh: 0, batch: None, input_names: inputs.to_vec() };
    for (&t, name) in g.inputs.iter().zip(inputs) {
        b.vals.insert(t, name.clone());
    }
    if let (Some(n), [t], [name]) = (norm, &g.inputs[..], inputs) {
        let mean = b.init(INPUT_MEAN.into(), &[n.mean.len()], &n.mean);
        let std = b.init(INPUT_STD.into(), &[n.std.len()], &n.std);
        let v = b.op("Sub", vec![name.clone(), mean], vec![]);
        let v = b.op("Div", vec![v, std], vec![]);
        b.vals.insert(*t, v);
    }
    for (i, n) in g.nodes.iter().enumerate() {
        let NodeKind::Op { op, attrs } = &n.kind else {
            return Err(LowerError("the model still has a hole; fill it first".into()));
        };
        let shapes = |ts: &[usize]| ts.iter().map(|&t| g.shape(t).0.clone()).collect::<Vec<_>>();
        let desc = describe(*op, attrs, &shapes(&n.inputs), &shapes(&n.outputs))?;
        b.layer(i, *op, desc, &n.inputs, &n.outputs)?;
    }
    let mut outputs = Vec::new();
    for (k, &t) in g.outputs.iter().enumerate() {
        let name = if g.outputs.len() == 1 { "output".to_string() } else { format!("output_{k}") };
        let v = b.val(t)?;
        b.nodes.push(node("Identity", vec![v], vec![name.clone()], vec![]));
        outputs.push(b.value_info(&name, t));
    }
    let graph = GraphProto {
        node: b.nodes.clone(),
        name: g.name.clone(),
        initializer: b.inits.clone(),
        input: g.inputs.iter().zip(inputs).map(|(&t, n)| b.value_info(n, t)).collect(),
        output: outputs,
    };
    let model = ModelProto {
        ir_version: 8,
        producer_name: "nasc".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        graph: Some(graph),
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: OPSET }],
    };
    Ok(model.encode_to_vec())
}

fn node(op: &str, input: Vec<String>, output: Vec<String>, attribute: Vec<AttributeProto>) -> NodeProto {
    NodeProto { input, output, name: String::new(), op_type: op.into(), attribute }
}

fn ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto { name: name.into(), ints: v.to_vec(), r#type: attr_type::INTS, ..Default::default() }
}

fn int(name: &str, v: i64) -> AttributeProto {
    AttributeProto { name: name.into(), i: v, r#type: attr_type::INT, ..Default::default() }
}

fn float(name: &str, v: f32) -> AttributeProto {
    AttributeProto { name: name.into(), f: v, r#type: attr_type::FLOAT, ..Default::default() }
}

fn string(name: &str, v: &str) -> AttributeProto {
    AttributeProto { name: name.into(), s: v.as_bytes().to_vec(), r#type: attr_type::STRING, ..Default::default() }
}

fn i64s(v: &[usize]) -> Vec<i64> {
    v.iter().map(|&x| x as i64).collect()
}

struct Builder<'a> {
    g: &'a Graph,
    net: &'a Net,
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    /// nasc tensor id → the ONNX value holding it.
    vals: HashMap<usize, String>,
    fresh: usize,
    /// The batch size as a 1-element int64 value, once computed.
    batch: Option<String>,
    input_names: Vec<String>,
}

impl Builder<'_> {
    fn val(&self, t: usize) -> Result<String, LowerError> {
        self.vals.get(&t).cloned().ok_or_else(|| LowerError(format!("tensor {t} is used before it is computed")))
    }

    fn name(&mut self, hint: &str) -> String {
        self.fresh += 1;
        format!("{hint}_{}", self.fresh)
    }

    /// One node with one output; returns the output's name.
    fn op(&mut self, op: &str, input: Vec<String>, attrs: Vec<AttributeProto>) -> String {
        let out = self.name(&op.to_lowercase());
        self.nodes.push(node(op, input, vec![out.clone()], attrs));
        out
    }

    fn init(&mut self, name: String, dims: &[usize], data: &[f32]) -> String {
        let raw = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.inits.push(TensorProto { dims: i64s(dims), data_type: data_type::FLOAT, name: name.clone(), raw_data: raw });
        name
    }

    fn scalar(&mut self, v: f32) -> String {
        let name = self.name("const");
        self.init(name, &[], &[v])
    }

    fn int64s(&mut self, v: &[i64]) -> String {
        let name = self.name("ints");
        let raw = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.inits.push(TensorProto { dims: vec![v.len() as i64], data_type: data_type::INT64, name: name.clone(), raw_data: raw });
        name
    }

    /// The batch size as a 1-element int64 value: the first input's batch dim, read at run time.
    fn batch_value(&mut self) -> Result<String, LowerError> {
        if let Some(b) = &self.batch {
            return Ok(b.clone());
        }
        let (Some(sym), Some(&first), Some(input)) = (self.g.batch_symbol.clone(), self.g.inputs.first(), self.input_names.first().cloned()) else {
            return Err(LowerError("a symbolic dim other than the batch cannot be exported".into()));
        };
        let k = self.g.shape(first).0.iter().position(|d| *d == Dim::sym(&sym)).unwrap_or(0) as i64;
        let shape = self.op("Shape", vec![input], vec![]);
        let (from, to, axis) = (self.int64s(&[k]), self.int64s(&[k + 1]), self.int64s(&[0]));
        let b = self.op("Slice", vec![shape, from, to, axis], vec![]);
        self.batch = Some(b.clone());
        Ok(b)
    }

    /// Tensor `t`'s shape as an int64 value (the batch dim read at run time).
    fn shape_value(&mut self, t: usize) -> Result<String, LowerError> {
        let dims = self.g.shape(t).0.clone();
        if let Some(c) = dims.iter().map(Dim::as_int).collect::<Option<Vec<i64>>>() {
            return Ok(self.int64s(&c));
        }
        let bsym = self.g.batch_symbol.clone();
        let mut parts = Vec::new();
        for d in &dims {
            match d.as_int() {
                Some(v) => parts.push(self.int64s(&[v])),
                None if bsym.as_deref().is_some_and(|s| *d == Dim::sym(s)) => parts.push(self.batch_value()?),
                None => return Err(LowerError(format!("dim {d} must be a number or the batch to export ONNX"))),
            }
        }
        Ok(self.op("Concat", parts, vec![int("axis", 0)]))
    }

    fn value_info(&self, name: &str, t: usize) -> ValueInfoProto {
        let dim = |d: &Dim| match d.as_int() {
            Some(v) => Dimension { dim_value: Some(v), dim_param: None },
            None => Dimension { dim_value: None, dim_param: Some(d.to_string()) },
        };
        let shape = TensorShapeProto { dim: self.g.shape(t).0.iter().map(dim).collect() };
        let tensor = TypeTensor { elem_type: data_type::FLOAT, shape: Some(shape) };
        ValueInfoProto { name: name.into(), r#type: Some(TypeProto { tensor_type: Some(tensor) }) }
    }

    /// Layer `i`'s weights, in `layer_tensors`' order and PyTorch's layouts.
    fn weights(&self, i: usize) -> Vec<NamedTensor> {
        layer_tensors(self.net, i)
    }

    fn layer(&mut self, i: usize, op: OpKind, desc: LayerDesc, ins: &[usize], outs: &[usize]) -> Result<(), LowerError> {
        let vars: Vec<String> = ins.iter().map(|&t| self.val(t)).collect::<Result<_, _>>()?;
        let x = vars.first().cloned().unwrap_or_default();
        let y = outs.first().copied().unwrap_or(0);
        let w = self.weights(i);
        let layer = layer_name(op, i);
        let out = match desc {
            LayerDesc::Dense { inputs, features, bias } => {
                // PyTorch's [out, in] back to the [in, out] that MatMul multiplies by.
                let t = &w[0];
                let mut data = vec![0.0; t.data.len()];
                for o in 0..features {
                    for k in 0..inputs {
                        data[k * features + o] = t.data[o * inputs + k];
                    }
                }
                let wt = self.init(t.name.clone(), &[inputs, features], &data);
                let mut v = self.op("MatMul", vec![x, wt], vec![]);
                if bias {
                    let b = self.init(w[1].name.clone(), &w[1].shape, &w[1].data);
                    v = self.op("Add", vec![v, b], vec![]);
                }
                v
            }
            LayerDesc::Conv(c) => {
                let mut inputs = vec![self.op("Transpose", vec![x], vec![ints("perm", &[0, 3, 1, 2])])];
                for t in &w {
                    inputs.push(self.init(t.name.clone(), &t.shape, &t.data));
                }
                let [t, l, b, r] = c.padding;
                let attrs = vec![
                    ints("kernel_shape", &i64s(&c.kernel)),
                    ints("strides", &i64s(&c.stride)),
                    ints("dilations", &i64s(&c.dilation)),
                    int("group", c.groups as i64),
                    ints("pads", &i64s(&[t, l, b, r])),
                ];
                let v = self.op("Conv", inputs, attrs);
                self.op("Transpose", vec![v], vec![ints("perm", &[0, 2, 3, 1])])
            }
            LayerDesc::Pool(p) => self.pool(&p, x),
            LayerDesc::BatchNorm { eps, .. } => {
                let (gamma, beta, mean, var) = (&w[0].data, &w[1].data, &w[2].data, &w[3].data);
                let scale: Vec<f32> = gamma.iter().zip(var).map(|(g, v)| g / (v + eps as f32).sqrt()).collect();
                let shift: Vec<f32> = beta.iter().zip(mean).zip(&scale).map(|((b, m), s)| b - m * s).collect();
                let s = self.init(format!("{layer}.scale"), &[scale.len()], &scale);
                let h = self.init(format!("{layer}.shift"), &[shift.len()], &shift);
                let v = self.op("Mul", vec![x, s], vec![]);
                self.op("Add", vec![v, h], vec![])
            }
            LayerDesc::LayerNorm { eps, .. } => {
                let v = self.normalise(x, &[-1], eps);
                self.affine(v, &w)
            }
            LayerDesc::GroupNorm { groups, channels, eps } => {
                let b = if self.g.batch_symbol.is_some() { self.batch_value()? } else { self.int64s(&[self.g.shape(ins[0]).0[0].as_int().unwrap_or(1)]) };
                let rest = self.int64s(&[-1, groups as i64, (channels / groups.max(1)) as i64]);
                let grouped_shape = self.op("Concat", vec![b, rest], vec![int("axis", 0)]);
                let grouped = self.op("Reshape", vec![x, grouped_shape], vec![]);
                let v = self.normalise(grouped, &[1, 3], eps);
                let shape = self.shape_value(y)?;
                let v = self.op("Reshape", vec![v, shape], vec![]);
                self.affine(v, &w)
            }
            LayerDesc::Dropout { .. } => self.op("Identity", vec![x], vec![]),
            LayerDesc::Param { shape } => {
                let t = &w[0];
                self.init(t.name.clone(), &shape, &t.data)
            }
            LayerDesc::Stateless(s) => match self.stateless(&s, &vars, ins, outs)? {
                Some(v) => v,
                None => return Ok(()),
            },
        };
        self.vals.insert(y, out);
        Ok(())
    }

    /// (x − mean) / sqrt(var + eps) over `axes`.
    fn normalise(&mut self, x: String, axes: &[i64], eps: f64) -> String {
        let mean = self.op("ReduceMean", vec![x.clone()], vec![ints("axes", axes), int("keepdims", 1)]);
        let d = self.op("Sub", vec![x, mean], vec![]);
        let sq = self.op("Mul", vec![d.clone(), d.clone()], vec![]);
        let var = self.op("ReduceMean", vec![sq], vec![ints("axes", axes), int("keepdims", 1)]);
        let e = self.scalar(eps as f32);
        let var = self.op("Add", vec![var, e], vec![]);
        let sd = self.op("Sqrt", vec![var], vec![]);
        self.op("Div", vec![d, sd], vec![])
    }

    /// A norm's learned scale and shift on the last axis (each when the layer has it).
    fn affine(&mut self, mut v: String, w: &[NamedTensor]) -> String {
        for t in w {
            let c = self.init(t.name.clone(), &t.shape, &t.data);
            let op = if t.name.ends_with(".weight") { "Mul" } else { "Add" };
            v = self.op(op, vec![v, c], vec![]);
        }
        v
    }

    fn pool(&mut self, p: &PoolDesc, x: String) -> String {
        let v = self.op("Transpose", vec![x], vec![ints("perm", &[0, 3, 1, 2])]);
        let [t, l, b, r] = p.padding;
        let mut attrs = vec![ints("kernel_shape", &i64s(&p.window)), ints("strides", &i64s(&p.stride)), ints("pads", &i64s(&[t, l, b, r]))];
        let op = match p.kind {
            PoolKind::Max => "MaxPool",
            PoolKind::Avg => {
                attrs.push(int("count_include_pad", p.count_pad as i64));
                "AveragePool"
            }
        };
        let v = self.op(op, vec![v], attrs);
        self.op("Transpose", vec![v], vec![ints("perm", &[0, 2, 3, 1])])
    }

    fn activation(&mut self, a: Activation, x: String) -> String {
        let clip = |b: &mut Self, x: String, lo: f64, hi: f64| {
            let (lo, hi) = (b.scalar(lo as f32), b.scalar(hi as f32));
            b.op("Clip", vec![x, lo, hi], vec![])
        };
        match a {
            Activation::Relu => self.op("Relu", vec![x], vec![]),
            Activation::Gelu => {
                // x · Φ(x) with the error function, as burn and PyTorch compute it.
                let k = self.scalar(std::f32::consts::FRAC_1_SQRT_2);
                let v = self.op("Mul", vec![x.clone(), k], vec![]);
                let v = self.op("Erf", vec![v], vec![]);
                let one = self.scalar(1.0);
                let v = self.op("Add", vec![v, one], vec![]);
                let v = self.op("Mul", vec![x, v], vec![]);
                let half = self.scalar(0.5);
                self.op("Mul", vec![v, half], vec![])
            }
            Activation::Silu => {
                let s = self.op("Sigmoid", vec![x.clone()], vec![]);
                self.op("Mul", vec![x, s], vec![])
            }
            Activation::Sigmoid => self.op("Sigmoid", vec![x], vec![]),
            Activation::Tanh => self.op("Tanh", vec![x], vec![]),
            Activation::HardSwish => self.op("HardSwish", vec![x], vec![]),
            Activation::Relu6 => clip(self, x, 0.0, 6.0),
            Activation::HardSigmoid => self.op("HardSigmoid", vec![x], vec![float("alpha", 1.0 / 6.0), float("beta", 0.5)]),
            Activation::Clamp { min, max } => clip(self, x, min, max),
        }
    }

    /// A stateless op's value, or `None` when it set its outputs itself (split).
    fn stateless(&mut self, s: &Stateless, vars: &[String], ins: &[usize], outs: &[usize]) -> Result<Option<String>, LowerError> {
        let x = vars.first().cloned().unwrap_or_default();
        let second = vars.get(1).cloned().unwrap_or_default();
        let y = outs.first().copied().unwrap_or(0);
        let axis_size = |b: &Self, t: usize, axis: usize| b.g.shape(t).0.get(axis).and_then(Dim::as_int).unwrap_or(0);
        Ok(Some(match s {
            Stateless::Activation(a) => self.activation(*a, x),
            Stateless::Softmax { axis } => self.op("Softmax", vec![x], vec![int("axis", *axis as i64)]),
            Stateless::Mean { axes } => {
                let v = self.op("ReduceMean", vec![x], vec![ints("axes", &i64s(axes)), int("keepdims", 0)]);
                let shape = self.shape_value(y)?;
                self.op("Reshape", vec![v, shape], vec![])
            }
            Stateless::Add => self.op("Add", vec![x, second], vec![]),
            Stateless::Mul => self.op("Mul", vec![x, second], vec![]),
            Stateless::Scale(k) => {
                let k = self.scalar(*k as f32);
                self.op("Mul", vec![x, k], vec![])
            }
            Stateless::DropPath { .. } | Stateless::Identity => self.op("Identity", vec![x], vec![]),
            Stateless::Reshape => {
                let shape = self.shape_value(y)?;
                self.op("Reshape", vec![x, shape], vec![])
            }
            Stateless::Transpose { perm } => self.op("Transpose", vec![x], vec![ints("perm", &i64s(perm))]),
            Stateless::Concat { axis } => self.op("Concat", vars.to_vec(), vec![int("axis", *axis as i64)]),
            Stateless::Split { axis, .. } | Stateless::SplitSizes { axis, .. } => {
                // Each part's size is its output's size on the axis.
                let sizes: Vec<i64> = outs.iter().map(|&o| axis_size(self, o, *axis)).collect();
                let sizes = self.int64s(&sizes);
                let names: Vec<String> = outs.iter().map(|_| self.name("split")).collect();
                self.nodes.push(node("Split", vec![x, sizes], names.clone(), vec![int("axis", *axis as i64)]));
                for (&o, n) in outs.iter().zip(names) {
                    self.vals.insert(o, n);
                }
                return Ok(None);
            }
            Stateless::Slice { axis, start, end, step } => {
                let (st, en, ax, sp) = (self.int64s(&[*start as i64]), self.int64s(&[*end as i64]), self.int64s(&[*axis as i64]), self.int64s(&[*step as i64]));
                self.op("Slice", vec![x, st, en, ax, sp], vec![])
            }
            Stateless::Roll { shift, axis } => {
                let n = axis_size(self, ins[0], *axis);
                let k = if n > 0 { shift.rem_euclid(n) } else { 0 };
                if k == 0 {
                    self.op("Identity", vec![x], vec![])
                } else {
                    // The last k along the axis, then the rest.
                    let ax = self.int64s(&[*axis as i64]);
                    let (a0, a1, b0, b1) = (self.int64s(&[n - k]), self.int64s(&[n]), self.int64s(&[0]), self.int64s(&[n - k]));
                    let tail = self.op("Slice", vec![x.clone(), a0, a1, ax.clone()], vec![]);
                    let head = self.op("Slice", vec![x, b0, b1, ax], vec![]);
                    self.op("Concat", vec![tail, head], vec![int("axis", *axis as i64)])
                }
            }
            Stateless::Gather { axis, indices } => {
                let idx = self.int64s(&i64s(indices));
                self.op("Gather", vec![x, idx], vec![int("axis", *axis as i64)])
            }
            Stateless::Matmul => self.op("MatMul", vec![x, second], vec![]),
            Stateless::Einsum { spec } => self.op("Einsum", vec![x, second], vec![string("equation", spec)]),
            Stateless::Broadcast => {
                let shape = self.shape_value(y)?;
                self.op("Expand", vec![x, shape], vec![])
            }
            Stateless::Select { axis, index } => {
                let idx = self.int64s(&[*index as i64]);
                let v = self.op("Gather", vec![x, idx], vec![int("axis", *axis as i64)]);
                let shape = self.shape_value(y)?;
                self.op("Reshape", vec![v, shape], vec![])
            }
        }))
    }
}
