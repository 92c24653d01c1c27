//! Reports: output shape, params and MACs of every top-level op and block call of a model, and
//! totals. These are the numbers every other phase shows (CLI, LSP hover, evolution store).

use crate::ir::{Graph, NodeKind, ScopeId, node_cost};
use crate::program::Program;
use crate::shape::Dim;
use serde::Serialize;
use std::fmt::Write;

/// A count that is a number when concrete and an expression (`9*C^2 + ...`) when symbolic.
#[derive(Clone, Debug, PartialEq)]
pub struct Count(pub Dim);

impl Serialize for Count {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.as_int() {
            Some(n) => s.serialize_i64(n),
            None => s.serialize_str(&self.0.to_string()),
        }
    }
}

impl Count {
    pub fn as_int(&self) -> Option<i64> {
        self.0.as_int()
    }
    /// `21,282,122` or the symbolic expression.
    pub fn pretty(&self) -> String {
        match self.0.as_int() {
            Some(n) => group_thousands(n),
            None => self.0.to_string(),
        }
    }
}

/// `1234567` as `1,234,567`: every count users see is printed this way.
pub fn group_thousands(n: i64) -> String {
    let s = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if n < 0 { format!("-{out}") } else { out }
}

#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// The op or block name.
    pub name: String,
    /// `block` for a block call, `op`, or `hole`.
    pub kind: &'static str,
    pub line: usize,
    pub output: String,
    pub params: Count,
    pub macs: Count,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub model: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    /// Trainable parameters (BN running statistics are not parameters).
    pub params: Count,
    /// Multiply-accumulates of one example (batch 1).
    pub macs: Count,
    pub holes: usize,
    /// A count did not fit in 128 bits (absurd dims); the totals are then incomplete.
    pub overflow: bool,
    pub rows: Vec<Row>,
}

/// The top-level scope (a child of the graph's own scope) that `scope` lies in.
fn top_scope(g: &Graph, mut scope: ScopeId) -> ScopeId {
    while let Some(p) = g.scopes.get(scope).and_then(|s| s.parent) {
        if p == 0 {
            return scope;
        }
        scope = p;
    }
    scope
}

pub fn report(prog: &Program, g: &Graph) -> Report {
    let mut rows: Vec<Row> = Vec::new();
    let mut row_of_scope: Vec<(ScopeId, usize)> = Vec::new();
    let (mut params, mut macs) = (Dim::zero(), Dim::zero());
    let mut overflow = false;
    let line = |span: crate::diag::Span| prog.sources.line_col(span.file, span.start).0;
    for n in &g.nodes {
        let (p, m) = node_cost(g, n).unwrap_or_else(|_| {
            overflow = true;
            (Dim::zero(), Dim::zero())
        });
        match (params.add(&p), macs.add(&m)) {
            (Ok(a), Ok(b)) => (params, macs) = (a, b),
            _ => overflow = true,
        }
        let top = top_scope(g, n.scope);
        let output = n.outputs.first().map(|&t| g.shape(t).to_string()).unwrap_or_default();
        let idx = if top == 0 {
            let (name, kind) = match &n.kind {
                NodeKind::Op { op, .. } => (op.to_string(), "op"),
                NodeKind::Hole(_) => ("?".to_string(), "hole"),
            };
            rows.push(Row { name, kind, line: line(n.span), output, params: Count(Dim::zero()), macs: Count(Dim::zero()) });
            rows.len() - 1
        } else if let Some(&(_, i)) = row_of_scope.iter().find(|(s, _)| *s == top) {
            i
        } else {
            let sc = &g.scopes[top];
            rows.push(Row { name: sc.block.clone(), kind: "block", line: line(sc.call_span), output, params: Count(Dim::zero()), macs: Count(Dim::zero()) });
            row_of_scope.push((top, rows.len() - 1));
            rows.len() - 1
        };
        let row = &mut rows[idx];
        if top != 0 {
            let out = g.scopes[top].outputs.first().map(|&t| g.shape(t).to_string());
            row.output = out.unwrap_or_default();
        }
        row.params = Count(row.params.0.add(&p).unwrap_or(row.params.0.clone()));
        row.macs = Count(row.macs.0.add(&m).unwrap_or(row.macs.0.clone()));
    }
    let shapes = |ts: &[usize]| ts.iter().map(|&t| g.shape(t).to_string()).collect::<Vec<_>>();
    Report {
        model: g.name.clone(),
        inputs: shapes(&g.inputs),
        outputs: shapes(&g.outputs),
        params: Count(params),
        macs: Count(macs),
        holes: g.holes().count(),
        overflow,
        rows,
    }
}

impl Report {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// A table for the terminal.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "model {}: {} -> {}", self.model, self.inputs.join(", "), self.outputs.join(", "));
        let w_name = self.rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(5);
        let w_out = self.rows.iter().map(|r| r.output.len()).max().unwrap_or(6).max(6);
        let _ = writeln!(out, "{:>4}  {:<w_name$}  {:>5}  {:<w_out$}  {:>14}  {:>16}", "#", "layer", "line", "output", "params", "MACs");
        for (i, r) in self.rows.iter().enumerate() {
            let _ = writeln!(out, "{:>4}  {:<w_name$}  {:>5}  {:<w_out$}  {:>14}  {:>16}", i + 1, r.name, r.line, r.output, r.params.pretty(), r.macs.pretty());
        }
        let _ = writeln!(out, "{:>4}  {:<w_name$}  {:>5}  {:<w_out$}  {:>14}  {:>16}", "", "total", "", "", self.params.pretty(), self.macs.pretty());
        if self.overflow {
            let _ = writeln!(out, "warning: a count overflowed 128 bits; the totals leave it out");
        }
        if self.holes > 0 {
            let _ = writeln!(out, "note: {} unfilled hole(s); their ops are not counted", self.holes);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands() {
        assert_eq!(group_thousands(21_282_122), "21,282,122");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(-1000), "-1,000");
    }
}
