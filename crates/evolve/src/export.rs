//! `nasc evolve --export torch|onnx`: every Pareto-front member as a PyTorch module
//! (`candidate_NNNN.py`, as `nasc build --emit torch` writes it, with its trained weights as
//! `candidate_NNNN.safetensors` when the run kept them: `--inherit`) or as an ONNX model
//! (`candidate_NNNN.onnx`, with the kept weights, else freshly initialised ones, said once).

use super::{Error, Evolution, inherit, select};
use burn::tensor::Device;
use nasc_burn::interop::{onnx::export_onnx, torch::emit_torch, weights};
use nasc_burn::lower::lower;
use nasc_core::Compilation;
use std::path::{Path, PathBuf};

/// What `export` writes per front member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Torch,
    Onnx,
}

/// Write each front member in `format` into `dir`; the files written.
pub fn export(ev: &Evolution, dir: &Path, format: Format) -> Result<Vec<PathBuf>, Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
    let mut written = Vec::new();
    for r in select::pareto(ev.records()) {
        let stem = format!("candidate_{:04}", r.id);
        let of_candidate = |why: String| Error::Program(format!("candidate #{}: {why}", r.id));
        let c = Compilation::from_source(&format!("{stem}.nas"), &r.source).map_err(|f| of_candidate(f.first_message()))?;
        let m = c.model(None).map_err(|f| of_candidate(f.first_message()))?;
        let inputs: Vec<String> = m.input_names();
        let kept = inherit::weights_path(&ev.weights_dir, r.id, ev.settings.weights_safetensors);
        let net = || -> Result<_, Error> {
            let net = lower(m.graph, &Device::flex()).map_err(|e| of_candidate(e.to_string()))?;
            if kept.exists() {
                weights::load_file(net, &kept, weights::MatchBy::Name).map_err(|e| of_candidate(format!("its kept weights: {e}")))
            } else {
                Ok(net)
            }
        };
        let mut write = |name: String, bytes: &[u8]| -> Result<(), Error> {
            let path = dir.join(name);
            crate::files::write_atomic(&path, bytes).map_err(|e| Error::write(&path, e))?;
            written.push(path);
            Ok(())
        };
        match format {
            Format::Torch => {
                let py = emit_torch(m.graph, &inputs, &format!("{stem}.nas"), r.params).map_err(|e| of_candidate(e.to_string()))?;
                write(format!("{stem}.py"), py.as_bytes())?;
                if kept.exists() {
                    let mut ts = weights::tensors(&net()?);
                    ts.extend(weights::normalisation_for(&kept).iter().flat_map(weights::normalisation_tensors));
                    let bytes = weights::safetensors_bytes(&ts, &[("model", m.name().to_string())]).map_err(of_candidate)?;
                    write(format!("{stem}.safetensors"), &bytes)?;
                }
            }
            Format::Onnx => {
                let norm = weights::normalisation_for(&kept);
                let bytes = export_onnx(m.graph, &net()?, &inputs, norm.as_ref()).map_err(|e| of_candidate(e.to_string()))?;
                write(format!("{stem}.onnx"), &bytes)?;
            }
        }
    }
    if format == Format::Onnx && !ev.settings.inherit {
        eprintln!("note: the run kept no trained weights (it ran without --inherit): the ONNX files hold freshly initialised weights");
    }
    Ok(written)
}
