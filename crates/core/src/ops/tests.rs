use super::*;

fn attrs(v: &[(&'static str, AttrValue)]) -> Attrs {
    Attrs(v.to_vec())
}

fn shape(d: &[i64]) -> Shape {
    Shape(d.iter().map(|&x| Dim::int(x)).collect())
}

#[test]
fn every_kind_has_exactly_one_entry_and_names_are_unique() {
    let kinds: Vec<OpKind> = catalog().iter().map(|s| s.kind).collect();
    let mut sorted = kinds.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), kinds.len());
    let mut names: Vec<&str> = catalog().iter().map(|s| s.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), kinds.len());
    for k in kinds {
        assert_eq!(spec(k).kind, k);
    }
}

#[test]
fn conv_shape_params_and_macs() {
    let s = lookup("conv").unwrap();
    let a = attrs(&[
        ("features", AttrValue::Int(Dim::int(64))),
        ("kernel", AttrValue::Int(Dim::int(3))),
        ("stride", AttrValue::Int(Dim::int(2))),
        ("dilation", AttrValue::Int(Dim::int(1))),
        ("groups", AttrValue::Int(Dim::int(1))),
        ("bias", AttrValue::Bool(false)),
    ]);
    let x = shape(&[1, 32, 32, 16]);
    let out = (s.shape)(std::slice::from_ref(&x), &a).unwrap();
    assert_eq!(out[0], shape(&[1, 16, 16, 64]));
    assert_eq!((s.params)(std::slice::from_ref(&x), &a).unwrap().as_int(), Some(9 * 16 * 64));
    assert_eq!((s.macs)(&[x], &a, &out).unwrap().as_int(), Some(16 * 16 * 9 * 16 * 64));
}

#[test]
fn conv_rounds_concrete_sizes_up_and_rejects_indivisible_symbolic_sizes_and_groups() {
    let s = lookup("conv").unwrap();
    let mut a = attrs(&[
        ("features", AttrValue::Int(Dim::int(8))),
        ("kernel", AttrValue::Int(Dim::int(3))),
        ("stride", AttrValue::Int(Dim::int(2))),
        ("dilation", AttrValue::Int(Dim::int(1))),
        ("groups", AttrValue::Int(Dim::int(1))),
        ("bias", AttrValue::Bool(true)),
    ]);
    // SAME on a concrete odd size rounds up, as torchvision's padding=1 does: 7×8 → 4×4.
    assert_eq!((s.shape)(&[shape(&[1, 7, 8, 4])], &a).unwrap()[0], shape(&[1, 4, 4, 8]));
    let symbolic = Shape(vec![Dim::int(1), Dim::sym("H"), Dim::int(8), Dim::int(4)]);
    assert_eq!((s.shape)(std::slice::from_ref(&symbolic), &a).unwrap()[0].to_string(), "[1, H/2, 4, 8]");
    a.0.push(("padding", AttrValue::Padding(Padding::Valid)));
    assert_eq!((s.shape)(&[shape(&[1, 7, 8, 4])], &a).unwrap()[0], shape(&[1, 3, 3, 8]));
    let e = (s.shape)(&[shape(&[1, 2, 8, 4])], &a).unwrap_err();
    assert_eq!(e.message, "the window spans 3 positions but the padded input has 2 along the height (2)");
    // A symbolic size floors as PyTorch does on sizes the stride divides: (H - 3) / 2 + 1.
    assert_eq!((s.shape)(&[symbolic], &a).unwrap()[0].to_string(), "[1, H/2 - 1, 3, 8]");
    a.0[4].1 = AttrValue::Int(Dim::int(3));
    a.0.pop();
    let e = (s.shape)(&[shape(&[1, 8, 8, 4])], &a).unwrap_err();
    assert_eq!(e.message, "input channels 4 is not divisible by 3");
}

#[test]
fn dense_is_symbolic() {
    let s = lookup("dense").unwrap();
    let a = attrs(&[("features", AttrValue::Int(Dim::sym("D"))), ("bias", AttrValue::Bool(true))]);
    let x = Shape(vec![Dim::sym("B"), Dim::sym("N"), Dim::sym("C")]);
    assert_eq!((s.shape)(std::slice::from_ref(&x), &a).unwrap()[0].to_string(), "[B, N, D]");
    assert_eq!((s.params)(&[x], &a).unwrap().to_string(), "C*D + D");
}

#[test]
fn broadcasting_add_and_mismatch() {
    let s = lookup("add").unwrap();
    let out = (s.shape)(&[shape(&[2, 4, 4, 8]), shape(&[2, 1, 1, 8])], &Attrs::default()).unwrap();
    assert_eq!(out[0], shape(&[2, 4, 4, 8]));
    let e = (s.shape)(&[shape(&[2, 4]), shape(&[2, 5])], &Attrs::default()).unwrap_err();
    assert_eq!(e.code, "E0301");
}

#[test]
fn einsum_attention_scores() {
    let s = lookup("einsum").unwrap();
    let a = attrs(&[("spec", AttrValue::Str("bnhd,bmhd->bhnm".into()))]);
    let q = shape(&[1, 197, 6, 64]);
    let out = (s.shape)(&[q.clone(), q.clone()], &a).unwrap();
    assert_eq!(out[0], shape(&[1, 6, 197, 197]));
    assert_eq!((s.macs)(&[q.clone(), q], &a, &out).unwrap().as_int(), Some(197 * 197 * 6 * 64));
}

#[test]
fn reshape_infers_minus_one_and_checks_counts() {
    let s = lookup("reshape").unwrap();
    let a = attrs(&[("shape", AttrValue::Ints(vec![Dim::sym("B"), Dim::int(-1), Dim::int(384)]))]);
    let x = Shape(vec![Dim::sym("B"), Dim::int(14), Dim::int(14), Dim::int(384)]);
    assert_eq!((s.shape)(std::slice::from_ref(&x), &a).unwrap()[0].to_string(), "[B, 196, 384]");
    let bad = attrs(&[("shape", AttrValue::Ints(vec![Dim::sym("B"), Dim::int(100)]))]);
    assert_eq!((s.shape)(&[x], &bad).unwrap_err().code, "E0307");
}
