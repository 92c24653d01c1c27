//! A lowered model's weights as named tensors in PyTorch's layout, and safetensors files of them.
//!
//! Every learned layer is named after its op and its place in the graph (`conv_3`,
//! `batch_norm_4`), and its tensors after PyTorch's attributes (`conv_3.weight`,
//! `batch_norm_4.running_var`), in PyTorch's layouts (a dense weight is `[out, in]`, a conv's
//! `[out, in / groups, kh, kw]`), so `--emit torch`'s module loads them with
//! `load_state_dict`. The issue asked for burn-store; its names follow burn's module tree
//! (`layers.3.Conv.weight`), which is neither the emitted module's nor torchvision's, so the
//! tensors are read and written here with the `safetensors` crate directly.

use crate::lower::{Layer, Net};
use crate::train::data::Normalisation;
use burn::module::{Param, RunningState};
use burn::tensor::{Tensor, TensorData};
use nasc_core::ops::{OpKind, spec};
use std::collections::HashMap;
use std::path::Path;

/// One tensor: its name, shape and values (row-major).
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// How a file's tensors are matched to the model's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchBy {
    /// By name (`conv_3.weight`), as nasc and `--emit torch` write them.
    Name,
    /// In declaration order, one for one, each with the shape of the model's tensor at its
    /// place (size-1 dims aside): for weights from another program of the same network.
    Position,
}

/// The name of layer `i` of a model (node `i` of its graph, op `op`): the op and its place.
pub fn layer_name(op: OpKind, i: usize) -> String {
    format!("{}_{i}", spec(op).name)
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap_or_default()
}

/// A dense weight, stored `[in, out]` by burn, as PyTorch's `[out, in]`.
fn transposed(w: Tensor<2>) -> (Vec<usize>, Vec<f32>) {
    let [i, o] = w.dims();
    (vec![o, i], values(w.transpose()))
}

/// The tensor names of one layer, in PyTorch's order (empty for a layer without weights).
pub(crate) fn layer_tensors(net: &Net, i: usize) -> Vec<NamedTensor> {
    let name = layer_name(net.plan.steps[i].op, i);
    let t = |field: &str, shape: Vec<usize>, data: Vec<f32>| NamedTensor { name: format!("{name}.{field}"), shape, data };
    let vec1 = |field: &str, x: Tensor<1>| {
        let n = x.dims()[0];
        t(field, vec![n], values(x))
    };
    match &net.layers[i] {
        Layer::Linear(l) => {
            let (shape, data) = transposed(l.weight.val());
            let mut out = vec![t("weight", shape, data)];
            out.extend(l.bias.as_ref().map(|b| vec1("bias", b.val())));
            out
        }
        Layer::Conv(c) => {
            let w = c.weight.val();
            let mut out = vec![t("weight", w.dims().to_vec(), values(w))];
            out.extend(c.bias.as_ref().map(|b| vec1("bias", b.val())));
            out
        }
        Layer::BatchNorm(bn) => vec![
            vec1("weight", bn.gamma.val()),
            vec1("bias", bn.beta.val()),
            vec1("running_mean", bn.running_mean.value()),
            vec1("running_var", bn.running_var.value()),
        ],
        Layer::LayerNorm(ln) => {
            let mut out = vec![vec1("weight", ln.gamma.val())];
            out.extend(ln.beta.as_ref().map(|b| vec1("bias", b.val())));
            out
        }
        Layer::GroupNorm(gn) => {
            let mut out: Vec<NamedTensor> = gn.gamma.as_ref().map(|g| vec1("weight", g.val())).into_iter().collect();
            out.extend(gn.beta.as_ref().map(|b| vec1("bias", b.val())));
            out
        }
        Layer::Param(p) => {
            let shape = logical_shape(net, i);
            vec![NamedTensor { name, shape, data: values(p.val()) }]
        }
        Layer::Dropout(_) | Layer::MaxPool(_) | Layer::AvgPool(_) | Layer::Stateless(_) => Vec::new(),
    }
}

/// A `param` layer's logical (unpadded) shape.
fn logical_shape(net: &Net, i: usize) -> Vec<usize> {
    let dims = net.plan.steps[i].out_shapes.first().cloned().unwrap_or_default();
    dims.iter().map(|d| d.as_int().unwrap_or(1).max(1) as usize).collect()
}

