//! Checking a whole program: item-level rules (duplicates, names, attributes), then every block
//! generically and every model with its declared shapes. All errors of a file in one run.

mod call;
mod elaborate;
mod env;
mod expr;
mod hole;
mod signature;
mod summary;

pub use elaborate::{MAX_NODES, Stop};

use crate::diag::{Diagnostic, codes as c, dedup, suggest};
use crate::ir::Graph;
use crate::ops;
use crate::program::{BlockEntry, Program};
use crate::syntax::ast::TypeExpr;
use elaborate::elaborate;
use summary::Summaries;

/// Attributes the compiler knows. `@frozen`: evolution must not touch this block or binding.
pub const KNOWN_ATTRS: &[&str] = &["frozen"];

/// The result of checking: one graph per block and model of the root file, and diagnostics.
#[derive(Clone, Debug, Default)]
pub struct Checked {
    pub graphs: Vec<Graph>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
    pub fn graph(&self, name: &str) -> Option<&Graph> {
        self.graphs.iter().find(|g| g.name == name)
    }
}

pub fn check(prog: &Program) -> Checked {
    check_until(prog, Stop::default())
}

/// `check`, giving up early when `stop` says so: a cancelled check's result is meaningless (and
/// dropped); one past its deadline says so in a diagnostic.
pub fn check_until<'p>(prog: &'p Program, stop: Stop<'p>) -> Checked {
    check_with(prog, stop, false)
}

/// The diagnostics of `check` for less work, in graphs fit for hovers but not for analysis:
/// in a block's graph, a call that only renames the callee's symbols is an output tensor with
/// no producer (see `summary.rs`) instead of the callee's inlined body. Models are complete.
/// For `nasc check` and the language server's diagnostics.
pub fn check_shallow_until<'p>(prog: &'p Program, stop: Stop<'p>) -> Checked {
    check_with(prog, stop, true)
}

/// `check_shallow_until` with no stop.
pub fn check_shallow(prog: &Program) -> Checked {
    check_shallow_until(prog, Stop::default())
}

/// One block's or model's complete graph, as `check` makes it (for a graph from a shallow check).
pub fn complete_graph(prog: &Program, entry: &BlockEntry) -> Graph {
    elaborate(prog, entry, MAX_NODES, Stop::default()).0
}

fn check_with<'p>(prog: &'p Program, stop: Stop<'p>, shallow: bool) -> Checked {
    let mut diags = prog.diagnostics.clone();
    // A file that does not parse would give confusing follow-on errors: stop at syntax.
    if diags.iter().any(Diagnostic::is_error) {
        dedup(&mut diags);
        cap_per_line(&mut diags, &prog.sources);
        cap(&mut diags);
        return Checked { graphs: Vec::new(), diagnostics: diags };
    }
    item_rules(prog, &mut diags);
    // Models first: they are what gets trained, and every block they call is checked inside
    // them. The node budget is shared, so blocks checked on their own get what models leave.
    let mut order: Vec<(usize, &BlockEntry)> = prog.blocks.iter().filter(|b| b.file == prog.root && checkable_generically(b)).enumerate().collect();
    order.sort_by_key(|(k, b)| (!b.def.is_model, *k));
    let mut graphs = Vec::new();
    let mut budget = MAX_NODES;
    let summaries = shallow.then(|| Summaries::new(prog, stop, MAX_NODES));
    let mut unchecked: Vec<&str> = Vec::new();
    for (k, entry) in order {
        if stop.cancelled() || stop.past_deadline() {
            break;
        }
        if budget == 0 {
            unchecked.push(&entry.def.name.name);
            continue;
        }
        let (g, d) = match &summaries {
            Some(s) if !entry.def.is_model => {
                // Its generic check may have been made already, for a call of it.
                s.budget.set(budget);
                let Some((g, d)) = s.generic(entry).and_then(|c| c.result.borrow_mut().take()) else { continue };
                budget = s.budget.get();
                (g, d)
            }
            _ => {
                let (g, d) = elaborate(prog, entry, budget, stop);
                budget = budget.saturating_sub(g.nodes.len());
                (g, d)
            }
        };
        let spent = d.iter().any(|d| d.code == c::TooLarge);
        if spent {
            budget = 0;
        }
        if spent && !entry.def.is_model {
            // Too large on its own, but each call of it is checked where it is made.
            unchecked.push(&entry.def.name.name);
            continue;
        }
        diags.extend(d);
        graphs.push((k, g));
    }
    graphs.sort_by_key(|(k, _)| *k);
    let graphs = graphs.into_iter().map(|(_, g)| g).collect();
    if let Some(first) = unchecked.first().and_then(|n| prog.block(n)) {
        let names = unchecked.iter().take(8).map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
        let more = if unchecked.len() > 8 { format!(" and {} more", unchecked.len() - 8) } else { String::new() };
        diags.push(
            Diagnostic::warning(c::NotCheckedAlone, format!("{} block(s) were not checked on their own: {names}{more}", unchecked.len()), first.def.name.span)
                .with_note(format!("the program inlines to more than {} ops in all", MAX_NODES))
                .with_note("every call of a block is still checked where it is made"),
        );
    }
    if stop.past_deadline() {
        let span = crate::diag::Span::new(prog.root, 0, 0);
        diags.push(
            Diagnostic::error(c::TooLarge, "checking ran out of time and stopped", span)
                .with_hint("the rest of the file was not checked; `nasc check` checks it without a time limit"),
        );
    }
    dedup(&mut diags);
    cap_per_line(&mut diags, &prog.sources);
    cap(&mut diags);
    Checked { graphs, diagnostics: diags }
}

