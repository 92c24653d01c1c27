//! Shallow checking: a block's generic check stands for its calls.
//!
//! A block's generic check gives its parameters symbols (`[B, H, W, C]`, `n: int`). A call
//! whose arguments are those same values with the symbols renamed one-to-one (`[B, H2, W2, D]`)
//! would be checked again, inlined, exactly as the generic check was, only under other names:
//! it cannot fail where the generic check passed, and its outputs are the generic outputs
//! renamed. So, when only diagnostics are wanted (`nasc check`, the language server), such a
//! call takes its outputs from the callee's generic check instead of inlining the callee's body:
//! each block is checked once, and nested blocks no longer cost their depth at every level.
//! Any other call (concrete sizes, an expression such as `H/2`, a float value, a callee with
//! errors) is inlined as before, so it is checked with its own values.

use super::call::ArgVal;
use super::elaborate::{Elaborator, Stop, Val, elaborate_with};
use crate::diag::Diagnostic;
use crate::ir::{Graph, Scope};
use crate::program::{BlockEntry, Program};
use crate::shape::{Dim, Shape};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

/// A value of a generic check with shapes in place of tensors.
#[derive(Clone, Debug)]
pub(super) enum Out {
    Tensor(Shape),
    Int(Dim),
    Float(f64),
    AnyFloat,
    Bool(bool),
    Str(String),
    List(Vec<Out>),
    Tuple(Vec<Out>),
}

impl Out {
    /// `None` for an error value.
    fn of(v: &Val, g: &Graph) -> Option<Out> {
        Some(match v {
            Val::Tensor(t) => Out::Tensor(g.shape(*t).clone()),
            Val::Int(d) => Out::Int(d.clone()),
            Val::Float(f) => Out::Float(*f),
            Val::AnyFloat => Out::AnyFloat,
            Val::Bool(b) => Out::Bool(*b),
            Val::Str(s) => Out::Str(s.clone()),
            Val::List(vs) => Out::List(vs.iter().map(|v| Out::of(v, g)).collect::<Option<_>>()?),
            Val::Tuple(vs) => Out::Tuple(vs.iter().map(|v| Out::of(v, g)).collect::<Option<_>>()?),
            Val::Error => return None,
        })
    }
}

/// What a block's generic check says about every call that only renames its symbols.
pub(super) struct Summary {
    /// Each parameter's value in the generic check, in declaration order.
    params: Vec<Out>,
    out: Out,
}

/// One block's generic check: its graph and diagnostics, kept until the block's own turn as an
/// entry of the check, and its summary when it has no errors.
pub(super) struct GenericCheck {
    /// The graph and diagnostics, until the check of the whole program takes them.
    pub(super) result: RefCell<Option<(Graph, Vec<Diagnostic>)>>,
    summary: Option<Rc<Summary>>,
}

enum Slot {
    /// Being checked: a call reached from its own body (recursion) is inlined and reported.
    Busy,
    Done(Rc<GenericCheck>),
}

/// The generic checks of one shallow check, shared by every elaboration in it, with the node
/// budget they draw from.
pub(super) struct Summaries<'p> {
    prog: &'p Program,
    stop: Stop<'p>,
    pub(super) budget: Cell<usize>,
    /// By the entry's address: two blocks may share a name (an error, but both are checked).
    checks: RefCell<HashMap<*const BlockEntry, Slot>>,
}

impl<'p> Summaries<'p> {
    pub(super) fn new(prog: &'p Program, stop: Stop<'p>, budget: usize) -> Rc<Summaries<'p>> {
        Rc::new(Summaries { prog, stop, budget: Cell::new(budget), checks: RefCell::new(HashMap::new()) })
    }

    /// The generic check of `entry`, made on first use; `None` while it is being made.
    pub(super) fn generic(self: &Rc<Self>, entry: &'p BlockEntry) -> Option<Rc<GenericCheck>> {
        if !checkable(entry) {
            return None;
        }
        let key: *const BlockEntry = entry;
        match self.checks.borrow().get(&key) {
            Some(Slot::Done(g)) => return Some(g.clone()),
            Some(Slot::Busy) => return None,
            None => {}
        }
        self.checks.borrow_mut().insert(key, Slot::Busy);
        let (graph, diags, params, out) = elaborate_with(self.prog, entry, self.budget.get(), self.stop, Some(self.clone()));
        self.budget.set(self.budget.get().saturating_sub(graph.nodes.len()));
        let clean = !diags.iter().any(Diagnostic::is_error);
        let summary = clean.then(|| summarize(&graph, &params, &out)).flatten().map(Rc::new);
        let done = Rc::new(GenericCheck { result: RefCell::new(Some((graph, diags))), summary });
        self.checks.borrow_mut().insert(key, Slot::Done(done.clone()));
        Some(done)
    }
}

/// Blocks whose generic check stands for nothing: a `bool` or `str` parameter without a default
/// has no generic value.
fn checkable(entry: &BlockEntry) -> bool {
    super::checkable_generically(entry) && !entry.def.is_model
}

