//! Data sets: the bundled 8×8 digits, MNIST IDX files from a directory (full MNIST or the 5k
//! subset), CIFAR-10 binary batches. Pixels become f32, normalised per channel with the train
//! split's mean and standard deviation. Every failure is a `DataError` that says what and where.

use nasc_core::rng::Rng;
use std::path::{Path, PathBuf};
use std::str::FromStr;

mod files;
mod images;
mod npz;

pub use files::{MAX_DECOMPRESSED, parse_idx_images, parse_idx_labels};
use files::{cifar10, idx_pair, mnist};
#[cfg(test)]
use files::{idx_bytes, image_body};

const DIGITS_IMAGES: &[u8] = include_bytes!("../../../../data/digits/digits-images.idx3-ubyte.gz");
const DIGITS_LABELS: &[u8] = include_bytes!("../../../../data/digits/digits-labels.idx1-ubyte.gz");

#[derive(Clone, Debug, PartialEq)]
pub struct DataError(pub String);

impl std::fmt::Display for DataError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

fn err<T>(m: impl Into<String>) -> Result<T, DataError> {
    Err(DataError(m.into()))
}

/// Where Debian's `dataset-fashion-mnist` installs Zalando's official Fashion-MNIST (60,000 /
/// 10,000 IDX gz files): what `--data fashion` without a directory reads.
pub const OFFICIAL_FASHION: &str = "/usr/share/datasets/fashion-mnist";

/// Where training data comes from: `digits`, `mnist:DIR`, `fashion[:DIR]`, `cifar10:DIR`.
#[derive(Clone, Debug, PartialEq)]
pub enum DataSource {
    Digits,
    Mnist(PathBuf),
    /// Fashion-MNIST: the MNIST IDX layout, named apart so reports say what was trained on.
    Fashion(PathBuf),
    Cifar10(PathBuf),
    /// A NumPy `.npz` archive (`x_train`, `y_train`, optionally `x_test`, `y_test`).
    Npz(PathBuf),
    /// Image files in the ImageFolder layout, decoded at `shape` (the model's input height,
    /// width and channels; `nasc train` and `nasc evolve` set it from the model).
    Images {
        dir: PathBuf,
        shape: Option<[usize; 3]>,
    },
}

impl FromStr for DataSource {
    type Err = String;
    fn from_str(s: &str) -> Result<DataSource, String> {
        match s.split_once(':') {
            None if s == "digits" => Ok(DataSource::Digits),
            None if s == "fashion" => Ok(DataSource::Fashion(OFFICIAL_FASHION.into())),
            Some(("mnist", dir)) if !dir.is_empty() => Ok(DataSource::Mnist(dir.into())),
            Some(("fashion", dir)) if !dir.is_empty() => Ok(DataSource::Fashion(dir.into())),
            Some(("cifar10", dir)) if !dir.is_empty() => Ok(DataSource::Cifar10(dir.into())),
            Some(("npz", file)) if !file.is_empty() => Ok(DataSource::Npz(file.into())),
            Some(("images", rest)) if !rest.is_empty() => images_source(rest),
            _ => Err(format!("unknown data `{s}`: use `digits`, `mnist:DIR`, `fashion`, `fashion:DIR`, `cifar10:DIR`, `npz:FILE` or `images:DIR`")),
        }
    }
}

/// `DIR` or `DIR@HxWxC`.
fn images_source(s: &str) -> Result<DataSource, String> {
    let Some((dir, size)) = s.rsplit_once('@') else { return Ok(DataSource::Images { dir: s.into(), shape: None }) };
    let dims: Vec<usize> =
        size.split('x').map(str::parse).collect::<Result<_, _>>().map_err(|_| format!("`images:{s}`: the size after @ is HxWxC, such as 32x32x3"))?;
    match dims[..] {
        [h, w, c] if h > 0 && w > 0 && matches!(c, 1 | 3) => Ok(DataSource::Images { dir: dir.into(), shape: Some([h, w, c]) }),
        _ => Err(format!("`images:{s}`: the size after @ is HxWxC with C 1 or 3, such as 32x32x3")),
    }
}