/// The most diagnostics one check keeps: 300,000 unused `let`s took 850 MB and seconds to print,
/// and nobody reads past the first screens.
pub const MAX_DIAGNOSTICS: usize = 10_000;

/// Keep the first `MAX_DIAGNOSTICS` (by position) and one diagnostic counting the rest, an error
/// when errors were among them so the outcome does not change.
fn cap(diags: &mut Vec<Diagnostic>) {
    if diags.len() <= MAX_DIAGNOSTICS {
        return;
    }
    let rest = diags.split_off(MAX_DIAGNOSTICS);
    let errors = rest.iter().filter(|d| d.is_error()).count();
    let message = format!("{} more diagnostics not shown ({errors} of them errors)", rest.len());
    let span = rest[0].primary.span;
    diags.push(if errors > 0 { Diagnostic::error(c::TooLarge, message, span) } else { Diagnostic::warning(c::MoreNotShown, message, span) });
}

/// The most diagnostics kept for one source line: 100,000 names unpacked on one line made as
/// many warnings, each quoting the line.
pub const MAX_PER_LINE: usize = 10;

/// Keep the first `MAX_PER_LINE` diagnostics of each line (they are sorted by position) and
/// one counting the rest of that line, an error when errors were among them.
fn cap_per_line(diags: &mut Vec<Diagnostic>, sources: &crate::diag::SourceMap) {
    let line = |d: &Diagnostic| (d.primary.span.file, sources.line_of(d.primary.span.file, d.primary.span.start));
    if diags.windows(MAX_PER_LINE + 1).all(|w| line(&w[0]) != line(&w[MAX_PER_LINE])) {
        return;
    }
    let mut out: Vec<Diagnostic> = Vec::with_capacity(diags.len());
    let mut k = 0;
    while k < diags.len() {
        let here = line(&diags[k]);
        let end = k + diags[k..].iter().take_while(|d| line(d) == here).count();
        out.extend(diags[k..end.min(k + MAX_PER_LINE)].iter().cloned());
        if end - k > MAX_PER_LINE {
            let rest = &diags[k + MAX_PER_LINE..end];
            let errors = rest.iter().filter(|d| d.is_error()).count();
            let message = format!("{} more diagnostics on line {} not shown ({errors} of them errors)", rest.len(), here.1);
            let span = rest[0].primary.span;
            out.push(if errors > 0 { Diagnostic::error(c::TooLarge, message, span) } else { Diagnostic::warning(c::MoreNotShown, message, span) });
        }
        k = end;
    }
    *diags = out;
}

/// A block with a `bool` or `str` parameter without a default is only checked at its calls.
pub(super) fn checkable_generically(b: &BlockEntry) -> bool {
    b.def.params.iter().all(|p| match &p.ty {
        TypeExpr::Scalar(t) => p.default.is_some() || !matches!(t.name.as_str(), "bool" | "str"),
        _ => true,
    })
}

fn item_rules(prog: &Program, diags: &mut Vec<Diagnostic>) {
    for (k, b) in prog.blocks.iter().enumerate() {
        let name = &b.def.name;
        let first = prog.block(&name.name).filter(|p| !std::ptr::eq(*p, b));
        if let Some(prev) = first.filter(|_| k > 0) {
            diags.push(
                Diagnostic::error(c::DuplicateBlock, format!("`{}` is defined twice", name.name), name.span)
                    .with_primary_label("defined again here")
                    .with_label(prev.def.name.span, "first defined here"),
            );
        }
        if ops::lookup(&name.name).is_some() {
            diags.push(
                Diagnostic::error(c::ShadowsOp, format!("block `{}` has the name of an op", name.name), name.span)
                    .with_hint("rename the block; op names are reserved"),
            );
        }
        // The first declaration of each name, in one pass (a scan per parameter was quadratic:
        // 10^5 parameters took over 20 s).
        let mut first: std::collections::HashMap<&str, &crate::syntax::ast::Param> = std::collections::HashMap::new();
        for p in &b.def.params {
            if let Some(prev) = first.get(p.name.name.as_str()) {
                diags.push(
                    Diagnostic::error(c::DuplicateParam, format!("parameter `{}` is declared twice", p.name.name), p.name.span)
                        .with_primary_label("declared again here")
                        .with_label(prev.name.span, "first declared here"),
                );
            } else {
                first.insert(&p.name.name, p);
            }
        }
        let stmt_attrs = b.def.body.iter().flat_map(|s| s.attrs.iter());
        for a in b.attrs.iter().chain(stmt_attrs) {
            if !KNOWN_ATTRS.contains(&a.name.name.as_str()) {
                let mut d = Diagnostic::error(c::UnknownAttr, format!("unknown attribute `@{}`", a.name.name), a.span)
                    .with_note(format!("known attributes: {}", KNOWN_ATTRS.iter().map(|k| format!("@{k}")).collect::<Vec<_>>().join(", ")));
                if let Some(h) = suggest(&a.name.name, KNOWN_ATTRS.iter().copied()) {
                    d = d.with_hint(h);
                }
                diags.push(d);
            }
        }
    }
}

