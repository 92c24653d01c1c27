//! Canonical forms of architectures by sound rewriting, with checkable proofs (issue 18).
//!
//! A model's graph becomes a hash-consed term DAG; at each node, in topological order, local
//! rules rewrite it until none applies. Every rule here keeps the *trained* function: it has no
//! parameters on either side (or keeps them), so two architectures with the same canonical form
//! train to the same network up to floating-point rounding and can share one training:
//!
//! | rule | identity |
//! | --- | --- |
//! | `identity` | `identity(x) = x` |
//! | `idempotent` | `f(f(x)) = f(x)` for relu, relu6, and clamp with equal bounds |
//! | `reshape_chain` | `reshape(reshape(x)) = reshape(x)`; a reshape to its input's shape is `x` |
//! | `transpose_chain` | `transpose(transpose(x, p), q) = transpose(x, p∘q)`; the identity permutation is `x` |
//! | `scale_fold` | `scale(scale(x, a), b) = scale(x, a·b)`; `scale(x, 1) = x` |
//! | `assoc_comm` | sums and products flattened and ordered by the operands' structural hash |
//!
//! Not applied, because they keep only the function *class* or only inference: dropout and
//! drop-path are the identity at inference but change training; `dense(dense(x))` with nothing
//! between equals one dense only as a class (when the middle width is at least the smaller end),
//! with other parameters and another training.
//!
//! Why no e-graph: every rule above but `assoc_comm` makes the term smaller, and `assoc_comm`
//! is handled by a normal form (flatten, sort), so rewriting terminates in one bottom-up pass
//! and the system is confluent: each architecture has one normal form, found in time linear in
//! the graph. Saturation (egg) pays for exploring rules that grow terms, which none of these do.
//!
//! The proof of a canonical form lists, per graph node, the rules applied there. [`replay`]
//! redoes exactly those steps, checking each rule's condition, and yields the form the proof
//! reaches; two candidates are equal when both proofs replay to the same form.

use crate::ir::{Graph, NodeKind};
use crate::ops::{AttrValue, Attrs, OpKind, spec};
use crate::shape::Shape;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One term: an input, an op over other terms, or output `k` of a multi-output term.
#[derive(Clone, Debug, PartialEq)]
enum Head {
    Input(usize),
    Op(OpKind, Attrs),
    Proj(usize),
}

#[derive(Clone, Debug)]
struct Term {
    head: Head,
    args: Vec<usize>,
    shape: Shape,
    hash: u64,
}

/// The rules applied at one node of the graph (its index in `Graph::nodes`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub node: usize,
    pub rules: Vec<String>,
}

/// A canonical form: its fingerprint, its text, and the proof that reaches it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Canonical {
    pub fingerprint: String,
    pub text: String,
    pub proof: Vec<Step>,
}

const RULES: [&str; 6] = ["identity", "idempotent", "reshape_chain", "transpose_chain", "scale_fold", "assoc_comm"];

/// The canonical form of a hole-free graph; `None` when it has holes.
pub fn canonical(g: &Graph) -> Option<Canonical> {
    build(g, &mut |_, dag, t| {
        let mut applied = Vec::new();
        let mut t = t;
        'again: loop {
            for rule in RULES {
                match apply(rule, dag, &t) {
                    Some(Rewrite::To(id)) => {
                        applied.push(rule.to_string());
                        return Some((Rewrite::To(id), applied));
                    }
                    Some(Rewrite::Node(next)) => {
                        applied.push(rule.to_string());
                        t = next;
                        continue 'again;
                    }
                    None => {}
                }
            }
            return Some((Rewrite::Node(t), applied));
        }
    })
}

/// Redo a proof's steps on `g`, checking each rule's condition; the form they reach, or why the
/// proof is not valid.
pub fn replay(g: &Graph, proof: &[Step]) -> Result<Canonical, String> {
    let mut error = None;
    let mut steps = proof.iter().peekable();
    let form = build(g, &mut |node, dag, t| {
        let listed: Vec<String> = match steps.peek() {
            Some(s) if s.node == node => steps.next().map(|s| s.rules.clone()).unwrap_or_default(),
            _ => vec![],
        };
        let mut t = t;
        for (k, rule) in listed.iter().enumerate() {
            let known = RULES.iter().find(|r| *r == rule);
            match known.and_then(|r| apply(r, dag, &t)) {
                Some(Rewrite::Node(next)) => t = next,
                Some(Rewrite::To(id)) if k + 1 == listed.len() => return Some((Rewrite::To(id), listed.clone())),
                _ => {
                    error.get_or_insert_with(|| format!("step {k} at node {node}: rule `{rule}` does not apply"));
                    return None;
                }
            }
        }
        Some((Rewrite::Node(t), listed))
    });
    if let Some(e) = error {
        return Err(e);
    }
    if let Some(s) = steps.next() {
        return Err(format!("the proof names node {}, which the graph does not have in that order", s.node));
    }
    form.ok_or_else(|| "the graph has holes".into())
}