impl DataSource {
    /// Image folders decoded at the model's input size `input` (`[B, H, W, C]`) where the
    /// source does not give one; other sources as they are.
    pub fn sized_for(&self, input: &[nasc_core::shape::Dim]) -> DataSource {
        match (self, input) {
            (DataSource::Images { dir, shape: None }, [_, h, w, c]) => match (h.as_int(), w.as_int(), c.as_int()) {
                (Some(h), Some(w), Some(c)) if h > 0 && w > 0 && c > 0 => {
                    DataSource::Images { dir: dir.clone(), shape: Some([h as usize, w as usize, c as usize]) }
                }
                _ => self.clone(),
            },
            _ => self.clone(),
        }
    }

    /// The source with its directory made absolute (so workers in other directories find it),
    /// or the error that says how to get the data.
    pub fn locate(&self) -> Result<DataSource, DataError> {
        let abs = |d: &Path| {
            check_source_dir(self, d)?;
            std::fs::canonicalize(d).map_err(|e| DataError(format!("data directory `{}`: {e}", d.display())))
        };
        Ok(match self {
            DataSource::Digits => DataSource::Digits,
            DataSource::Mnist(d) => DataSource::Mnist(abs(d)?),
            DataSource::Fashion(d) => DataSource::Fashion(abs(d)?),
            DataSource::Cifar10(d) => DataSource::Cifar10(abs(d)?),
            DataSource::Npz(f) => {
                if !f.is_file() {
                    return err(format!("data file {} does not exist", f.display()));
                }
                DataSource::Npz(std::fs::canonicalize(f).map_err(|e| DataError(format!("data file `{}`: {e}", f.display())))?)
            }
            DataSource::Images { dir, shape } => DataSource::Images { dir: abs(dir)?, shape: *shape },
        })
    }
}

/// A missing directory; for the official Fashion-MNIST, how to install it.
fn check_source_dir(src: &DataSource, dir: &Path) -> Result<(), DataError> {
    if dir.is_dir() {
        return Ok(());
    }
    if matches!(src, DataSource::Fashion(_)) && dir == Path::new(OFFICIAL_FASHION) {
        return Err(fashion_not_installed());
    }
    err(format!("data directory {} does not exist", dir.display()))
}

fn fashion_not_installed() -> DataError {
    DataError(format!(
        "the official Fashion-MNIST is not installed ({OFFICIAL_FASHION} does not exist): install Debian's package \
         `dataset-fashion-mnist` with `apt-get install -y dataset-fashion-mnist`, or give a directory of IDX files: --data fashion:DIR"
    ))
}

impl std::fmt::Display for DataSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DataSource::Digits => write!(f, "digits"),
            DataSource::Mnist(d) => write!(f, "mnist:{}", d.display()),
            DataSource::Fashion(d) => write!(f, "fashion:{}", d.display()),
            DataSource::Cifar10(d) => write!(f, "cifar10:{}", d.display()),
            DataSource::Npz(p) => write!(f, "npz:{}", p.display()),
            DataSource::Images { dir, shape: None } => write!(f, "images:{}", dir.display()),
            DataSource::Images { dir, shape: Some([h, w, c]) } => write!(f, "images:{}@{h}x{w}x{c}", dir.display()),
        }
    }
}

/// Images (N·H·W·C floats, channels last) and labels.
#[derive(Clone, Debug, Default)]
pub struct Split {
    pub images: Vec<f32>,
    pub labels: Vec<u8>,
}

impl Split {
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

#[derive(Clone, Debug)]
pub struct Dataset {
    pub name: String,
    /// Height, width, channels.
    pub shape: [usize; 3],
    pub classes: usize,
    pub train: Split,
    pub test: Split,
    /// Pad-and-crop plus horizontal flip when training (CIFAR-10).
    pub augment: bool,
    /// The classes' names where the source names them (image folders), else empty.
    pub class_names: Vec<String>,
    /// How the images were normalised (saved with the weights).
    pub normalisation: Normalisation,
}

impl Dataset {
    pub fn image_len(&self) -> usize {
        self.shape.iter().product()
    }
}

struct Raw {
    pixels: Pixels,
    labels: Vec<u8>,
    shape: [usize; 3],
}

/// Pixel values as a file stores them, channels last: bytes (read as value / scale) or floats.
enum Pixels {
    Bytes(Vec<u8>, f32),
    Floats(Vec<f32>),
}

impl Pixels {
    /// Values `from..to` as floats, onto `out`.
    fn read(&self, from: usize, to: usize, out: &mut Vec<f32>) {
        match self {
            Pixels::Bytes(b, scale) => out.extend(b[from..to].iter().map(|&p| p as f32 / scale)),
            Pixels::Floats(f) => out.extend_from_slice(&f[from..to]),
        }
    }

