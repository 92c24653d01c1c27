use super::*;

#[test]
fn digits_load_and_split() {
    let d = load(&DataSource::Digits, 0).expect("bundled");
    assert_eq!(d.shape, [8, 8, 1]);
    assert_eq!(d.classes, 10);
    assert_eq!(d.train.len() + d.test.len(), 1797);
    assert_eq!(d.train.len(), 1797 * 4 / 5);
    let again = load(&DataSource::Digits, 0).expect("bundled");
    assert_eq!(d.test.labels, again.test.labels);
}

#[test]
fn validation_is_carved_from_training_stratified_and_seeded() {
    let data = load_subset(&DataSource::Digits, 3, None).expect("digits");
    let (n_train, n_test) = (data.train.len(), data.test.len());
    let (a, test) = validation_split(data.clone(), 0.1, 7).expect("splits");
    assert_eq!(test.len(), n_test, "the test split is kept whole");
    assert_eq!(a.test.len(), (n_train as f64 * 0.1).round() as usize);
    assert_eq!(a.train.len() + a.test.len(), n_train);
    let (b, _) = validation_split(data.clone(), 0.1, 7).expect("splits");
    assert_eq!(a.test.labels, b.test.labels, "same seed, same validation set");
    let count = |s: &Split, c: u8| s.labels.iter().filter(|&&l| l == c).count() as f64;
    for c in 0..10 {
        let share = count(&a.test, c) / a.test.len() as f64;
        let whole = (count(&a.test, c) + count(&a.train, c)) / n_train as f64;
        assert!((share - whole).abs() < 0.02, "class {c}: {share} vs {whole}");
    }
    assert!(validation_split(data, 0.0, 1).is_err());
}

#[test]
fn the_validation_split_is_fixed_disjoint_and_stratified() {
    let labels: Vec<u8> = (0..2000).map(|i| (i % 7 % 4) as u8).collect();
    let pool: Vec<usize> = (0..1900).collect();
    let (val, all) = holdout(&pool, &labels, 300, None, 9);
    let (val_sub, sub) = holdout(&pool, &labels, 300, Some(200), 9);
    assert_eq!(val, val_sub, "the validation split does not depend on the training subset");
    assert_eq!((val.len(), all.len(), sub.len()), (300, 1600, 200));
    assert!(val.iter().all(|i| !all.contains(i) && !sub.contains(i) && *i < 1900), "validation overlaps training or leaves the pool");
    assert!(sub.iter().all(|i| all.contains(i)));
    let share = |idx: &[usize], c: u8| idx.iter().filter(|&&i| labels[i] == c).count() as f64 / idx.len() as f64;
    for c in 0..4 {
        assert!((share(&val, c) - share(&pool, c)).abs() < 0.01, "class {c}");
    }
    let (d, test) = load_validated(&DataSource::Digits, 3, Some(200), 300).unwrap();
    let whole = load(&DataSource::Digits, 3).unwrap();
    assert_eq!((d.train.len(), d.test.len()), (200, 300));
    assert_eq!(test.labels, whole.test.labels, "the test split is kept whole");
    let e = load_validated(&DataSource::Digits, 3, None, 5000).unwrap_err().0;
    assert_eq!(e, "digits: a validation split of 5000 images leaves none of the 1437 training images to train on");
    assert_eq!(training_pool_size(&DataSource::Digits).unwrap(), 1437);
}

#[test]
fn official_fashion_is_the_default_directory_and_its_absence_says_how_to_install_it() {
    assert_eq!("fashion".parse::<DataSource>().unwrap(), DataSource::Fashion(OFFICIAL_FASHION.into()));
    let missing = DataSource::Fashion("/nonexistent/fashion".into());
    assert_eq!(missing.locate().unwrap_err().0, "data directory /nonexistent/fashion does not exist");
    assert!(fashion_not_installed().0.contains("`apt-get install -y dataset-fashion-mnist`"));
    let official = DataSource::Fashion(OFFICIAL_FASHION.into());
    match official.locate() {
        Ok(found) => assert_eq!(training_pool_size(&found).unwrap(), 60_000, "the official training set"),
        Err(e) => assert_eq!(e, fashion_not_installed()),
    }
}

#[test]
fn subsets_are_stratified_seeded_and_complete() {
    let labels: Vec<u8> = (0..1000)
        .map(|i| {
            if i < 700 {
                0
            } else if i < 900 {
                1
            } else {
                2
            }
        })
        .collect();
    let idx: Vec<usize> = (0..1000).collect();
    let pick = stratified_subset(&idx, &labels, 101, 5);
    assert_eq!(pick.len(), 101);
    let count = |c: u8| pick.iter().filter(|&&i| labels[i] == c).count();
    assert_eq!((count(0), count(1), count(2)), (71, 20, 10), "70.7 / 20.2 / 10.1 by largest remainder");
    assert_eq!(pick, stratified_subset(&idx, &labels, 101, 5), "same seed, same subset");
    assert_ne!(pick, stratified_subset(&idx, &labels, 101, 6));
    assert_eq!(stratified_subset(&idx, &labels, 5000, 5), idx);
    let d = load_subset(&DataSource::Digits, 0, Some(100)).unwrap();
    assert_eq!(d.train.len(), 100);
    assert_eq!(d.test.len(), load(&DataSource::Digits, 0).unwrap().test.len(), "the test split is untouched");
}