enum Rewrite {
    /// The node equals an existing term.
    To(usize),
    /// The node becomes this one.
    Node(Term),
}

struct Dag {
    terms: Vec<Term>,
    interned: HashMap<u64, Vec<usize>>,
}

impl Dag {
    fn intern(&mut self, t: Term) -> usize {
        if let Some(ids) = self.interned.get(&t.hash)
            && let Some(&id) = ids.iter().find(|&&id| self.terms[id].head == t.head && self.terms[id].args == t.args)
        {
            return id;
        }
        let id = self.terms.len();
        self.interned.entry(t.hash).or_default().push(id);
        self.terms.push(t);
        id
    }

    fn term(&self, head: Head, args: Vec<usize>, shape: Shape) -> Term {
        let mut h = Fnv::new();
        h.write(format!("{head:?}").as_bytes());
        for &a in &args {
            h.write(&self.terms[a].hash.to_le_bytes());
        }
        Term { head, args, shape, hash: h.0 }
    }
}

type Visit<'a> = dyn FnMut(usize, &Dag, Term) -> Option<(Rewrite, Vec<String>)> + 'a;

/// Build the DAG node by node, letting `visit` rewrite each op node; the resulting form.
fn build(g: &Graph, visit: &mut Visit) -> Option<Canonical> {
    let mut dag = Dag { terms: Vec::new(), interned: HashMap::new() };
    let mut at: Vec<Option<usize>> = vec![None; g.tensors.len()];
    for (k, &t) in g.inputs.iter().enumerate() {
        let term = dag.term(Head::Input(k), vec![], g.shape(t).clone());
        at[t] = Some(dag.intern(term));
    }
    let mut proof = Vec::new();
    for (i, n) in g.nodes.iter().enumerate() {
        let NodeKind::Op { op, attrs } = &n.kind else { return None };
        let args = n.inputs.iter().map(|&t| at[t]).collect::<Option<Vec<_>>>()?;
        let shape = n.outputs.first().map_or_else(|| Shape(vec![]), |&t| g.shape(t).clone());
        let term = dag.term(Head::Op(*op, attrs.clone()), args, shape);
        let (rewrite, rules) = visit(i, &dag, term)?;
        if !rules.is_empty() {
            proof.push(Step { node: i, rules });
        }
        let id = match rewrite {
            Rewrite::To(id) => id,
            Rewrite::Node(t) => dag.intern(t),
        };
        if n.outputs.len() == 1 {
            at[n.outputs[0]] = Some(id);
        } else {
            for (k, &out) in n.outputs.iter().enumerate() {
                let p = dag.term(Head::Proj(k), vec![id], g.shape(out).clone());
                at[out] = Some(dag.intern(p));
            }
        }
    }
    let outputs = g.outputs.iter().map(|&t| at[t]).collect::<Option<Vec<_>>>()?;
    let text = print(&dag, &outputs);
    let mut h = Fnv::new();
    h.write(text.as_bytes());
    Some(Canonical { fingerprint: format!("{:016x}", h.0), text, proof })
}