/// Every weight and running statistic of a model, in declaration (graph) order.
pub fn tensors(net: &Net) -> Vec<NamedTensor> {
    (0..net.layers.len()).flat_map(|i| layer_tensors(net, i)).collect()
}

/// A tensor's shape without its size-1 dims: `[C]`, `[C, 1, 1]` and `[1, 1, C]` hold the same
/// values in the same order.
fn squeezed(shape: &[usize]) -> Vec<usize> {
    shape.iter().copied().filter(|&d| d != 1).collect()
}

fn shown(shape: &[usize]) -> String {
    format!("[{}]", shape.iter().map(usize::to_string).collect::<Vec<_>>().join(", "))
}

/// PyTorch's batch-norm step counter: a buffer nasc has no use for.
fn ignored(name: &str) -> bool {
    name.ends_with("num_batches_tracked")
}

/// Pair each of the model's tensors (`want`) with one of the file's (`have`), or say which is
/// missing, extra or of the wrong shape.
fn pair_up(want: &[NamedTensor], have: Vec<NamedTensor>, by: MatchBy) -> Result<Vec<NamedTensor>, String> {
    let found = match by {
        MatchBy::Name => by_name(want, have)?,
        MatchBy::Position => by_position(want, have)?,
    };
    for (w, h) in want.iter().zip(&found) {
        if squeezed(&w.shape) != squeezed(&h.shape) {
            return Err(format!("`{}` has shape {}, but the model's `{}` is {}", h.name, shown(&h.shape), w.name, shown(&w.shape)));
        }
    }
    Ok(found)
}

fn by_name(want: &[NamedTensor], have: Vec<NamedTensor>) -> Result<Vec<NamedTensor>, String> {
    let mut map: HashMap<String, NamedTensor> = have.into_iter().map(|t| (t.name.clone(), t)).collect();
    let mut found = Vec::with_capacity(want.len());
    let mut missing = Vec::new();
    for w in want {
        match map.remove(&w.name) {
            Some(t) => found.push(t),
            None => missing.push(w.name.as_str()),
        }
    }
    if !missing.is_empty() {
        return Err(format!("{} of the model's tensors are not in the file: {}{}", missing.len(), listed(&missing), by_position_hint()));
    }
    if !map.is_empty() {
        let mut extra: Vec<&str> = map.keys().map(String::as_str).collect();
        extra.sort_unstable();
        return Err(format!("the file has {} tensors the model does not have: {}{}", extra.len(), listed(&extra), by_position_hint()));
    }
    Ok(found)
}

fn by_position_hint() -> &'static str {
    " (weights written for another program of the same network load with `--weights-by position`)"
}

fn listed(names: &[&str]) -> String {
    const SHOWN: usize = 5;
    let head = names.iter().take(SHOWN).map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
    if names.len() > SHOWN { format!("{head}, … ({} more)", names.len() - SHOWN) } else { head }
}

fn by_position(want: &[NamedTensor], have: Vec<NamedTensor>) -> Result<Vec<NamedTensor>, String> {
    if want.len() != have.len() {
        // The first place the shapes part names the likely cause better than the counts alone.
        let first = want.iter().zip(&have).position(|(w, h)| squeezed(&w.shape) != squeezed(&h.shape));
        let at = first.map_or(String::new(), |k| {
            format!(
                "; the first mismatch is tensor {}: the file's `{}` {} against the model's `{}` {}",
                k + 1,
                have[k].name,
                shown(&have[k].shape),
                want[k].name,
                shown(&want[k].shape)
            )
        });
        return Err(format!("the file has {} tensors and the model {}{at}", have.len(), want.len()));
    }
    Ok(have)
}

fn tensor<const D: usize>(data: Vec<f32>, shape: [usize; D], like: &Tensor<D>) -> Tensor<D> {
    Tensor::from_data(TensorData::new(data, shape), &like.device())
}

fn param<const D: usize>(p: &Param<Tensor<D>>, data: Vec<f32>) -> Param<Tensor<D>> {
    let old = p.val();
    let shape = old.dims();
    Param::from_tensor(tensor(data, shape, &old))
}

fn running(s: &RunningState<Tensor<1>>, data: Vec<f32>) -> RunningState<Tensor<1>> {
    let old = s.value();
    let shape = old.dims();
    RunningState::new(tensor(data, shape, &old))
}

