//! A user's own data through the command line: image folders (`--data images:DIR`, PNG and
//! JPEG, grey and RGB) and NumPy archives (`--data npz:FILE`), trained by `nasc train` and
//! searched by `nasc evolve`, and every broken input named.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn nasc(args: &[&str], cache: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nasc")).args(args).env("NASC_CACHE", cache).output().expect("nasc runs");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nasc-data-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A 12×12 image of class `class` (0: bright top half, 1: bright bottom half) with a little
/// seeded noise.
fn picture(class: usize, k: usize) -> image::RgbImage {
    image::RgbImage::from_fn(12, 12, |x, y| {
        let bright = (y < 6) == (class == 0);
        let noise = ((x as usize * 7 + y as usize * 13 + k * 31) % 40) as u8;
        let v = if bright { 200 + noise / 2 } else { 20 + noise };
        image::Rgb([v, v.saturating_sub(10), v / 2 + 60])
    })
}

/// `root/<split>/<class>/` with `n` images per class, alternately PNG and JPEG, every fifth grey.
fn image_folder(root: &Path, split: &str, n: usize) {
    for (c, name) in ["bottom", "top"].iter().enumerate().map(|(c, n)| (1 - c, n)) {
        let dir = if split.is_empty() { root.join(name) } else { root.join(split).join(name) };
        std::fs::create_dir_all(&dir).unwrap();
        for k in 0..n {
            let img = picture(c, k);
            let path = dir.join(format!("{k:03}.{}", if k % 2 == 0 { "png" } else { "jpg" }));
            if k % 5 == 0 {
                image::DynamicImage::ImageRgb8(img).to_luma8().save(&path).unwrap();
            } else {
                img.save(&path).unwrap();
            }
        }
    }
}

fn accuracy(dir: &Path) -> f64 {
    let m: serde_json::Value = std::fs::read_to_string(dir.join("metrics.json")).unwrap().parse().unwrap();
    m["test_accuracy"].as_f64().unwrap()
}