/// The rule's rewrite of term `t` (whose arguments are in `dag`), if its condition holds.
fn apply(rule: &str, dag: &Dag, t: &Term) -> Option<Rewrite> {
    let Head::Op(op, attrs) = &t.head else { return None };
    let arg = |k: usize| t.args.get(k).map(|&a| &dag.terms[a]);
    let inner = arg(0).and_then(|a| match &a.head {
        Head::Op(o, at) => Some((*o, at, a)),
        _ => None,
    });
    match rule {
        "identity" => (*op == OpKind::Identity).then(|| Rewrite::To(t.args[0])),
        "idempotent" => {
            let (o, at, _) = inner?;
            let same = o == *op && (matches!(op, OpKind::Relu | OpKind::Relu6) || (*op == OpKind::Clamp && at == attrs));
            same.then(|| Rewrite::To(t.args[0]))
        }
        "reshape_chain" => {
            if *op != OpKind::Reshape {
                return None;
            }
            if arg(0)?.shape == t.shape {
                return Some(Rewrite::To(t.args[0]));
            }
            let (o, _, a) = inner?;
            (o == OpKind::Reshape).then(|| Rewrite::Node(dag.term(Head::Op(OpKind::Reshape, reshape_to(&t.shape)), a.args.clone(), t.shape.clone())))
        }
        "transpose_chain" => {
            if *op != OpKind::Transpose {
                return None;
            }
            let perm = ints(attrs.get("perm")?)?;
            if perm.iter().enumerate().all(|(k, &p)| p == k as i64) {
                return Some(Rewrite::To(t.args[0]));
            }
            let (o, at, a) = inner?;
            if o != OpKind::Transpose {
                return None;
            }
            // Output axis k of the outer is its input axis perm[k], which is axis inner[perm[k]].
            let first = ints(at.get("perm")?)?;
            let composed: Vec<i64> = perm.iter().map(|&p| first.get(p as usize).copied()).collect::<Option<_>>()?;
            let attrs = Attrs(vec![("perm", AttrValue::Ints(composed.iter().map(|&p| crate::shape::Dim::int(p)).collect()))]);
            Some(Rewrite::Node(dag.term(Head::Op(OpKind::Transpose, attrs), a.args.clone(), t.shape.clone())))
        }
        "scale_fold" => {
            if *op != OpKind::Scale {
                return None;
            }
            let s = attrs.float("s");
            if s == 1.0 {
                return Some(Rewrite::To(t.args[0]));
            }
            let (o, at, a) = inner?;
            (o == OpKind::Scale).then(|| {
                let attrs = Attrs(vec![("s", AttrValue::Float(s * at.float("s")))]);
                Rewrite::Node(dag.term(Head::Op(OpKind::Scale, attrs), a.args.clone(), t.shape.clone()))
            })
        }
        "assoc_comm" => assoc_comm(dag, t, *op),
        _ => None,
    }
}

/// A sum or product with its nested same-op operands flattened and all operands ordered by
/// structural hash, as a left fold; `None` when it already is one.
fn assoc_comm(dag: &Dag, t: &Term, op: OpKind) -> Option<Rewrite> {
    if !matches!(op, OpKind::Add | OpKind::Mul) {
        return None;
    }
    let mut operands = Vec::new();
    let mut nested = false;
    for &a in &t.args {
        let at = &dag.terms[a];
        // Flatten only same-shaped nested terms, so broadcasting stays where it was.
        if at.head == Head::Op(op, Attrs::default()) && at.shape == t.shape {
            operands.extend(at.args.iter().copied());
            nested = true;
        } else {
            operands.push(a);
        }
    }
    let mut sorted = operands.clone();
    sorted.sort_by_key(|&a| (dag.terms[a].hash, a));
    // The flattened form stays n-ary: one canonical term for every bracketing and order.
    (nested || sorted != operands).then(|| Rewrite::Node(dag.term(Head::Op(op, Attrs::default()), sorted, t.shape.clone())))
}

fn reshape_to(shape: &Shape) -> Attrs {
    Attrs(vec![("shape", AttrValue::Ints(shape.0.clone()))])
}

fn ints(v: &AttrValue) -> Option<Vec<i64>> {
    match v {
        AttrValue::Ints(d) => d.iter().map(crate::shape::Dim::as_int).collect(),
        _ => None,
    }
}

/// The DAG reachable from the outputs, one line per term in first-visit order.
fn print(dag: &Dag, outputs: &[usize]) -> String {
    let mut number: HashMap<usize, usize> = HashMap::new();
    let mut lines = Vec::new();
    fn visit(dag: &Dag, id: usize, number: &mut HashMap<usize, usize>, lines: &mut Vec<String>) -> usize {
        if let Some(&n) = number.get(&id) {
            return n;
        }
        let t = &dag.terms[id];
        let args: Vec<String> = t.args.iter().map(|&a| format!("%{}", visit(dag, a, number, lines))).collect();
        let head = match &t.head {
            Head::Input(k) => format!("input {k}"),
            Head::Op(op, attrs) => format!("{}{}", spec(*op).name, attrs_text(attrs)),
            Head::Proj(k) => format!("out {k}"),
        };
        let n = lines.len();
        lines.push(format!("%{n} = {head}({}) : {}", args.join(", "), t.shape));
        number.insert(id, n);
        n
    }
    let outs: Vec<String> = outputs.iter().map(|&o| format!("%{}", visit(dag, o, &mut number, &mut lines))).collect();
    lines.push(format!("return {}", outs.join(", ")));
    lines.join("\n")
}