/// A gzip file is read only as far as its IDX header declares: a bomb behind a valid header
/// stops there, and bytes beyond the declared data are an error, compressed or not.
#[test]
fn gzip_bombs_and_overlong_files_are_refused() {
    use std::io::Write;
    let header = [0, 0, 8, 3, 0, 0, 0, 5, 0, 0, 0, 2, 0, 0, 0, 2];
    let gzip = |bytes: &[u8]| {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(bytes).unwrap();
        gz.finish().unwrap()
    };
    let mut bomb = header.to_vec();
    bomb.resize(16 + (64 << 20), 0);
    let read = idx_bytes(gzip(&bomb), "bomb.gz", 16, image_body).unwrap();
    assert_eq!(read.len(), 16 + 20 + 1, "decompressed up to the declared 5 images of 2×2 and one byte");
    let e = parse_idx_images(&read, "bomb.gz").unwrap_err();
    assert!(e.0.starts_with("bomb.gz: longer than its header declares (5 images of 2×2, 36 bytes"), "{}", e.0);
    let mut exact = header.to_vec();
    exact.resize(36, 7);
    assert_eq!(parse_idx_images(&idx_bytes(gzip(&exact), "ok.gz", 16, image_body).unwrap(), "ok.gz").unwrap().0, 5);
    exact.push(0);
    assert!(parse_idx_images(&exact, "raw").unwrap_err().0.contains("longer than its header declares"));
    let labels = [0, 0, 8, 1, 0, 0, 0, 2, 3, 4, 5];
    assert!(parse_idx_labels(&labels, "l").unwrap_err().0.contains("longer than its header declares (2 labels"));
    let huge = [0, 0, 8, 3, 255, 255, 255, 255, 0, 0, 1, 0, 0, 0, 1, 0];
    let e = idx_bytes(gzip(&huge), "huge.gz", 16, image_body).unwrap_err();
    assert!(e.0.contains("more than 4096 MiB"), "{}", e.0);
}

#[test]
fn bad_idx_files_are_errors() {
    assert!(parse_idx_images(&[0, 0, 8, 3], "x").unwrap_err().0.contains("truncated IDX header"));
    let mut wrong = vec![0u8; 16];
    wrong[3] = 7;
    assert!(parse_idx_images(&wrong, "x").unwrap_err().0.contains("wrong magic number 7"));
    let mut short = vec![0, 0, 8, 3, 0, 0, 0, 5, 0, 0, 0, 2, 0, 0, 0, 2];
    short.extend([1, 2, 3]);
    assert!(parse_idx_images(&short, "x").unwrap_err().0.contains("truncated: header promises 5 images"));
    let mut one_short = vec![0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2];
    one_short.extend([0; 8]);
    assert!(
        parse_idx_images(&one_short, "x").unwrap_err().0.contains("one whole image fewer") && !parse_idx_images(&short, "x").unwrap_err().0.contains("whole")
    );
    assert_eq!(
        "mnist:".parse::<DataSource>().unwrap_err(),
        "unknown data `mnist:`: use `digits`, `mnist:DIR`, `fashion`, `fashion:DIR`, `cifar10:DIR`, `npz:FILE` or `images:DIR`"
    );
}