/// Set one layer's tensors, given in `layer_tensors`' order and layouts.
fn set_layer(layer: &mut Layer, mut ts: std::vec::IntoIter<NamedTensor>) {
    let mut next = || ts.next().map(|t| t.data).unwrap_or_default();
    match layer {
        Layer::Linear(l) => {
            let w = l.weight.val();
            let [i, o] = w.dims();
            // PyTorch's `[out, in]` back to burn's `[in, out]`.
            let t = Tensor::<2>::from_data(TensorData::new(next(), [o, i]), &w.device()).transpose();
            l.weight = Param::from_tensor(t);
            if let Some(b) = &l.bias {
                l.bias = Some(param(b, next()));
            }
        }
        Layer::Conv(c) => {
            c.weight = param(&c.weight, next());
            if let Some(b) = &c.bias {
                c.bias = Some(param(b, next()));
            }
        }
        Layer::BatchNorm(bn) => {
            bn.gamma = param(&bn.gamma, next());
            bn.beta = param(&bn.beta, next());
            bn.running_mean = running(&bn.running_mean, next());
            bn.running_var = running(&bn.running_var, next());
        }
        Layer::LayerNorm(ln) => {
            ln.gamma = param(&ln.gamma, next());
            if let Some(b) = &ln.beta {
                ln.beta = Some(param(b, next()));
            }
        }
        Layer::GroupNorm(gn) => {
            if let Some(g) = &gn.gamma {
                gn.gamma = Some(param(g, next()));
            }
            if let Some(b) = &gn.beta {
                gn.beta = Some(param(b, next()));
            }
        }
        Layer::Param(p) => *p = param(p, next()),
        Layer::Dropout(_) | Layer::MaxPool(_) | Layer::AvgPool(_) | Layer::Stateless(_) => {}
    }
}

/// The tensors that hold the input normalisation a model was trained with (`(x − mean) / std`
/// per channel): saved beside the layers' weights, applied by `nasc infer`, `--emit onnx` and
/// `--emit torch`'s module (as buffers of these names).
pub const INPUT_MEAN: &str = "input_mean";
pub const INPUT_STD: &str = "input_std";

fn is_normalisation(name: &str) -> bool {
    name == INPUT_MEAN || name == INPUT_STD
}

/// A normalisation as the two tensors a weights file keeps it in.
pub fn normalisation_tensors(n: &Normalisation) -> Vec<NamedTensor> {
    vec![
        NamedTensor { name: INPUT_MEAN.into(), shape: vec![n.mean.len()], data: n.mean.clone() },
        NamedTensor { name: INPUT_STD.into(), shape: vec![n.std.len()], data: n.std.clone() },
    ]
}

/// The normalisation kept among `ts`, when both of its tensors are there and agree.
pub fn normalisation_of(ts: &[NamedTensor]) -> Option<Normalisation> {
    let get = |name: &str| ts.iter().find(|t| t.name == name).map(|t| t.data.clone());
    let (mean, std) = (get(INPUT_MEAN)?, get(INPUT_STD)?);
    (mean.len() == std.len() && std.iter().all(|s| *s > 0.0)).then_some(Normalisation { mean, std })
}

