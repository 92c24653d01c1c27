//! Program generators for property tests, fuzzing and benchmarks. Seeded and deterministic.

use crate::diag::Span;
use crate::syntax::ast::*;

pub use crate::rng::Rng;

const NAMES: &[&str] = &["x", "y", "z", "B", "H", "W", "C", "conv", "relu", "dense", "Block", "a_1", "_t", "in2"];
const COMMENTS: &[&str] = &[" note", " TODO: widen", "", " ×2 channels", " a \"quoted\" word"];

fn sp() -> Span {
    Span::default()
}

fn ident(rng: &mut Rng) -> Ident {
    Ident { name: rng.pick(NAMES).to_string(), span: sp() }
}

fn expr_of(kind: ExprKind) -> Expr {
    Expr { kind, span: sp() }
}

fn int_lit(rng: &mut Rng) -> IntLit {
    match rng.below(4) {
        0 => IntLit { value: rng.below(50) as u64 * 1000, suffix: Some('k') },
        1 => IntLit { value: rng.below(5) as u64 * 1_000_000, suffix: Some('M') },
        _ => IntLit { value: rng.below(600) as u64, suffix: None },
    }
}

fn leaf(rng: &mut Rng) -> Expr {
    expr_of(match rng.below(7) {
        0 | 1 => ExprKind::Name(ident(rng).name),
        2 => ExprKind::Int(int_lit(rng)),
        3 => ExprKind::Float(*rng.pick(&[0.5, 1e-6, 0.125, 3.0, 1e20, 2.5e-3])),
        4 => ExprKind::Str(rng.pick(&["bnhd,bmhd->bhnm", "a\"b", "tab\there", "back\\slash", ""]).to_string()),
        5 => ExprKind::Bool(rng.chance(50)),
        _ => ExprKind::Name("x".into()),
    })
}

fn args(rng: &mut Rng, depth: usize) -> Vec<Arg> {
    (0..rng.below(4)).map(|_| Arg { name: rng.chance(40).then(|| ident(rng)), value: expr(rng, depth), span: sp() }).collect()
}

fn constraint(rng: &mut Rng, depth: usize) -> Constraint {
    let (op, value) = match rng.below(4) {
        0 => (CmpOp::Eq, ConstraintValue::Any),
        1 => (CmpOp::In, ConstraintValue::Set((0..rng.below(3)).map(|_| ident(rng)).collect(), sp())),
        _ => (*rng.pick(&[CmpOp::Ge, CmpOp::Le, CmpOp::Eq]), ConstraintValue::Expr(expr(rng, depth))),
    };
    Constraint { name: ident(rng), op, value, span: sp() }
}

fn hole(rng: &mut Rng, depth: usize, with_inputs: bool) -> Hole {
    let constraints = (0..rng.below(3)).map(|_| constraint(rng, depth)).collect();
    let inputs = if with_inputs { (0..rng.below(3)).map(|_| expr(rng, depth)).collect() } else { Vec::new() };
    Hole { constraints, inputs, span: sp() }
}

fn stage(rng: &mut Rng, depth: usize) -> Stage {
    if rng.chance(15) {
        return Stage::Hole(hole(rng, depth, false));
    }
    let repeat = rng.chance(20).then(|| expr(rng, depth));
    let index = (repeat.is_some() && rng.chance(30)).then(|| ident(rng));
    Stage::Call { callee: ident(rng), args: args(rng, depth), repeat, index, span: sp() }
}

/// A random expression of bounded depth; every construct of the grammar appears.
pub fn expr(rng: &mut Rng, depth: usize) -> Expr {
    if depth == 0 {
        return leaf(rng);
    }
    let d = depth - 1;
    let kind = match rng.below(10) {
        0 => ExprKind::List((0..rng.below(4)).map(|_| expr(rng, d)).collect()),
        1 => ExprKind::Tuple((0..2 + rng.below(2)).map(|_| expr(rng, d)).collect()),
        2 => ExprKind::Call { callee: ident(rng), args: args(rng, d) },
        3 | 4 => ExprKind::Pipe { input: Box::new(expr(rng, d)), stage: Box::new(stage(rng, d)) },
        5 | 6 => {
            let op = *rng.pick(&[BinOp::Add, BinOp::Sub, BinOp::Mul, BinOp::Div]);
            ExprKind::Binary { op, lhs: Box::new(expr(rng, d)), rhs: Box::new(expr(rng, d)) }
        }
        7 => ExprKind::Neg(Box::new(expr(rng, d))),
        8 => ExprKind::Hole(hole(rng, d, true)),
        _ => return leaf(rng),
    };
    expr_of(kind)
}

