//! `--data npz:FILE`: a NumPy `.npz` archive with `x_train`, `y_train` and, optionally, `x_test`
//! and `y_test` (`np.savez(path, x_train=..., ...)`). Images are uint8 (read as value / 255) or
//! float32 (as given), `[N, H, W]`, `[N, H, W, C]` or, detected and said, `[N, C, H, W]`; labels
//! are integers from 0 to 255.

use super::{DataError, Pixels, Raw, err};
use npyz::{TypeChar, npz::NpzArchive};
use std::path::Path;

/// The training images and, when the archive has them, the test images.
pub(super) fn load(path: &Path) -> Result<(Raw, Option<Raw>), DataError> {
    let name = path.display().to_string();
    let mut archive = NpzArchive::open(path).map_err(|e| DataError(format!("{name}: cannot read it as an .npz archive ({e})")))?;
    let train =
        pair(&mut archive, &name, "x_train", "y_train")?.ok_or_else(|| DataError(format!("{name}: no `x_train` array (it has: {})", names(&archive))))?;
    let test = pair(&mut archive, &name, "x_test", "y_test")?;
    Ok((train, test))
}

fn names(archive: &NpzArchive<std::io::BufReader<std::fs::File>>) -> String {
    let v: Vec<&str> = archive.array_names().collect();
    if v.is_empty() { "no arrays".into() } else { v.join(", ") }
}

/// Images `x` and labels `y`; `None` when the archive has neither.
fn pair(archive: &mut NpzArchive<std::io::BufReader<std::fs::File>>, name: &str, x: &str, y: &str) -> Result<Option<Raw>, DataError> {
    let images = images(archive, name, x)?;
    let labels = labels(archive, name, y)?;
    match (images, labels) {
        (None, None) => Ok(None),
        (Some(_), None) => err(format!("{name}: `{x}` has no `{y}` beside it")),
        (None, Some(_)) => err(format!("{name}: `{y}` has no `{x}` beside it")),
        (Some((_, n, _)), Some(labels)) if labels.len() != n => err(format!("{name}: `{x}` has {n} images but `{y}` has {} labels", labels.len())),
        (Some((pixels, _, shape)), Some(labels)) => Ok(Some(Raw { pixels, labels, shape })),
    }
}

/// (pixels channels last, image count, [H, W, C]).
fn images(archive: &mut NpzArchive<std::io::BufReader<std::fs::File>>, name: &str, x: &str) -> Result<Option<(Pixels, usize, [usize; 3])>, DataError> {
    let bad = |e: std::io::Error| DataError(format!("{name}: `{x}`: {e}"));
    let Some(array) = archive.by_name(x).map_err(bad)? else { return Ok(None) };
    let dims: Vec<usize> = array.shape().iter().map(|&d| d as usize).collect();
    let (n, shape, nchw) = match dims.as_slice() {
        [n, h, w] => (*n, [*h, *w, 1], false),
        // Channels first when the second dim looks like channels and the last does not.
        [n, c, h, w] if matches!(c, 1 | 3 | 4) && !matches!(w, 1 | 3 | 4) => (*n, [*h, *w, *c], true),
        [n, h, w, c] => (*n, [*h, *w, *c], false),
        other => return err(format!("{name}: `{x}` has shape {other:?}; images are [N, H, W], [N, H, W, C] or [N, C, H, W]")),
    };
    if n == 0 || shape.contains(&0) {
        return err(format!("{name}: `{x}` is empty (shape {dims:?})"));
    }
    let npyz::DType::Plain(ty) = array.dtype() else { return err(format!("{name}: `{x}` is not an array of numbers")) };
    let pixels = match (ty.type_char(), ty.size_field()) {
        (TypeChar::Uint, 1) => Pixels::Bytes(array.into_vec::<u8>().map_err(bad)?, 255.0),
        (TypeChar::Float, 4) => Pixels::Floats(array.into_vec::<f32>().map_err(bad)?),
        _ => return err(format!("{name}: `{x}` is {ty}; images are uint8 or float32")),
    };
    if nchw {
        eprintln!("note: {name}: `{x}` is [N, C, H, W] (channels first); read as [N, H, W, C]");
        return Ok(Some((channels_last(pixels, n, shape), n, shape)));
    }
    Ok(Some((pixels, n, shape)))
}

/// `[N, C, H, W]` values reordered to `[N, H, W, C]`.
fn channels_last(p: Pixels, n: usize, [h, w, c]: [usize; 3]) -> Pixels {
    let order = |k: usize| {
        // Output index k = ((i·H + y)·W + x)·C + ch reads input ((i·C + ch)·H + y)·W + x.
        let (ch, rest) = (k % c, k / c);
        let (x, rest) = (rest % w, rest / w);
        let (y, i) = (rest % h, rest / h);
        ((i * c + ch) * h + y) * w + x
    };
    let len = n * h * w * c;
    match p {
        Pixels::Bytes(b, s) => Pixels::Bytes((0..len).map(|k| b[order(k)]).collect(), s),
        Pixels::Floats(f) => Pixels::Floats((0..len).map(|k| f[order(k)]).collect()),
    }
}

fn labels(archive: &mut NpzArchive<std::io::BufReader<std::fs::File>>, name: &str, y: &str) -> Result<Option<Vec<u8>>, DataError> {
    let bad = |e: std::io::Error| DataError(format!("{name}: `{y}`: {e}"));
    let Some(array) = archive.by_name(y).map_err(bad)? else { return Ok(None) };
    if array.shape().len() != 1 {
        return err(format!("{name}: `{y}` has shape {:?}; labels are one integer per image", array.shape()));
    }
    let npyz::DType::Plain(ty) = array.dtype() else { return err(format!("{name}: `{y}` is not an array of numbers")) };
    let values: Vec<i64> = match (ty.type_char(), ty.size_field()) {
        (TypeChar::Uint, 1) => array.into_vec::<u8>().map_err(bad)?.into_iter().map(i64::from).collect(),
        (TypeChar::Uint, 2) => array.into_vec::<u16>().map_err(bad)?.into_iter().map(i64::from).collect(),
        (TypeChar::Uint, 4) => array.into_vec::<u32>().map_err(bad)?.into_iter().map(i64::from).collect(),
        (TypeChar::Int, 1) => array.into_vec::<i8>().map_err(bad)?.into_iter().map(i64::from).collect(),
        (TypeChar::Int, 2) => array.into_vec::<i16>().map_err(bad)?.into_iter().map(i64::from).collect(),
        (TypeChar::Int, 4) => array.into_vec::<i32>().map_err(bad)?.into_iter().map(i64::from).collect(),
        (TypeChar::Int, 8) => array.into_vec::<i64>().map_err(bad)?,
        _ => return err(format!("{name}: `{y}` is {ty}; labels are integers")),
    };
    match values.iter().position(|v| !(0..=255).contains(v)) {
        Some(k) => err(format!("{name}: `{y}`[{k}] is {}; labels are classes from 0 to 255", values[k])),
        None => Ok(Some(values.into_iter().map(|v| v as u8).collect())),
    }
}
