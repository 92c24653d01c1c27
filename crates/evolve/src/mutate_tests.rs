use super::*;

const SEED: &str = include_str!("../../../examples/cnn_digits.nas");

fn flat_seed() -> String {
    let prog = Program::from_source_in("examples/cnn_digits.nas", SEED, Some(std::path::Path::new("examples")));
    print_file(&super::super::source::flatten(&prog).unwrap())
}

#[test]
fn flattened_seed_checks_alone() {
    let text = flat_seed();
    assert!(!text.contains("use std"), "{text}");
    if let Err(f) = compile(&text) {
        panic!("{f}");
    }
}

#[test]
fn runs_are_found_with_shapes() {
    let c = compile(&flat_seed()).expect("the seed checks");
    let units = mutable_units(&c.program, &c.checked);
    assert_eq!(units.len(), 1, "{units:?}");
    let (block, runs) = &units[0];
    assert_eq!(block, "ConvBnRelu");
    assert_eq!(runs.len(), 1);
    assert_eq!(op_names(&runs[0].ops), "conv·batch_norm·relu");
    assert_eq!(runs[0].input().to_string(), "[B, H, W, C]");
    assert_eq!(runs[0].shape_after(3).to_string(), "[B, H, W, features]");
}

/// `Block * n` is n calls: deleting one leaves `Block * (n - 1)`, duplicating one makes
/// `Block * (n + 1)`; a model whose only calls are one repeated stage can still lose one.
#[test]
fn repeated_stages_lose_or_gain_one_call() {
    let src = "block B(x: [N, 8]) -> [N, 8] {\n    return x |> dense(8) |> relu\n}\n\nmodel M(x: [N, 8]) -> [N, 8] {\n    return x |> B * 3\n}\n";
    let prog = compile(src).unwrap();
    let file = prog.program.root_ast().cloned().unwrap();
    let deleted = calls::block_call_edit(&file, &prog.program, false, &mut Rng::new(1)).unwrap();
    assert_eq!(deleted.description, "deleted a call: B * 3 → B * 2");
    assert!(print_file(&deleted.file).contains("return x |> B * 2"));
    let grown = calls::block_call_edit(&file, &prog.program, true, &mut Rng::new(1)).unwrap();
    assert_eq!(grown.description, "duplicated a call: B * 3 → B * 4");
    let two = src.replace("B * 3", "B * 2");
    let prog = compile(&two).unwrap();
    let file = prog.program.root_ast().cloned().unwrap();
    let one = calls::block_call_edit(&file, &prog.program, false, &mut Rng::new(1)).unwrap();
    assert_eq!(one.description, "deleted a call: B * 2 → B");
    let single = compile(&two.replace("B * 2", "B")).unwrap();
    let e = calls::block_call_edit(single.program.root_ast().unwrap(), &single.program, false, &mut Rng::new(1)).err();
    assert_eq!(e.map(|e| e.0).as_deref(), Some("no block call to delete"));
}

/// An indexed repetition keeps its index: `B(..) * 2 for i` loses a call to `B(..) * 1 for i`.
#[test]
fn indexed_repetitions_keep_their_index() {
    let src = "block B(x: [N, 8], rate: float) -> [N, 8] {\n    return x |> dense(8) |> relu |> dropout(rate)\n}\n\nmodel M(x: [N, 8]) -> [N, 8] {\n    return x |> B(rate: 0.1 * i) * 2 for i\n}\n";
    let prog = compile(src).unwrap();
    let file = prog.program.root_ast().cloned().unwrap();
    let deleted = calls::block_call_edit(&file, &prog.program, false, &mut Rng::new(1)).unwrap();
    assert_eq!(deleted.description, "deleted a call: B(rate: 0.1 * i) * 2 for i → B(rate: 0.1 * i) * 1 for i");
    assert!(compile(&print_file(&deleted.file)).is_ok());
    let grown = calls::block_call_edit(&file, &prog.program, true, &mut Rng::new(1)).unwrap();
    assert!(print_file(&grown.file).contains("B(rate: 0.1 * i) * 3 for i"), "{}", print_file(&grown.file));
    assert!(compile(&print_file(&grown.file)).is_ok());
}

#[test]
fn every_strategy_makes_checked_children_deterministically() {
    let parent = flat_seed();
    for strategy in [Strategy::Alpha, Strategy::RandomSubgraph, Strategy::Primer, Strategy::AutomlZero] {
        let mut made = 0;
        for seed in 0..12 {
            let cfg = MutationConfig::default();
            let a = mutate(&parent, strategy, &cfg, &mut Rng::new(seed));
            let b = mutate(&parent, strategy, &cfg, &mut Rng::new(seed));
            assert_eq!(a.as_ref().map(|m| &m.text), b.as_ref().map(|m| &m.text));
            if let Ok(m) = a {
                made += 1;
                assert!(compile(&m.text).is_ok(), "{}: {}", m.description, m.text);
                assert_ne!(m.text, parent);
                if strategy == Strategy::Alpha && m.properties.get("fill").is_some() {
                    assert_eq!(m.properties["verified"], json!(true), "{}", m.description);
                }
            }
        }
        assert!(made >= 6, "{strategy:?}: only {made} of 12 mutations succeeded");
    }
}