/// The input normalisation that goes with a weights file: in a safetensors file its tensors,
/// beside a `.bpk` the `normalisation` of `metrics.json` (as `nasc train` writes them).
pub fn normalisation_for(path: &Path) -> Option<Normalisation> {
    if is_safetensors(path) {
        return read_safetensors(path).ok().and_then(|ts| normalisation_of(&ts));
    }
    let metrics = std::fs::read_to_string(path.with_file_name("metrics.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&metrics).ok()?;
    serde_json::from_value(v.get("normalisation")?.clone()).ok()
}

/// Load `have` into `net`: every tensor of the model must be matched, with its shape. The
/// input normalisation's tensors are not the model's and are left aside.
pub fn load(mut net: Net, have: Vec<NamedTensor>, by: MatchBy) -> Result<Net, String> {
    let have: Vec<NamedTensor> = have.into_iter().filter(|t| !is_normalisation(&t.name)).collect();
    let want = tensors(&net);
    let mut found = pair_up(&want, have, by)?.into_iter();
    for i in 0..net.layers.len() {
        let n = layer_tensors(&net, i).len();
        let mine: Vec<NamedTensor> = found.by_ref().take(n).collect();
        set_layer(&mut net.layers[i], mine.into_iter());
    }
    Ok(net)
}

/// The metadata key holding the tensors' declaration order (a JSON list of names):
/// safetensors files store tensors sorted by name.
pub const ORDER_KEY: &str = "order";

/// Tensors as the bytes of a safetensors file (metadata: `format: pt`, their order, and `extra`).
pub fn safetensors_bytes(ts: &[NamedTensor], extra: &[(&str, String)]) -> Result<Vec<u8>, String> {
    let bytes: Vec<Vec<u8>> = ts.iter().map(|t| t.data.iter().flat_map(|v| v.to_le_bytes()).collect()).collect();
    let views = ts
        .iter()
        .zip(&bytes)
        .map(|(t, b)| safetensors::tensor::TensorView::new(safetensors::Dtype::F32, t.shape.clone(), b).map(|v| (t.name.clone(), v)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let order: Vec<&str> = ts.iter().map(|t| t.name.as_str()).collect();
    let mut meta: HashMap<String, String> =
        HashMap::from([("format".to_string(), "pt".to_string()), (ORDER_KEY.to_string(), serde_json::to_string(&order).unwrap_or_default())]);
    meta.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    safetensors::serialize(views, Some(meta)).map_err(|e| e.to_string())
}

/// Read a safetensors file's tensors (F32, F64, F16 or BF16 as f32) in declaration order: the
/// order its metadata records, else the order of their data in the file.
pub fn read_safetensors(path: &Path) -> Result<Vec<NamedTensor>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let bad = |e: String| format!("{} is not a safetensors file: {e}", path.display());
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| bad(e.to_string()))?;
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| bad(e.to_string()))?;
    let recorded: Option<Vec<String>> = meta.metadata().as_ref().and_then(|m| m.get(ORDER_KEY)).and_then(|s| serde_json::from_str(s).ok());
    let order = match recorded {
        Some(names) if names.len() == st.len() && names.iter().all(|n| st.tensor(n).is_ok()) => names,
        _ => meta.offset_keys(),
    };
    order
        .into_iter()
        .filter(|name| !ignored(name))
        .map(|name| {
            let view = st.tensor(&name).map_err(|e| bad(e.to_string()))?;
            let data = floats(view.dtype(), view.data())
                .ok_or_else(|| format!("`{name}` in {} is {:?}; nasc reads F32, F64, F16 and BF16 weights", path.display(), view.dtype()))?;
            Ok(NamedTensor { shape: view.shape().to_vec(), data, name })
        })
        .collect()
}

/// Little-endian floats as f32; `None` for other dtypes.
fn floats(dtype: safetensors::Dtype, b: &[u8]) -> Option<Vec<f32>> {
    use safetensors::Dtype;
    let half = |bits: u16, bf: bool| if bf { f32::from_bits((bits as u32) << 16) } else { f16_to_f32(bits) };
    Some(match dtype {
        Dtype::F32 => b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
        Dtype::F64 => b.chunks_exact(8).map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32).collect(),
        Dtype::F16 => b.chunks_exact(2).map(|c| half(u16::from_le_bytes([c[0], c[1]]), false)).collect(),
        Dtype::BF16 => b.chunks_exact(2).map(|c| half(u16::from_le_bytes([c[0], c[1]]), true)).collect(),
        _ => return None,
    })
}

/// IEEE half precision to f32.
pub(super) fn f16_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = ((h >> 10) & 0x1f) as i32;
    let frac = (h & 0x3ff) as f32;
    match exp {
        0 => sign * frac * 2f32.powi(-24),
        31 if frac == 0.0 => sign * f32::INFINITY,
        31 => f32::NAN,
        e => sign * (1.0 + frac / 1024.0) * 2f32.powi(e - 15),
    }
}

/// Load a weights file into `net`: safetensors (by `by`) when its name ends in `.safetensors`,
/// else burn's `.bpk` record as `nasc train` writes it.
pub fn load_file(net: Net, path: &Path, by: MatchBy) -> Result<Net, String> {
    if is_safetensors(path) {
        let ts = read_safetensors(path)?;
        return load(net, ts, by).map_err(|e| format!("cannot load weights {}: {e}", path.display()));
    }
    use burn::module::Module;
    net.try_load_file(path).map_err(|e| format!("cannot load weights {}: {e}", path.display()))
}

pub fn is_safetensors(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "safetensors")
}