/// Pick the model to build: `name`, or the only model of the root file.
pub fn select_model<'a>(prog: &'a Program, name: Option<&str>) -> Result<&'a BlockEntry, Diagnostic> {
    let models = prog.models();
    let span = crate::diag::Span::new(prog.root, 0, 0);
    let list = || models.iter().map(|m| m.def.name.name.clone()).collect::<Vec<_>>().join(", ");
    match name {
        Some(n) => match models.iter().find(|m| m.def.name.name == n) {
            Some(m) => Ok(m),
            None => {
                let mut d = Diagnostic::error(c::NoModel, format!("no model named `{n}`"), span);
                d = if models.is_empty() { d.with_note("this file has no `model` item") } else { d.with_note(format!("models: {}", list())) };
                if let Some(h) = suggest(n, models.iter().map(|m| m.def.name.name.as_str())) {
                    d = d.with_hint(h);
                }
                Err(d)
            }
        },
        None => match models.as_slice() {
            [one] => Ok(one),
            [] => Err(Diagnostic::error(c::NoModel, "this file has no `model`", span)
                .with_hint("declare an entry point with `model Name(x: [B, ...]) -> [...] { ... }`")),
            _ => Err(Diagnostic::error(c::NoModel, "this file has several models; choose one", span)
                .with_note(format!("models: {}", list()))
                .with_hint("pass `--model NAME`")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::time::{Duration, Instant};

    const SRC: &str = "block A(x: [B, 8]) -> [B, 8] { return x |> relu }\nmodel M(x: [B, 8]) -> [B, 8] { return x |> A }\n";

    #[test]
    fn a_check_past_its_deadline_says_so() {
        let prog = Program::from_source("m.nas", SRC);
        let past = Instant::now().checked_sub(Duration::from_secs(1));
        let checked = check_until(&prog, Stop { cancel: None, deadline: past });
        let d = checked.diagnostics.iter().find(|d| d.code == c::TooLarge).expect("a diagnostic");
        assert_eq!(d.message, "checking ran out of time and stopped");
        assert!(checked.has_errors());
    }

    #[test]
    fn a_cancelled_check_stops_before_elaborating() {
        let prog = Program::from_source("m.nas", SRC);
        let cancel = AtomicBool::new(true);
        let checked = check_until(&prog, Stop { cancel: Some(&cancel), deadline: None });
        assert!(checked.graphs.is_empty());
        assert_eq!(check(&prog).graphs.len(), 2);
    }

    #[test]
    fn diagnostics_past_the_cap_of_a_line_are_counted_in_one() {
        let mut sources = crate::diag::SourceMap::default();
        let f = sources.add("l.nas", format!("{}\nz\n", "x ".repeat(30)));
        let at = |k: usize| crate::diag::Span::new(f, k, k + 1);
        let mut diags: Vec<Diagnostic> = (0..25).map(|k| Diagnostic::warning(c::UnusedBinding, "w", at(2 * k))).collect();
        diags.push(Diagnostic::error(c::UnknownName, "e", at(50)));
        diags.push(Diagnostic::error(c::UnknownName, "next line", at(61)));
        cap_per_line(&mut diags, &sources);
        assert_eq!(diags.len(), MAX_PER_LINE + 2);
        let count = &diags[MAX_PER_LINE];
        assert_eq!((count.code, count.message.as_str()), (c::TooLarge, "16 more diagnostics on line 1 not shown (1 of them errors)"));
        assert_eq!(diags[MAX_PER_LINE + 1].message, "next line");
    }

    #[test]
    fn diagnostics_past_the_cap_are_counted_in_one() {
        let span = crate::diag::Span::default();
        let mut diags: Vec<Diagnostic> = (0..MAX_DIAGNOSTICS + 5).map(|_| Diagnostic::warning(c::UnusedBinding, "w", span)).collect();
        diags.push(Diagnostic::error(c::UnknownName, "e", span));
        cap(&mut diags);
        assert_eq!(diags.len(), MAX_DIAGNOSTICS + 1);
        let last = diags.last().expect("the count");
        assert_eq!((last.code, last.message.as_str()), (c::TooLarge, "6 more diagnostics not shown (1 of them errors)"));
    }
}