fn ty(rng: &mut Rng, depth: usize) -> TypeExpr {
    match rng.below(5) {
        0 => TypeExpr::Scalar(Ident { name: rng.pick(&["int", "float", "bool", "str"]).to_string(), span: sp() }),
        1 if depth > 0 => TypeExpr::Tuple((0..2).map(|_| ty(rng, depth - 1)).collect(), sp()),
        _ => TypeExpr::Tensor((0..rng.below(5)).map(|_| expr(rng, 1)).collect(), sp()),
    }
}

fn comments(rng: &mut Rng, max: usize) -> Vec<String> {
    (0..rng.below(max + 1)).map(|_| rng.pick(COMMENTS).to_string()).collect()
}

fn attrs(rng: &mut Rng) -> Vec<Attr> {
    (0..rng.below(2)).map(|_| Attr { name: ident(rng), args: if rng.chance(50) { args(rng, 1) } else { vec![] }, span: sp() }).collect()
}

fn stmt(rng: &mut Rng) -> Stmt {
    let value = expr(rng, 3);
    let kind = if rng.chance(20) {
        StmtKind::Return(value)
    } else {
        let pat = if rng.chance(15) { Pattern::Tuple((0..2 + rng.below(2)).map(|_| ident(rng)).collect(), sp()) } else { Pattern::Name(ident(rng)) };
        StmtKind::Let { pat, value }
    };
    let trailing = rng.chance(20).then(|| rng.pick(COMMENTS).to_string());
    Stmt { kind, span: sp(), attrs: attrs(rng), comments: comments(rng, 1), trailing, blank_before: Layout(rng.chance(20)) }
}

/// A random file: syntactically valid, usually not well-typed.
pub fn random_file(rng: &mut Rng) -> File {
    let mut items = Vec::new();
    for _ in 0..rng.below(4) {
        let kind = if rng.chance(25) {
            ItemKind::Use((0..1 + rng.below(3)).map(|_| ident(rng)).collect())
        } else {
            let params =
                (0..rng.below(4)).map(|_| Param { name: ident(rng), ty: ty(rng, 1), default: rng.chance(30).then(|| expr(rng, 1)), span: sp() }).collect();
            ItemKind::Block(std::sync::Arc::new(BlockDef {
                is_model: rng.chance(30),
                name: ident(rng),
                params,
                ret: ty(rng, 1),
                body: (0..rng.below(5)).map(|_| stmt(rng)).collect(),
                end_comments: comments(rng, 1),
            }))
        };
        let doc = (0..rng.below(2)).map(|_| " doc line".to_string()).collect();
        items.push(Item { kind, span: sp(), doc, attrs: attrs(rng), detached_comments: comments(rng, 1), comments: comments(rng, 1) });
    }
    File { items, trailing_comments: comments(rng, 1) }
}

/// A well-typed program of about `lines` lines: independent residual blocks and a model that
/// calls each of them. Used by the check benchmark.
pub fn large_program(lines: usize) -> String {
    nested_program(lines, 1)
}

/// `large_program` with blocks in chains of `depth`, each calling the one before it first, and a
/// model that calls the last block of every chain: the same lines, nested `depth` deep.
/// The second conv of generated block `i`: square (SAME padding), or a 1×k / k×1 window with
/// explicit padding inside the generic block.
fn window(i: usize) -> String {
    let k = 1 + 2 * (i % 3);
    match i % 4 {
        1 => format!("kernel: [1, {k}], padding: [0, {}], ", k / 2),
        2 => format!("kernel: [{k}, 1], padding: [{}, {}, 0, 0], ", k / 2, k / 2),
        _ => format!("kernel: {k}, "),
    }
}

pub fn nested_program(lines: usize, depth: usize) -> String {
    let blocks = (lines / 8).max(1);
    let depth = depth.max(1);
    let mut s = String::from("// generated\n\n");
    for i in 0..blocks {
        let input = if i % depth == 0 { "x".to_string() } else { format!("x |> Block{}", i - 1) };
        s.push_str(&format!(
            "/// Residual block {i}.\nblock Block{i}(x: [B, H, W, C]) -> [B, H, W, C] {{\n    \
             let y = {input} |> conv(C, kernel: 3, bias: false) |> batch_norm |> relu\n    \
             let y = y |> conv(C, {window}bias: false) |> batch_norm\n    \
             return relu(x + y)\n}}\n\n",
            window = window(i)
        ));
    }
    s.push_str("model Big(x: [B, 32, 32, 16]) -> [B, 10] {\n    let y = x\n");
    for i in (0..blocks).filter(|i| i % depth == depth - 1 || i + 1 == blocks) {
        s.push_str(&format!("    let y = y |> Block{i}\n"));
    }
    s.push_str("    return y |> mean(axes: [1, 2]) |> dense(10)\n}\n");
    s
}