fn attrs_text(a: &Attrs) -> String {
    if a.0.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = a.0.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    format!("[{}]", parts.join(", "))
}

/// 64-bit FNV-1a: stable across runs and builds, unlike std's hasher (fingerprints are stored).
pub struct Fnv(pub u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv::new()
    }
}

impl Fnv {
    pub fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(body: &str) -> Graph {
        let text = format!("model M(x: [B, 4, 6], y: [B, 4, 6]) -> [B, 4, 6] {{\n{body}\n}}\n");
        let c = crate::Compilation::from_source("m.nas", &text).unwrap_or_else(|f| panic!("{f}\n{text}"));
        c.model(None).expect("model").graph.clone()
    }

    fn form(body: &str) -> Canonical {
        let g = graph(body);
        let c = canonical(&g).expect("no holes");
        // Every proof replays to the form it claims.
        assert_eq!(replay(&g, &c.proof).as_ref(), Ok(&c), "{body}");
        c
    }

    #[test]
    fn equivalent_bodies_share_a_form_and_different_ones_do_not() {
        let same = [
            ("    return x |> relu |> relu |> dense(6)", "    return x |> identity |> relu |> dense(6)"),
            ("    return x + y", "    return y + x"),
            ("    return (x + y) + relu(x)", "    return relu(x) + (y + x)"),
            ("    return x * y |> scale(2.0) |> scale(0.5)", "    return y * x"),
            ("    return x |> transpose([0, 2, 1]) |> transpose([0, 2, 1])", "    return x"),
            ("    return x |> reshape([B, 24]) |> reshape([B, 6, 4]) |> reshape([B, 4, 6])", "    return x |> scale(1.0)"),
            ("    return x |> clamp(0.0, 1.0) |> clamp(0.0, 1.0)", "    return x |> clamp(0.0, 1.0)"),
        ];
        for (a, b) in same {
            assert_eq!(form(a).text, form(b).text, "{a}  vs  {b}");
            assert_eq!(form(a).fingerprint, form(b).fingerprint);
        }
        let different = [
            ("    return x |> relu", "    return x |> gelu"),
            ("    return x |> dropout(0.1)", "    return x"),
            ("    return x |> dense(6) |> dense(6)", "    return x |> dense(6)"),
            ("    return x |> clamp(0.0, 1.0) |> clamp(0.0, 2.0)", "    return x |> clamp(0.0, 1.0)"),
            ("    return x + y", "    return x * y"),
        ];
        for (a, b) in different {
            assert_ne!(form(a).fingerprint, form(b).fingerprint, "{a}  vs  {b}");
        }
    }

    #[test]
    fn a_corrupted_proof_is_rejected() {
        let g = graph("    return x |> relu |> relu |> scale(2.0) |> scale(0.5) |> dense(6)");
        let c = canonical(&g).expect("no holes");
        assert!(c.proof.len() >= 2, "{:?}", c.proof);
        // A rule whose condition does not hold where it is claimed.
        let mut wrong = c.proof.clone();
        wrong[0].rules[0] = "transpose_chain".into();
        assert!(replay(&g, &wrong).unwrap_err().contains("rule `transpose_chain` does not apply"));
        // An unknown rule.
        let mut unknown = c.proof.clone();
        unknown[0].rules[0] = "anything_goes".into();
        assert!(replay(&g, &unknown).is_err());
        // A step left out: the replay reaches another form, so the merge is not confirmed.
        let short: Vec<Step> = c.proof[1..].to_vec();
        assert_ne!(replay(&g, &short).map(|f| f.fingerprint), Ok(c.fingerprint.clone()));
        // A step at a node the graph does not have.
        let mut far = c.proof.clone();
        far.push(Step { node: 999, rules: vec!["identity".into()] });
        assert!(replay(&g, &far).unwrap_err().contains("node 999"));
    }
}