#[test]
fn image_folders_train_and_search() {
    let dir = temp_dir("images");
    let cache = dir.join("cache");
    let data = dir.join("shapes");
    image_folder(&data, "train", 40);
    image_folder(&data, "test", 10);
    let src = format!("images:{}", data.display());
    let run = dir.join("run");
    // cnn_digits takes 8×8 grey: the 12×12 RGB images are resized and made grey, said once.
    let (code, _, err) = nasc(&["train", "examples/cnn_digits.nas", "--data", &src, "--epochs", "3", "--quiet", "--out", s(&run)], &cache);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("note: 64 of 80 images in") && err.contains("were converted to grey"), "{err}");
    assert!(err.contains("(80 train / 20 test images)"), "{err}");
    assert!(accuracy(&run) >= 0.9, "a separable task: {}", accuracy(&run));
    let m: serde_json::Value = std::fs::read_to_string(run.join("metrics.json")).unwrap().parse().unwrap();
    assert_eq!(m["classes"], serde_json::json!(["bottom", "top"]));
    assert!(m["data"].as_str().unwrap().ends_with("shapes@8x8x1"), "{}", m["data"]);
    // Decoded once: the second run reads the cache.
    let cached = std::fs::read_dir(cache.join("images")).unwrap().count();
    assert_eq!(cached, 2, "train and test splits cached");
    let (code, _, err) = nasc(&["eval", "examples/cnn_digits.nas", "--data", &src, "--weights", s(&run.join("weights.bpk"))], &cache);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("converted"), "read from the cache, not decoded again: {err}");

    let store = dir.join("search.sqlite");
    let args = ["evolve", "examples/mlp_digits.nas", "--data", &src, "--trials", "2", "--epochs", "1", "--final-epochs", "0", "--quiet", "--store", s(&store)];
    let (code, _, err) = nasc(&args, &cache);
    assert_eq!(code, 0, "{err}");
    let (_, status, _) = nasc(&["evolve", "--status", s(&store)], &cache);
    assert!(status.contains("shapes@8x8x1"), "{status}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn image_folder_without_test_split_is_split_by_class() {
    let dir = temp_dir("images-split");
    let data = dir.join("flat");
    image_folder(&data, "", 10);
    let run = dir.join("run");
    let src = format!("images:{}@12x12x3", data.display());
    let (code, _, err) = nasc(&["train", "examples/cnn_digits.nas", "--data", &src, "--epochs", "1", "--quiet", "--out", s(&run)], &dir.join("cache"));
    // The size given does not fit cnn_digits' 8×8×1 input: named before training.
    assert_eq!(code, 1);
    assert!(err.contains("the data has 12×12×3 images ([B, 12, 12, 3]) but the model takes [B, 8, 8, 1]"), "{err}");
    let src = format!("images:{}", data.display());
    let (code, _, err) = nasc(&["train", "examples/cnn_digits.nas", "--data", &src, "--epochs", "1", "--quiet", "--out", s(&run)], &dir.join("cache"));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("(16 train / 4 test images)"), "a fifth of each class: {err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn broken_image_folders_are_named() {
    let dir = temp_dir("images-bad");
    let cache = dir.join("cache");
    let train = |data: &Path| {
        let src = format!("images:{}", data.display());
        nasc(&["train", "examples/cnn_digits.nas", "--data", &src, "--epochs", "1", "--quiet", "--out", s(&dir.join("run"))], &cache)
    };
    let data = dir.join("truncated");
    image_folder(&data, "train", 4);
    let bad = data.join("train").join("top").join("001.jpg");
    let bytes = std::fs::read(&bad).unwrap();
    std::fs::write(&bad, &bytes[..bytes.len() / 3]).unwrap();
    let (code, _, err) = train(&data);
    assert_eq!(code, 1);
    assert!(err.contains("001.jpg is not a readable PNG or JPEG image"), "{err}");

    let data = dir.join("other-files");
    image_folder(&data, "train", 4);
    std::fs::write(data.join("train").join("top").join("notes.txt"), "not an image").unwrap();
    let (code, _, err) = train(&data);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("note: 1 files in") && err.contains("are not .png or .jpg and were left out (such as") && err.contains("notes.txt"), "{err}");

    let data = dir.join("empty-class");
    image_folder(&data, "train", 4);
    std::fs::create_dir_all(data.join("train").join("nothing")).unwrap();
    let (code, _, err) = train(&data);
    assert_eq!(code, 1);
    assert!(err.contains("class folder") && err.contains("nothing has no .png or .jpg images"), "{err}");

    let data = dir.join("extra-test-class");
    image_folder(&data, "train", 4);
    image_folder(&data, "test", 2);
    std::fs::create_dir_all(data.join("test").join("middle")).unwrap();
    std::fs::copy(data.join("test").join("top").join("000.png"), data.join("test").join("middle").join("0.png")).unwrap();
    let (code, _, err) = train(&data);
    assert_eq!(code, 1);
    assert!(err.contains("middle is a class the training folder does not have (its classes: bottom, top)"), "{err}");

    let data = dir.join("no-classes");
    std::fs::create_dir_all(&data).unwrap();
    let (code, _, err) = train(&data);
    assert_eq!(code, 1);
    assert!(err.contains("has no class folders"), "{err}");

    let (code, _, err) = nasc(&["train", "examples/cnn_digits.nas", "--data", "images:x@8x8x2"], &cache);
    assert_eq!(code, 2);
    assert!(err.contains("the size after @ is HxWxC with C 1 or 3"), "{err}");
    let (code, _, err) = train(&dir.join("missing"));
    assert_eq!(code, 1);
    assert!(err.contains("does not exist"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn npz_archives_train_and_search() {
    use npyz::WriterBuilder;
    let dir = temp_dir("npz");
    let path = dir.join("shapes.npz");
    let mut npz = npyz::npz::NpzWriter::create(&path).unwrap();
    for (x, y, n) in [("x_train", "y_train", 80usize), ("x_test", "y_test", 20)] {
        let pixels: Vec<u8> = (0..n)
            .flat_map(|k| image::DynamicImage::ImageRgb8(picture(k % 2, k)).resize_exact(8, 8, image::imageops::FilterType::Triangle).to_luma8().into_raw())
            .collect();
        let mut w = npz.array::<u8>(x, Default::default()).unwrap().default_dtype().shape(&[n as u64, 8, 8]).begin_nd().unwrap();
        w.extend(pixels).unwrap();
        w.finish().unwrap();
        let mut w = npz.array::<i64>(y, Default::default()).unwrap().default_dtype().shape(&[n as u64]).begin_nd().unwrap();
        w.extend((0..n).map(|k| (k % 2) as i64)).unwrap();
        w.finish().unwrap();
    }
    drop(npz);
    let src = format!("npz:{}", path.display());
    let run = dir.join("run");
    let (code, _, err) = nasc(&["train", "examples/cnn_digits.nas", "--data", &src, "--epochs", "3", "--quiet", "--out", s(&run)], &dir);
    assert_eq!(code, 0, "{err}");
    assert!(accuracy(&run) >= 0.9, "{}", accuracy(&run));
    let store = dir.join("search.sqlite");
    let args = ["evolve", "examples/mlp_digits.nas", "--data", &src, "--trials", "2", "--epochs", "1", "--final-epochs", "0", "--quiet", "--store", s(&store)];
    let (code, _, err) = nasc(&args, &dir);
    assert_eq!(code, 0, "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
