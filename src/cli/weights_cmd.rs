//! Weights in other formats (`--weights-format`, `--init`, `--weights-by`) and `nasc infer`.

use crate::interop::npy::{read_npy, write_npy};
use crate::interop::weights::{self, MatchBy};
use crate::lower::Net;
use crate::train::data::Normalisation;
use burn::module::Module;
use burn::tensor::{Tensor, TensorData};
use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum WeightsFormat {
    /// burn's record (`weights.bpk`): what nasc itself loads fastest.
    Bpk,
    /// `weights.safetensors`, tensors named as `--emit torch`'s module names them, in
    /// PyTorch's layouts: `model.load_state_dict(safetensors.torch.load_file(...))`.
    Safetensors,
}

impl WeightsFormat {
    pub fn file_name(self) -> &'static str {
        match self {
            WeightsFormat::Bpk => "weights.bpk",
            WeightsFormat::Safetensors => "weights.safetensors",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum WeightsBy {
    /// Tensor names as nasc writes them (`conv_3.weight`).
    Name,
    /// Declaration order, one for one, shapes checked: weights of the same network from
    /// another program (a torchvision state_dict saved as safetensors).
    Position,
}

impl From<WeightsBy> for MatchBy {
    fn from(b: WeightsBy) -> MatchBy {
        match b {
            WeightsBy::Name => MatchBy::Name,
            WeightsBy::Position => MatchBy::Position,
        }
    }
}

/// Write `net`'s weights to `path` in `format`, atomically (an interrupted save leaves the old
/// file). A safetensors file also keeps the input normalisation `norm` and the metadata `extra`.
pub fn save(net: &Net, path: &Path, format: WeightsFormat, norm: &Normalisation, extra: &[(&str, String)]) -> Result<(), String> {
    let written = match format {
        WeightsFormat::Bpk => crate::files::replace_via_temp(path, |tmp| net.clone().save_file(tmp).map_err(|e| std::io::Error::other(e.to_string()))),
        WeightsFormat::Safetensors => {
            let mut ts = weights::tensors(net);
            ts.extend(weights::normalisation_tensors(norm));
            let bytes = weights::safetensors_bytes(&ts, extra)?;
            crate::files::write_atomic(path, &bytes)
        }
    };
    written.map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[derive(Args, Debug)]
pub struct InferArgs {
    /// The .nas file.
    pub file: PathBuf,
    /// Weights: `weights.bpk` or `weights.safetensors` from `nasc train`, or a safetensors
    /// file of the same network from elsewhere (with `--weights-by position`). Without it the
    /// model is freshly initialised from --seed.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// How a safetensors file's tensors are matched to the model's.
    #[arg(long, value_enum, default_value = "name")]
    pub weights_by: WeightsBy,
    /// The inputs: a float32 `.npy` array shaped as the model's input, batch first and
    /// channels last (`[B, H, W, C]` for an image model), with pixels as nasc's data loader
    /// reads them (bytes / 255): the input normalisation that goes with --weights (in a
    /// safetensors file, or metrics.json beside a .bpk) is applied first.
    #[arg(long)]
    pub input: PathBuf,
    /// Where the outputs go, as a float32 `.npy` array.
    #[arg(short, long)]
    pub out: PathBuf,
    #[arg(long)]
    pub model: Option<String>,
    /// Seed for hole filling and, without --weights, initialisation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::FAILURE
}

/// `nasc infer`: the model's outputs (evaluation mode) for inputs from a `.npy` file.
pub fn infer(a: &InferArgs, color: bool) -> ExitCode {
    let loaded = match super::native_cmd::load_model(&a.file, a.model.as_deref(), None, a.seed, color) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let net = match &a.weights {
        Some(w) => match weights::load_file(loaded.net, w, a.weights_by.into()) {
            Ok(n) => n,
            Err(e) => return fail(e),
        },
        None => loaded.net,
    };
    let (shape, mut data) = match read_npy(&a.input) {
        Ok(x) => x,
        Err(e) => return fail(e),
    };
    let want = net.plan.input_shapes.first().cloned().unwrap_or_default();
    if net.plan.inputs.len() != 1 {
        return fail(format!("`nasc infer` runs models with one input; `{}` has {}", loaded.name, net.plan.inputs.len()));
    }
    if let Err(e) = fits(&shape, &want) {
        return fail(format!("{}: {e}", a.input.display()));
    }
    if let Some(n) = a.weights.as_deref().and_then(weights::normalisation_for).filter(|n| shape.last() == Some(&n.mean.len())) {
        normalise(&mut data, &n);
        eprintln!("applied the weights' input normalisation (per channel: mean {:?}, std {:?})", n.mean, n.std);
    }
    let x = input_tensor(&shape, data);
    let outs = net.forward(vec![x]);
    let Some((y, out_shape)) = outs.into_iter().next().zip(net.plan.output_shapes.first()) else {
        return fail("the model has no output");
    };
    let dims: Vec<usize> = y.dims()[crate::lower::RANK - out_shape.len()..].to_vec();
    let values = y.into_data().convert::<f32>().try_to_vec::<f32>().unwrap_or_default();
    let written = write_npy(&dims, &values).and_then(|b| crate::files::write_atomic(&a.out, &b).map_err(|e| e.to_string()));
    match written.map_err(|e| format!("cannot write {}: {e}", a.out.display())) {
        Ok(()) => {
            eprintln!("wrote {} {:?}", a.out.display(), dims);
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// Per-channel `(x − mean) / std` on channels-last values: the inputs are what the data loader
/// reads (bytes / 255), and the model was trained on them normalised with its training set's
/// statistics.
fn normalise(data: &mut [f32], n: &Normalisation) {
    let c = n.mean.len();
    for (k, v) in data.iter_mut().enumerate() {
        *v = (*v - n.mean[k % c]) / n.std[k % c];
    }
}

/// Values of a logical `shape` as the lowered model's rank-6 input.
fn input_tensor(shape: &[usize], data: Vec<f32>) -> Tensor<{ crate::lower::RANK }> {
    let mut dims = [1usize; crate::lower::RANK];
    dims[crate::lower::RANK - shape.len()..].copy_from_slice(shape);
    Tensor::from_data(TensorData::new(data, dims), &burn::tensor::Device::flex())
}

/// Whether an input of `shape` suits a model input of `want` (the batch dim may be any size).
fn fits(shape: &[usize], want: &[crate::shape::Dim]) -> Result<(), String> {
    let shown = |s: &[usize]| format!("[{}]", s.iter().map(usize::to_string).collect::<Vec<_>>().join(", "));
    let model: Vec<String> = want.iter().map(ToString::to_string).collect();
    let ok = shape.len() == want.len() && shape.iter().zip(want).all(|(&n, d)| d.as_int().is_none_or(|k| k == n as i64) && n > 0);
    if ok { Ok(()) } else { Err(format!("the array is {} but the model takes [{}] (channels last)", shown(shape), model.join(", "))) }
}

/// `nasc build FILE --emit onnx -o OUT [--weights W]`: the filled model `c` as an ONNX file.
pub fn emit_onnx(c: &crate::Compilation, model: Option<&str>, weights: Option<&Path>, out: Option<&Path>, seed: u64) -> ExitCode {
    let Some(out) = out else {
        return fail("--emit onnx writes a file: give it with -o (e.g. -o model.onnx)");
    };
    let l = match super::native_cmd::loaded(c, model, weights, seed) {
        Ok(l) => l,
        Err(Ok(code)) => return code,
        Err(Err(f)) => return fail(f.first_message()),
    };
    if weights.is_none() {
        eprintln!("warning: no --weights: the ONNX file holds freshly initialised weights (seed {seed}), not trained ones");
    }
    let inputs: Vec<String> = match c.model(model) {
        Ok(m) => m.input_names(),
        Err(f) => return fail(f.first_message()),
    };
    let norm = weights.and_then(weights::normalisation_for);
    let bytes = match crate::interop::onnx::export_onnx(&l.graph, &l.net, &inputs, norm.as_ref()) {
        Ok(b) => b,
        Err(e) => return fail(format!("cannot export `{}` to ONNX: {e}", l.name)),
    };
    match crate::files::write_atomic(out, &bytes) {
        Ok(()) => {
            eprintln!("wrote {} (ONNX opset {}, channels-last input)", out.display(), crate::interop::onnx::OPSET);
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("cannot write {}: {e}", out.display())),
    }
}