    fn len(&self) -> usize {
        match self {
            Pixels::Bytes(b, _) => b.len(),
            Pixels::Floats(f) => f.len(),
        }
    }

    /// `other`'s values after these (the batches of one data set).
    fn append(&mut self, other: Pixels) {
        if let (Pixels::Bytes(a, s), Pixels::Bytes(b, t)) = (&mut *self, &other)
            && s == t
        {
            a.extend_from_slice(b);
            return;
        }
        let mut all = Vec::with_capacity(self.len() + other.len());
        self.read(0, self.len(), &mut all);
        other.read(0, other.len(), &mut all);
        *self = Pixels::Floats(all);
    }
}

fn to_split(raw: &Raw, idx: &[usize]) -> Split {
    let len: usize = raw.shape.iter().product();
    let mut images = Vec::with_capacity(idx.len() * len);
    for &i in idx {
        raw.pixels.read(i * len, (i + 1) * len, &mut images);
    }
    Split { images, labels: idx.iter().map(|&i| raw.labels[i]).collect() }
}

/// Per-channel normalisation with the training images' statistics, applied to them and to
/// every other split.
/// The per-channel statistics the images were normalised with, `(x − mean) / std`, from the
/// training images: what a model trained on them expects its inputs to have gone through.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Normalisation {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

fn normalise(train: &mut Split, others: &mut [&mut Split], channels: usize) -> Normalisation {
    let mut sum = vec![0f64; channels];
    let mut sq = vec![0f64; channels];
    for (k, v) in train.images.iter().enumerate() {
        sum[k % channels] += *v as f64;
        sq[k % channels] += (*v as f64).powi(2);
    }
    let n = (train.images.len() / channels).max(1) as f64;
    let mean: Vec<f32> = sum.iter().map(|s| (s / n) as f32).collect();
    let std: Vec<f32> = sum.iter().zip(&sq).map(|(s, q)| ((q / n - (s / n).powi(2)).max(1e-12).sqrt()) as f32).collect();
    for images in std::iter::once(&mut train.images).chain(others.iter_mut().map(|s| &mut s.images)) {
        for (k, v) in images.iter_mut().enumerate() {
            *v = (*v - mean[k % channels]) / std[k % channels];
        }
    }
    Normalisation { mean, std }
}

/// A seeded shuffle of `0..n`.
pub fn permutation(n: usize, rng: &mut Rng) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        v.swap(i, rng.below(i + 1));
    }
    v
}

/// A seeded, stratified choice of `n` of `idx` (each class keeps its share, rounded by largest
/// remainder), in index order. All of `idx` when `n` is at least its length.
pub fn stratified_subset(idx: &[usize], labels: &[u8], n: usize, seed: u64) -> Vec<usize> {
    if n >= idx.len() {
        return idx.to_vec();
    }
    let mut by_class: std::collections::BTreeMap<u8, Vec<usize>> = std::collections::BTreeMap::new();
    for &i in idx {
        by_class.entry(labels[i]).or_default().push(i);
    }
    let total = idx.len();
    let mut quotas: Vec<(u8, usize, usize)> = by_class.iter().map(|(&c, v)| (c, v.len() * n / total, (v.len() * n) % total)).collect();
    let short = n - quotas.iter().map(|q| q.1).sum::<usize>();
    let mut order: Vec<usize> = (0..quotas.len()).collect();
    order.sort_by(|&a, &b| quotas[b].2.cmp(&quotas[a].2).then(quotas[a].0.cmp(&quotas[b].0)));
    for &k in order.iter().take(short) {
        quotas[k].1 += 1;
    }
    let mut chosen = Vec::with_capacity(n);
    for (c, quota, _) in quotas {
        let members = &by_class[&c];
        let mut rng = Rng::new(seed ^ 0x5B5E_7000 ^ u64::from(c));
        chosen.extend(permutation(members.len(), &mut rng).into_iter().take(quota).map(|k| members[k]));
    }
    chosen.sort_unstable();
    chosen
}

pub fn load(src: &DataSource, seed: u64) -> Result<Dataset, DataError> {
    load_subset(src, seed, None)
}

/// `load`, training on a seeded stratified subset of `train_subset` images when given.
pub fn load_subset(src: &DataSource, seed: u64, train_subset: Option<usize>) -> Result<Dataset, DataError> {
    load_split(src, seed, train_subset, 0).map(|(data, _)| data)
}