#[test]
fn alpha_rewrites_junctions_and_drops_branches_verified() {
    let src = include_str!("../../../examples/resnet_fashion.nas");
    let prog = Program::from_source_in("examples/resnet_fashion.nas", src, Some(std::path::Path::new("examples")));
    let parent = print_file(&super::super::source::flatten(&prog).unwrap());
    let c = compile(&parent).expect("the seed checks");
    let sites = junction::sites(&c.program, &c.checked, "BasicBlock");
    assert_eq!(sites.len(), 1, "{sites:?}");
    assert_eq!((sites[0].junction, op_names(&sites[0].tail)), (OpKind::Add, "relu".to_string()));
    let cfg = MutationConfig { p_duplicate: 0.0, p_delete: 0.0, ..MutationConfig::default() };
    let (mut graphs, mut dropped) = (0, 0);
    for seed in 0..60 {
        let Ok(m) = mutate(&parent, Strategy::Alpha, &cfg, &mut Rng::new(seed)) else { continue };
        let Some(fill) = m.properties.get("fill").and_then(|f| f.as_str()) else { continue };
        if m.properties.get("inputs").is_none() {
            continue;
        }
        assert_eq!(m.properties["verified"], json!(true), "{}", m.description);
        let child = compile(&m.text).unwrap_or_else(|f| panic!("{}: {f}\n{}", m.description, m.text));
        assert!(child.warnings().is_empty(), "{}: {:?}\n{}", m.description, child.warnings(), m.text);
        if m.description.contains("dropped,") {
            dropped += 1;
            assert!(!fill.contains(" + "), "{fill}");
        } else {
            graphs += 1;
        }
    }
    assert!(graphs >= 3 && dropped >= 1, "{graphs} junction rewrites, {dropped} dropped branches");
}

/// `BasicBlockDown`'s runs go from `H` to `H / stride`: they are rewritten in a copy
/// specialised for the calls' stride, and the children check and meet their targets.
#[test]
fn downsampling_blocks_are_rewritten_in_specialised_copies() {
    let src = include_str!("../../../examples/resnet_fashion.nas");
    let prog = Program::from_source_in("examples/resnet_fashion.nas", src, Some(std::path::Path::new("examples")));
    let parent = print_file(&super::super::source::flatten(&prog).unwrap());
    let cfg = MutationConfig { p_duplicate: 0.0, p_delete: 0.0, ..MutationConfig::default() };
    let (mut specialised, mut failed) = (0, Vec::new());
    for seed in 0..80 {
        match mutate(&parent, Strategy::Alpha, &cfg, &mut Rng::new(seed)) {
            Ok(m) if m.description.contains("BasicBlockDown specialised for stride = 2") => {
                specialised += 1;
                assert_eq!(m.properties["verified"], json!(true), "{}", m.description);
                let child = compile(&m.text).unwrap_or_else(|f| panic!("{}: {f}\n{}", m.description, m.text));
                assert!(child.warnings().is_empty(), "{}: {:?}", m.description, child.warnings());
                assert!(m.text.contains("-> [B, H / 2, W / 2, out]"), "{}", m.text);
            }
            Ok(_) => {}
            Err(e) => failed.push(e.0),
        }
    }
    assert!(specialised >= 5, "{specialised} specialised rewrites");
    assert!(failed.iter().all(|e| !e.contains("cannot go from H to H/stride")), "{failed:?}");
}

#[test]
fn property_mutation_only_relaxes_with_zero_probabilities() {
    let input = Shape(vec![nasc_core::shape::Dim::sym("B"), nasc_core::shape::Dim::int(8)]);
    use nasc_core::ops::{AttrValue, Attrs};
    let dense8 = ChainOp {
        op: nasc_core::ops::OpKind::Dense,
        attrs: Attrs(vec![("features", AttrValue::Int(nasc_core::shape::Dim::int(8))), ("bias", AttrValue::Bool(true))]),
    };
    let relu = ChainOp { op: nasc_core::ops::OpKind::Relu, attrs: Default::default() };
    let orig = Chain::of(&input, &[dense8, relu]).unwrap();
    let cfg = MutationConfig { p_depth: 0.0, p_mixing: 0.0, ..MutationConfig::default() };
    let (t, words) = mutate_properties(&orig, &input, &cfg, &mut Rng::new(1));
    assert_eq!(words, "depth 1 kept, mixing kept");
    assert_eq!(t.depth_min, Some(1));
    assert!(t.satisfied(&orig));
}