fn summarize(graph: &Graph, params: &[Val], out: &Val) -> Option<Summary> {
    let params = params.iter().map(|v| Out::of(v, graph)).collect::<Option<Vec<_>>>()?;
    Some(Summary { params, out: Out::of(out, graph)? })
}

/// A one-to-one renaming of the callee's symbols to the caller's.
#[derive(Default)]
struct Renaming {
    to: HashMap<String, String>,
    taken: std::collections::HashSet<String>,
    /// Dims that are neither a symbol nor a number (`heads*d`): compared once every symbol is known.
    later: Vec<(Dim, Dim)>,
}

impl Renaming {
    fn unify(&mut self, generic: &Dim, actual: &Dim) -> bool {
        match (generic.as_symbol(), actual.as_symbol()) {
            (Some(s), Some(t)) => match self.to.get(s) {
                Some(u) => u == t,
                None if self.taken.insert(t.to_string()) => {
                    self.to.insert(s.to_string(), t.to_string());
                    true
                }
                None => false,
            },
            (Some(_), None) => false,
            (None, _) if generic.is_concrete() => generic == actual,
            (None, _) => {
                self.later.push((generic.clone(), actual.clone()));
                true
            }
        }
    }

    fn unify_out(&mut self, generic: &Out, actual: &Val, g: &Graph) -> bool {
        match (generic, actual) {
            (Out::Tensor(s), Val::Tensor(t)) => {
                let a = g.shape(*t);
                s.rank() == a.rank() && s.0.iter().zip(&a.0).all(|(x, y)| self.unify(x, y))
            }
            (Out::Int(x), Val::Int(y)) => self.unify(x, y),
            (Out::AnyFloat, Val::AnyFloat) => true,
            (Out::Float(x), Val::Float(y)) => x.to_bits() == y.to_bits(),
            (Out::Bool(x), Val::Bool(y)) => x == y,
            (Out::Str(x), Val::Str(y)) => x == y,
            _ => false,
        }
    }

    fn apply(&self, d: &Dim) -> Option<Dim> {
        if d.symbols().iter().any(|s| !self.to.contains_key(s)) {
            return None;
        }
        d.substitute(&|s| self.to.get(s).map(|t| Dim::sym(t))).ok()
    }

    fn finish(&self) -> bool {
        self.later.iter().all(|(g, a)| self.apply(g).as_ref() == Some(a))
    }

    fn apply_out(&self, o: &Out) -> Option<Out> {
        Some(match o {
            Out::Tensor(s) => Out::Tensor(Shape(s.0.iter().map(|d| self.apply(d)).collect::<Option<_>>()?)),
            Out::Int(d) => Out::Int(self.apply(d)?),
            Out::List(os) => Out::List(os.iter().map(|o| self.apply_out(o)).collect::<Option<_>>()?),
            Out::Tuple(os) => Out::Tuple(os.iter().map(|o| self.apply_out(o)).collect::<Option<_>>()?),
            other => other.clone(),
        })
    }
}

impl<'p> Elaborator<'p> {
    /// The outputs of a call of `entry` read from its generic check, when the call only renames
    /// the generic check's symbols (see the module's comment); `None` to inline it.
    pub(super) fn by_summary(&mut self, entry: &'p BlockEntry, slots: &[Option<ArgVal>], span: crate::diag::Span) -> Option<Val> {
        let summaries = self.summaries.clone()?;
        let summary = summaries.generic(entry)?.summary.clone()?;
        let mut renaming = Renaming::default();
        for ((p, generic), slot) in entry.def.params.iter().zip(&summary.params).zip(slots) {
            let matched = match slot {
                Some(a) => renaming.unify_out(generic, &a.val, &self.graph),
                // A default is evaluated again at the call: the same value when it mentions no
                // symbol (an int parameter is a symbol in the generic check, a number here).
                None => p.default.is_some() && matches!(generic, Out::Float(_) | Out::Bool(_) | Out::Str(_)),
            };
            if !matched {
                return None;
            }
        }
        if !renaming.finish() {
            return None;
        }
        let out = renaming.apply_out(&summary.out)?;
        let val = self.make(&out, span);
        let outputs = super::elaborate::tensors_of(&val);
        let name = entry.def.name.name.clone();
        self.graph.scopes.push(Scope { block: name, parent: Some(self.scope), call_span: span, outputs });
        Some(val)
    }

