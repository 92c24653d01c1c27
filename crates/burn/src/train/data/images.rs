//! `--data images:DIR`: image files in PyTorch's ImageFolder layout — `DIR/train/<class>/*`
//! and `DIR/test/<class>/*`, or `DIR/<class>/*` alone (then a seeded stratified fifth of each
//! class is the test split). PNG and JPEG files are decoded, resized to the model's input
//! height and width (bilinear) and made grey or RGB for its channel count. Class names are the
//! sorted folder names. Decoded images are cached under `~/.cache/nasc/images/` (or
//! `$NASC_CACHE`), keyed by every file's path, size and modification time and the size asked,
//! so a search does not decode them again for every candidate.

use super::{DataError, Pixels, Raw, err};
use nasc_core::rng::Rng;
use rayon::prelude::*;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// The files of one split: (path, class index).
struct Listing {
    files: Vec<(PathBuf, u8)>,
}

const EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// Most classes a label byte holds.
const MAX_CLASSES: usize = 256;

fn class_dirs(root: &Path) -> Result<Vec<(String, PathBuf)>, DataError> {
    let entries = std::fs::read_dir(root).map_err(|e| DataError(format!("cannot read {}: {e}", root.display())))?;
    let mut dirs: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .map(|p| (p.file_name().unwrap_or_default().to_string_lossy().into_owned(), p))
        .collect();
    dirs.retain(|(n, _)| !n.starts_with('.'));
    dirs.sort();
    if dirs.is_empty() {
        return err(format!("{} has no class folders (ImageFolder layout: {}/<class>/*.png|jpg)", root.display(), root.display()));
    }
    if dirs.len() > MAX_CLASSES {
        return err(format!("{} has {} class folders; nasc handles at most {MAX_CLASSES}", root.display(), dirs.len()));
    }
    Ok(dirs)
}

fn is_image(p: &Path) -> bool {
    p.extension().and_then(|e| e.to_str()).is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// The image files of `root`'s class folders, labelled by the position of their class in
/// `classes`; an empty class or an unknown class folder is an error.
fn list(root: &Path, classes: &[String]) -> Result<Listing, DataError> {
    let (mut files, mut others) = (Vec::new(), Vec::new());
    for (name, dir) in class_dirs(root)? {
        let Some(label) = classes.iter().position(|c| *c == name) else {
            return err(format!("{} is a class the training folder does not have (its classes: {})", dir.display(), classes.join(", ")));
        };
        let entries = std::fs::read_dir(&dir).map_err(|e| DataError(format!("cannot read {}: {e}", dir.display())))?;
        let (mut found, skipped): (Vec<PathBuf>, Vec<PathBuf>) =
            entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file()).partition(|p| is_image(p));
        if found.is_empty() {
            return err(format!("class folder {} has no .png or .jpg images", dir.display()));
        }
        found.sort();
        files.extend(found.into_iter().map(|p| (p, label as u8)));
        others.extend(skipped);
    }
    // Said, not silent: a folder of .webp or .bmp images would otherwise train on nothing of it.
    if let Some(first) = others.iter().min() {
        eprintln!("note: {} files in {} are not .png or .jpg and were left out (such as {})", others.len(), root.display(), first.display());
    }
    Ok(Listing { files })
}

/// The training images and test images of `dir`, `shape` = [H, W, C] of the model's input,
/// and the class names.
pub(super) fn load(dir: &Path, shape: [usize; 3], seed: u64) -> Result<(Raw, Option<Raw>, Vec<String>), DataError> {
    if !matches!(shape[2], 1 | 3) {
        return err(format!("images are read as grey (1 channel) or RGB (3 channels); the model takes {}", shape[2]));
    }
    let (train_root, test_root) = match (dir.join("train"), dir.join("test")) {
        (tr, te) if tr.is_dir() => (tr, te.is_dir().then_some(te)),
        _ => (dir.to_path_buf(), None),
    };
    let classes: Vec<String> = class_dirs(&train_root)?.into_iter().map(|(n, _)| n).collect();
    let train = list(&train_root, &classes)?;
    let test = test_root.as_deref().map(|t| list(t, &classes)).transpose()?;
    let (train, test) = match test {
        Some(test) => (decode_cached(&train, shape, dir)?, Some(decode_cached(&test, shape, dir)?)),
        None => {
            let (tr, te) = stratified_split(train, seed);
            (decode_cached(&tr, shape, dir)?, Some(decode_cached(&te, shape, dir)?))
        }
    };
    Ok((train, test, classes))
}