/// A search's data: a validation split of `val_size` images drawn (seeded, stratified) from the
/// whole training set first, then the training images — all the others, or a stratified subset
/// of `train_subset` of them — so the split is the same whatever subset candidates train on and
/// never overlaps it. The data set's `test` split is the validation split; the real test split
/// comes back beside it. Normalised with the training images' statistics.
pub fn load_validated(src: &DataSource, seed: u64, train_subset: Option<usize>, val_size: usize) -> Result<(Dataset, Split), DataError> {
    if val_size == 0 {
        return err("a validation split needs at least one image");
    }
    let (data, test) = load_split(src, seed, train_subset, val_size)?;
    Ok((data, test.unwrap_or_default()))
}

/// How many images a source's training pool holds (its training set, or the 80 % share where
/// it has no test set): what a validation split is drawn from.
pub fn training_pool_size(src: &DataSource) -> Result<usize, DataError> {
    let (_, train, test, _) = load_raw(src)?;
    Ok(if test.is_some() { train.labels.len() } else { train.labels.len() * 4 / 5 })
}

/// The name, training images, test images (where the source has them) and class names (where
/// the source names its classes) of a source.
fn load_raw(src: &DataSource) -> Result<(String, Raw, Option<Raw>, Vec<String>), DataError> {
    if let DataSource::Mnist(d) | DataSource::Fashion(d) | DataSource::Cifar10(d) | DataSource::Images { dir: d, .. } = src {
        check_source_dir(src, d)?;
    }
    let (name, (train, test)) = match src {
        DataSource::Digits => {
            let raw = idx_pair(DIGITS_IMAGES.to_vec(), DIGITS_LABELS.to_vec(), "digits images", "digits labels", 16.0)?;
            ("digits".to_string(), (raw, None))
        }
        DataSource::Mnist(dir) => ("mnist".to_string(), mnist(dir)?),
        DataSource::Fashion(dir) => ("fashion".to_string(), mnist(dir)?),
        DataSource::Cifar10(dir) => ("cifar10".to_string(), cifar10(dir)?),
        DataSource::Npz(file) => (file.file_stem().map_or("npz".into(), |s| s.to_string_lossy().into_owned()), npz::load(file)?),
        DataSource::Images { shape: None, .. } => {
            return err(format!("{src}: images are decoded at the model's input size; give it as `{src}@HxWxC` (nasc train and evolve fill it in)"));
        }
        DataSource::Images { dir, shape: Some(shape) } => {
            // A fixed seed: without a test folder the test split is the same for every run.
            let (train, test, classes) = images::load(dir, *shape, 0)?;
            let name = dir.file_name().map_or("images".into(), |s| s.to_string_lossy().into_owned());
            return Ok((name, train, test, classes));
        }
    };
    if let Some(t) = test.as_ref().filter(|t| t.shape != train.shape) {
        let dims = |s: [usize; 3]| format!("{}×{}×{}", s[0], s[1], s[2]);
        return err(format!("{src}: the training images are {} but the test images are {}", dims(train.shape), dims(t.shape)));
    }
    Ok((name, train, test, Vec::new()))
}

/// The validation images (a stratified `val_size` of `pool`, the same for every subset) and
/// the training images (a stratified `train_subset` of the rest, or all of it), disjoint.
fn holdout(pool: &[usize], labels: &[u8], val_size: usize, train_subset: Option<usize>, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let val = if val_size > 0 { stratified_subset(pool, labels, val_size, seed ^ 0x7A11_DA7E) } else { Vec::new() };
    let mut in_val = vec![false; labels.len()];
    val.iter().for_each(|&i| in_val[i] = true);
    let rest: Vec<usize> = pool.iter().copied().filter(|&i| !in_val[i]).collect();
    let chosen = stratified_subset(&rest, labels, train_subset.unwrap_or(usize::MAX), seed);
    (val, chosen)
}