/// A data set of one image says why it cannot be used, not that it is empty.
#[test]
fn too_few_images_are_named() {
    let dir = std::env::temp_dir().join(format!("nasc-one-image-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let images = [0u8, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4];
    std::fs::write(dir.join("train-images-idx3-ubyte"), images).unwrap();
    std::fs::write(dir.join("train-labels-idx1-ubyte"), [0u8, 0, 8, 1, 0, 0, 0, 1, 3]).unwrap();
    let src = DataSource::Mnist(dir.clone());
    let e = load(&src, 0).unwrap_err().0;
    assert!(e.ends_with("1 images are too few to train and test on (without a test file, a fifth of them is the test split)"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Writes an .npz archive of uint8 or float32 images and integer labels for the tests below.
fn write_npz(path: &std::path::Path, arrays: &[(&str, &[u64], NpzData)]) {
    use npyz::WriterBuilder;
    let mut npz = npyz::npz::NpzWriter::create(path).unwrap();
    for (name, shape, data) in arrays {
        match data {
            NpzData::U8(v) => {
                let mut w = npz.array::<u8>(name, Default::default()).unwrap().default_dtype().shape(shape).begin_nd().unwrap();
                w.extend(v.iter().copied()).unwrap();
                w.finish().unwrap();
            }
            NpzData::F32(v) => {
                let mut w = npz.array::<f32>(name, Default::default()).unwrap().default_dtype().shape(shape).begin_nd().unwrap();
                w.extend(v.iter().copied()).unwrap();
                w.finish().unwrap();
            }
            NpzData::I64(v) => {
                let mut w = npz.array::<i64>(name, Default::default()).unwrap().default_dtype().shape(shape).begin_nd().unwrap();
                w.extend(v.iter().copied()).unwrap();
                w.finish().unwrap();
            }
        }
    }
}

enum NpzData {
    U8(Vec<u8>),
    F32(Vec<f32>),
    I64(Vec<i64>),
}

/// `--data npz:FILE`: grey uint8 [N, H, W] with a test split, float32 channels-first
/// [N, C, H, W] read channels last, and each malformed archive named.
#[test]
fn npz_archives_load_and_bad_ones_are_named() {
    let dir = std::env::temp_dir().join(format!("nasc-npz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let grey = dir.join("grey.npz");
    let labels: Vec<i64> = (0..40).map(|i| i % 4).collect();
    write_npz(
        &grey,
        &[
            ("x_train", &[40, 4, 5], NpzData::U8((0..800).map(|i| (i % 251) as u8).collect())),
            ("y_train", &[40], NpzData::I64(labels.clone())),
            ("x_test", &[8, 4, 5], NpzData::U8(vec![7; 160])),
            ("y_test", &[8], NpzData::I64(vec![0, 1, 2, 3, 0, 1, 2, 3])),
        ],
    );
    let src: DataSource = format!("npz:{}", grey.display()).parse().unwrap();
    let d = load(&src, 0).unwrap();
    assert_eq!((d.shape, d.classes, d.train.len(), d.test.len()), ([4, 5, 1], 4, 40, 8));
    // Channels first, float32: the value at (image 1, channel 2, y 0, x 3) lands channels last.
    let planar = dir.join("planar.npz");
    let (n, c, h, w) = (10usize, 3usize, 5usize, 6usize);
    let values: Vec<f32> = (0..n * c * h * w).map(|k| k as f32).collect();
    write_npz(&planar, &[("x_train", &[10, 3, 5, 6], NpzData::F32(values)), ("y_train", &[10], NpzData::U8((0..10).map(|i| (i % 2) as u8).collect()))]);
    let (train, _) = npz::load(&planar).unwrap();
    assert_eq!(train.shape, [5, 6, 3]);
    let mut image = Vec::new();
    train.pixels.read(h * w * c, 2 * h * w * c, &mut image);
    assert_eq!(image[3 * c + 2], (((c + 2) * h) * w + 3) as f32);
    // Malformed archives.
    let bad = |name: &str, arrays: &[(&str, &[u64], NpzData)]| {
        let p = dir.join(name);
        write_npz(&p, arrays);
        npz::load(&p).err().expect("refused").0
    };
    let e = bad("short.npz", &[("x_train", &[4, 2, 2], NpzData::U8(vec![0; 16])), ("y_train", &[3], NpzData::I64(vec![0, 1, 2]))]);
    assert!(e.ends_with("`x_train` has 4 images but `y_train` has 3 labels"), "{e}");
    let e = bad("range.npz", &[("x_train", &[2, 2, 2], NpzData::U8(vec![0; 8])), ("y_train", &[2], NpzData::I64(vec![1, 300]))]);
    assert!(e.ends_with("`y_train`[1] is 300; labels are classes from 0 to 255"), "{e}");
    let e = bad("nolabels.npz", &[("x_train", &[2, 2, 2], NpzData::U8(vec![0; 8]))]);
    assert!(e.ends_with("`x_train` has no `y_train` beside it"), "{e}");
    let e = bad("other.npz", &[("images", &[2, 2, 2], NpzData::U8(vec![0; 8]))]);
    assert!(e.ends_with("no `x_train` array (it has: images)"), "{e}");
    let e = bad("int.npz", &[("x_train", &[2, 2, 2], NpzData::I64(vec![0; 8])), ("y_train", &[2], NpzData::I64(vec![0, 1]))]);
    assert!(e.contains("`x_train` is <i8; images are uint8 or float32"), "{e}");
    std::fs::write(dir.join("text.npz"), "not a zip").unwrap();
    assert!(npz::load(&dir.join("text.npz")).err().expect("refused").0.contains("cannot read it as an .npz archive"));
    assert_eq!(
        "npz:".parse::<DataSource>().unwrap_err(),
        "unknown data `npz:`: use `digits`, `mnist:DIR`, `fashion`, `fashion:DIR`, `cifar10:DIR`, `npz:FILE` or `images:DIR`"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
