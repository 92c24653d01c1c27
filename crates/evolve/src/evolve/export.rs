//! `nasc evolve --export torch`: every Pareto-front member as a PyTorch module
//! (`candidate_NNNN.py`, as `nasc build --emit torch` writes it) and, when the run kept its
//! trained weights (`--inherit`), those weights as `candidate_NNNN.safetensors`, named as the
//! module's `load_state_dict` expects.

use super::{Evolution, inherit, report};
use burn::tensor::Device;
use nasc_burn::interop::{torch::emit_torch, weights};
use nasc_burn::lower::lower;
use nasc_core::Compilation;
use nasc_core::syntax::ast::TypeExpr;
use std::path::{Path, PathBuf};

/// Write each front member's module (and weights, when kept) into `dir`; the files written.
pub fn export_torch(ev: &Evolution, dir: &Path) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
    let mut written = Vec::new();
    for r in report::pareto(ev.records()) {
        let stem = format!("candidate_{:04}", r.id);
        let c = Compilation::from_source(&format!("{stem}.nas"), &r.source).map_err(|f| format!("candidate #{}: {}", r.id, f.first_message()))?;
        let m = c.model(None).map_err(|f| format!("candidate #{}: {}", r.id, f.first_message()))?;
        let inputs: Vec<String> = m.entry.def.params.iter().filter(|p| matches!(p.ty, TypeExpr::Tensor(..))).map(|p| p.name.name.clone()).collect();
        let py = emit_torch(m.graph, &inputs, &format!("{stem}.nas"), r.params).map_err(|e| format!("candidate #{}: {e}", r.id))?;
        let path = dir.join(format!("{stem}.py"));
        crate::files::write_atomic(&path, py.as_bytes()).map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
        written.push(path);
        let kept = inherit::weights_path(&ev.weights_dir, r.id);
        if kept.exists() {
            let net = lower(m.graph, &Device::flex()).map_err(|e| format!("candidate #{}: {e}", r.id))?;
            let net = weights::load_file(net, &kept, weights::MatchBy::Name)?;
            let bytes = weights::safetensors_bytes(&weights::tensors(&net), &[("model", m.name().to_string())])?;
            let path = dir.join(format!("{stem}.safetensors"));
            crate::files::write_atomic(&path, &bytes).map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
            written.push(path);
        }
    }
    Ok(written)
}
