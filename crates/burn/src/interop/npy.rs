//! Float32 `.npy` arrays in and out (`nasc infer`).

use std::path::Path;

/// A float32 `.npy` file's shape and values (C order).
pub fn read_npy(path: &Path) -> Result<(Vec<usize>, Vec<f32>), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let bad = |e: String| format!("{} is not a float32 .npy array: {e}", path.display());
    let npy = npyz::NpyFile::new(&bytes[..]).map_err(|e| bad(e.to_string()))?;
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    // Before reading: a header may declare far more values than the file holds.
    let declared = shape.iter().try_fold(4usize, |n, &d| n.checked_mul(d));
    if declared.is_none_or(|n| n > bytes.len()) {
        return Err(bad(format!("its shape {shape:?} declares more values than the file holds")));
    }
    if npy.order() != npyz::Order::C {
        return Err(bad("it is in Fortran order; save it with np.ascontiguousarray".into()));
    }
    let data: Vec<f32> = npy.into_vec::<f32>().map_err(|e| bad(e.to_string()))?;
    if data.len() != shape.iter().product::<usize>() {
        return Err(bad("its data is shorter than its shape".into()));
    }
    Ok((shape, data))
}

/// The bytes of a float32 `.npy` file.
pub fn write_npy(shape: &[usize], data: &[f32]) -> Result<Vec<u8>, String> {
    use npyz::WriterBuilder;
    let mut buf = Vec::new();
    let dims: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    let written = (|| -> std::io::Result<()> {
        let mut w = npyz::WriteOptions::<f32>::new().default_dtype().shape(&dims).writer(&mut buf).begin_nd()?;
        w.extend(data.iter().copied())?;
        w.finish()
    })();
    written.map(|()| buf).map_err(|e| e.to_string())
}