    fn make(&mut self, o: &Out, span: crate::diag::Span) -> Val {
        match o {
            Out::Tensor(s) => Val::Tensor(self.new_tensor(s.clone(), None, span)),
            Out::Int(d) => Val::Int(d.clone()),
            Out::Float(f) => Val::Float(*f),
            Out::AnyFloat => Val::AnyFloat,
            Out::Bool(b) => Val::Bool(*b),
            Out::Str(s) => Val::Str(s.clone()),
            Out::List(os) => Val::List(os.iter().map(|o| self.make(o, span)).collect()),
            Out::Tuple(os) => Val::Tuple(os.iter().map(|o| self.make(o, span)).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::check::{Checked, check, check_shallow};
    use crate::program::Program;

    const ATTN: &str = "block Mix(x: [B, N, D]) -> [B, N, D] { return x |> dense(D) |> relu }\n";

    fn both(src: &str) -> (Checked, Checked) {
        let prog = Program::from_source("m.nas", src);
        (check(&prog), check_shallow(&prog))
    }

    fn nodes(c: &Checked, block: &str) -> usize {
        c.graph(block).map_or(0, |g| g.nodes.len())
    }

    fn codes(c: &Checked) -> Vec<String> {
        c.diagnostics.iter().map(|d| format!("{} {}", d.code, d.message)).collect()
    }

    #[test]
    fn a_renaming_call_takes_the_callees_outputs_renamed() {
        let src = format!("{ATTN}block Outer(y: [S, T, E]) -> [S, T, E] {{ return y |> Mix |> Mix }}\n");
        let (complete, shallow) = both(&src);
        assert!(complete.diagnostics.is_empty() && shallow.diagnostics.is_empty());
        assert_eq!((nodes(&complete, "Outer"), nodes(&shallow, "Outer")), (4, 0));
        let g = shallow.graph("Outer").expect("graph");
        assert_eq!(g.shape(g.outputs[0]).to_string(), "[S, T, E]");
        assert_eq!(g.scopes.iter().filter(|s| s.block == "Mix").count(), 2);
    }

    #[test]
    fn calls_that_are_not_renamings_are_inlined() {
        // Two symbols made one, a concrete size, an expression: each checked with its values.
        for (param, ret, body) in [("[B, D, D]", "[B, D, D]", "y"), ("[B, 4, D]", "[B, 4, D]", "y"), ("[B, N, D]", "[B, N, 2*D]", "y |> dense(2*D)")] {
            let src = format!("{ATTN}block Outer(y: {param}) -> {ret} {{ return {body} |> Mix }}\n");
            let (complete, shallow) = both(&src);
            assert!(!complete.has_errors(), "{:?}", codes(&complete));
            assert_eq!(nodes(&shallow, "Outer"), nodes(&complete, "Outer"), "{param}");
            assert_eq!(codes(&complete), codes(&shallow), "{param}");
        }
    }

    #[test]
    fn a_call_the_generic_check_could_not_see_fail_is_still_reported() {
        // Fine for any `C` and `h`, wrong for 10 channels in 3 heads: found by inlining the call.
        let src = "block Heads(x: [B, N, C], h: int) -> [B, N, h, C/h] { return x |> reshape([B, N, h, C/h]) }\n\
                   block Use(x: [B, N, C]) -> [B, N, 3, 10/3] { return x |> dense(10) |> Heads(h: 3) }\n";
        let (complete, shallow) = both(src);
        assert!(complete.has_errors());
        assert_eq!(codes(&complete), codes(&shallow));
    }

    #[test]
    fn a_callee_with_errors_is_inlined_and_reported_as_before() {
        let src = "block Bad(x: [B, N]) -> [B, N] { return x |> dense(N) |> nope }\n\
                   block Use(y: [B, M]) -> [B, M] { return y |> Bad }\n";
        let (complete, shallow) = both(src);
        assert!(complete.has_errors());
        assert_eq!(codes(&complete), codes(&shallow));
        assert_eq!(nodes(&shallow, "Use"), nodes(&complete, "Use"));
    }

    #[test]
    fn recursion_is_reported_in_shallow_checks_too() {
        let src = "block A(x: [B, N]) -> [B, N] { return x |> C }\nblock C(x: [B, N]) -> [B, N] { return x |> A }\n";
        let (complete, shallow) = both(src);
        assert!(codes(&shallow).iter().any(|c| c.contains("calls itself")));
        assert_eq!(codes(&complete), codes(&shallow));
    }

    #[test]
    fn defaults_and_float_parameters() {
        // A float passed on from the caller's own float parameter is a renaming; an int default
        // is a symbol in the generic check and a number at the call, so that call is inlined.
        let src = "block Drop(x: [B, N], p: float) -> [B, N] { return x |> dropout(p) }\n\
                   block DropK(x: [B, N], p: float, k: int = 2) -> [B, N] { return x |> dropout(p) }\n\
                   block Use(y: [B, M], q: float) -> [B, M] { return y |> Drop(p: q) |> DropK(p: q) }\n";
        let (complete, shallow) = both(src);
        assert!(complete.diagnostics.is_empty(), "{:?}", codes(&complete));
        assert_eq!(codes(&complete), codes(&shallow));
        assert_eq!((nodes(&complete, "Use"), nodes(&shallow, "Use")), (2, 1));
    }

    #[test]
    fn a_float_parameter_is_a_rate_and_a_bound_in_a_generic_check() {
        let src = "block D(x: [B, N], p: float, lo: float) -> [B, N] { return x |> dropout(p) |> drop_path(p) |> clamp(min: lo, max: 6.0) }\n\
                   model M(x: [B, 4]) -> [B, 4] { return x |> D(p: 1.5, lo: 0.0) }\n";
        let (complete, _) = both(src);
        assert_eq!(codes(&complete), ["E0206 dropout rate must be in [0, 1), found 1.5"]);
    }
}