/// A seeded fifth of each class (at least one image where a class has two or more) as the test
/// split, the rest for training.
fn stratified_split(all: Listing, seed: u64) -> (Listing, Listing) {
    let mut rng = Rng::new(seed ^ 0x1A6E_F01D);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    let classes = all.files.iter().map(|(_, l)| *l as usize + 1).max().unwrap_or(0);
    for c in 0..classes {
        let mut mine: Vec<(PathBuf, u8)> = all.files.iter().filter(|(_, l)| *l as usize == c).cloned().collect();
        for i in (1..mine.len()).rev() {
            mine.swap(i, rng.below(i + 1));
        }
        let cut = if mine.len() >= 2 { (mine.len() / 5).max(1) } else { 0 };
        test.extend(mine.drain(..cut));
        train.extend(mine);
    }
    (Listing { files: train }, Listing { files: test })
}

/// The cache file for `listing` at `shape`: a hash of every file's path, size and modification
/// time, and the shape.
fn cache_path(listing: &Listing, shape: [usize; 3]) -> Option<PathBuf> {
    let root = std::env::var_os("NASC_CACHE").map(PathBuf::from).or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("nasc")))?;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    };
    eat(format!("{shape:?}").as_bytes());
    for (p, label) in &listing.files {
        let meta = std::fs::metadata(p).ok()?;
        let mtime = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
        eat(format!("{}\0{}\0{mtime}\0{label}\n", p.display(), meta.len()).as_bytes());
    }
    Some(root.join("images").join(format!("{h:016x}.bin")))
}

fn decode_cached(listing: &Listing, shape: [usize; 3], dir: &Path) -> Result<Raw, DataError> {
    let labels: Vec<u8> = listing.files.iter().map(|(_, l)| *l).collect();
    let size = shape.iter().product::<usize>();
    let cache = cache_path(listing, shape);
    if let Some(bytes) = cache.as_ref().and_then(|c| std::fs::read(c).ok()).filter(|b| b.len() == size * labels.len()) {
        return Ok(Raw { pixels: Pixels::Bytes(bytes, 255.0), labels, shape });
    }
    let pixels = decode_all(listing, shape, dir)?;
    if let Some(c) = &cache {
        // A cache that cannot be written only costs decoding again next time.
        let _ = std::fs::create_dir_all(c.parent().unwrap_or(Path::new("."))).and_then(|()| nasc_core::files::write_atomic(c, &pixels));
    }
    Ok(Raw { pixels: Pixels::Bytes(pixels, 255.0), labels, shape })
}

/// Decode every file (in parallel), resized and converted; the first unreadable file is the
/// error. A conversion between grey and RGB is said once.
fn decode_all(listing: &Listing, shape: [usize; 3], dir: &Path) -> Result<Vec<u8>, DataError> {
    let n = listing.files.len();
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new(n as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template("decoding {pos}/{len} images {bar:30}").unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let decoded: Vec<Result<(Vec<u8>, bool), DataError>> = listing
        .files
        .par_iter()
        .map(|(p, _)| {
            let r = decode_one(p, shape);
            if let Some(b) = &bar {
                b.inc(1);
            }
            r
        })
        .collect();
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let mut pixels = Vec::with_capacity(n * shape.iter().product::<usize>());
    let mut converted = 0usize;
    for d in decoded {
        let (img, conv) = d?;
        converted += conv as usize;
        pixels.extend_from_slice(&img);
    }
    if converted > 0 {
        let to = if shape[2] == 1 { "grey (the model takes 1 channel)" } else { "RGB (the model takes 3 channels)" };
        eprintln!("note: {converted} of {n} images in {} were converted to {to}", dir.display());
    }
    Ok(pixels)
}

/// One image as H·W·C bytes, and whether its colour had to be converted.
fn decode_one(path: &Path, shape: [usize; 3]) -> Result<(Vec<u8>, bool), DataError> {
    let img = image::ImageReader::open(path)
        .map_err(|e| DataError(format!("cannot read {}: {e}", path.display())))?
        .with_guessed_format()
        .map_err(|e| DataError(format!("cannot read {}: {e}", path.display())))?
        .decode()
        .map_err(|e| DataError(format!("{} is not a readable PNG or JPEG image: {e}", path.display())))?;
    let grey = !img.color().has_color();
    let (h, w) = (shape[0] as u32, shape[1] as u32);
    let img = if img.width() == w && img.height() == h { img } else { img.resize_exact(w, h, image::imageops::FilterType::Triangle) };
    Ok(match shape[2] {
        1 => (img.to_luma8().into_raw(), !grey),
        _ => (img.to_rgb8().into_raw(), grey),
    })
}