/// Load a source: the test split (its own, or a seeded 20 % of the images), then with
/// `val_size > 0` a validation split from the training pool (the data set's `test`, the real
/// test split returned beside it), then the training images from what is left.
fn load_split(src: &DataSource, seed: u64, train_subset: Option<usize>, val_size: usize) -> Result<(Dataset, Option<Split>), DataError> {
    let (name, train, test, class_names) = load_raw(src)?;
    let (pool, mut te) = match &test {
        Some(test) => ((0..train.labels.len()).collect::<Vec<_>>(), to_split(test, &(0..test.labels.len()).collect::<Vec<_>>())),
        None => {
            let order = permutation(train.labels.len(), &mut Rng::new(seed ^ 0xDA7A));
            let cut = train.labels.len() * 4 / 5;
            (order[..cut].to_vec(), to_split(&train, &order[cut..]))
        }
    };
    if pool.is_empty() || te.is_empty() {
        let n = train.labels.len();
        return err(match test {
            Some(_) => format!("{src}: {n} training and {} test images are too few to train and test on", te.labels.len()),
            None => format!("{src}: {n} images are too few to train and test on (without a test file, a fifth of them is the test split)"),
        });
    }
    if val_size >= pool.len() {
        return err(format!("{src}: a validation split of {val_size} images leaves none of the {} training images to train on", pool.len()));
    }
    let (val_idx, chosen) = holdout(&pool, &train.labels, val_size, train_subset, seed);
    let val = (val_size > 0).then(|| to_split(&train, &val_idx));
    let mut tr = to_split(&train, &chosen);
    if tr.is_empty() {
        return err(format!("{src}: no training images are left after the {val_size}-image validation split"));
    }
    let classes = (tr.labels.iter().chain(&te.labels).copied().max().unwrap_or(0) as usize + 1).max(class_names.len());
    let channels = train.shape[2];
    match val {
        Some(mut val) => {
            let normalisation = normalise(&mut tr, &mut [&mut te, &mut val], channels);
            let data =
                Dataset { name, shape: train.shape, classes, train: tr, test: val, augment: matches!(src, DataSource::Cifar10(_)), class_names, normalisation };
            Ok((data, Some(te)))
        }
        None => {
            let normalisation = normalise(&mut tr, &mut [&mut te], channels);
            Ok((
                Dataset { name, shape: train.shape, classes, train: tr, test: te, augment: matches!(src, DataSource::Cifar10(_)), class_names, normalisation },
                None,
            ))
        }
    }
}

/// Images `idx` of a split (already normalised).
fn pick(s: &Split, idx: &[usize], image_len: usize) -> Split {
    let mut images = Vec::with_capacity(idx.len() * image_len);
    for &i in idx {
        images.extend_from_slice(&s.images[i * image_len..(i + 1) * image_len]);
    }
    Split { images, labels: idx.iter().map(|&i| s.labels[i]).collect() }
}

/// Carve a seeded, stratified validation set of `fraction` of the training images out of the
/// training split: the data set to train on (its `test` split is the validation set) and the
/// real test split, kept apart for the final evaluation. The normalisation statistics stay
/// those of the whole training split.
pub fn validation_split(mut data: Dataset, fraction: f64, seed: u64) -> Result<(Dataset, Split), DataError> {
    let n = data.train.len();
    let n_val = (n as f64 * fraction).round() as usize;
    if !(0.0..1.0).contains(&fraction) || n_val == 0 || n_val >= n {
        return err(format!("a validation fraction of {fraction} leaves no validation or no training images out of {n}"));
    }
    let all: Vec<usize> = (0..n).collect();
    let val = stratified_subset(&all, &data.train.labels, n_val, seed ^ 0x7A11_DA7E);
    let mut in_val = vec![false; n];
    val.iter().for_each(|&i| in_val[i] = true);
    let rest: Vec<usize> = all.into_iter().filter(|&i| !in_val[i]).collect();
    let len = data.image_len();
    let (train, val) = (pick(&data.train, &rest, len), pick(&data.train, &val, len));
    data.train = train;
    let test = std::mem::replace(&mut data.test, val);
    Ok((data, test))
}

/// Pad-4 random crop and horizontal flip of one channels-last image, in place.
pub fn augment(img: &mut [f32], shape: [usize; 3], rng: &mut Rng) {
    let [h, w, c] = shape;
    let (dy, dx) = (rng.below(9) as i64 - 4, rng.below(9) as i64 - 4);
    let flip = rng.chance(50);
    let src = img.to_vec();
    for y in 0..h {
        for x in 0..w {
            let sx0 = x as i64 + dx;
            let sx = if flip { w as i64 - 1 - sx0 } else { sx0 };
            let sy = y as i64 + dy;
            for ch in 0..c {
                let v = if (0..h as i64).contains(&sy) && (0..w as i64).contains(&sx) { src[(sy as usize * w + sx as usize) * c + ch] } else { 0.0 };
                img[(y * w + x) * c + ch] = v;
            }
        }
    }
}

#[cfg(test)]
#[path = "data_tests.rs"]
mod tests;
