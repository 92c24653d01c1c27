//! Put the comments the lexer set aside back on the AST, so `nasc fmt` never loses one.
//!
//! `///` above an item becomes its doc. A `//` comment goes above the next statement or item,
//! or at the end of a statement's line when written there. A comment written inside a statement
//! (between pipe stages, say) moves above that statement: its text is kept, its column is not.

use crate::syntax::ast::{File, ItemKind, Layout, Stmt};
use crate::syntax::lexer::RawComment;

pub fn attach_comments(file: &mut File, comments: &[RawComment], src: &str) {
    let mut pending: Vec<&RawComment> = comments.iter().collect();
    pending.reverse(); // pop from the front cheaply
    let n_items = file.items.len();
    for i in 0..n_items {
        let item_start = file.items[i].span.start;
        let item_end = file.items[i].span.end;
        let mut above = Vec::new();
        while let Some(c) = pending.last().copied().filter(|c| c.start < item_start) {
            pending.pop();
            above.push(c);
        }
        // Comments up to the last one followed by a blank line stay detached from the item.
        let detached = above.iter().enumerate().filter(|(k, c)| {
            let next = above.get(k + 1).map_or(item_start, |n| n.start);
            has_blank_line(src.get(c.end..next).unwrap_or(""))
        });
        let split = detached.map(|(k, _)| k + 1).next_back().unwrap_or(0);
        for (k, c) in above.iter().enumerate() {
            let item = &mut file.items[i];
            match (k < split, c.doc) {
                (true, _) => item.detached_comments.push(as_plain(c)),
                (false, true) => item.doc.push(c.text.clone()),
                (false, false) => item.comments.push(c.text.clone()),
            }
        }
        let mut inside = Vec::new();
        while let Some(c) = pending.last().copied().filter(|c| c.start < item_end) {
            pending.pop();
            inside.push(c);
        }
        let item = &mut file.items[i];
        match &mut item.kind {
            ItemKind::Block(b) => {
                let b = std::sync::Arc::make_mut(b);
                let body_start = b.body.first().map_or(item_end, |s| s.span.start);
                // A comment between `{` and the first statement belongs to that statement, not the header.
                let (header, to_body) = partition_header(&inside, b.ret.span().end, body_start, src);
                item.comments.extend(header);
                let body_comments: Vec<&RawComment> = inside.iter().copied().filter(|c| c.start >= body_start).collect();
                let mut all = to_body;
                all.extend(body_comments);
                attach_to_body(&mut b.body, &mut b.end_comments, &all, src);
            }
            ItemKind::Use(_) => item.comments.extend(inside.iter().map(|c| as_plain(c))),
        }
    }
    file.trailing_comments.extend(pending.into_iter().rev().map(as_plain));
    mark_blank_lines(file, src);
}

/// Comments in a block header (before the `{` that follows the return type) stay with the
/// item; those after that `{` go to the body.
fn partition_header<'a>(inside: &[&'a RawComment], ret_end: usize, body_start: usize, src: &str) -> (Vec<String>, Vec<&'a RawComment>) {
    let brace = src.get(ret_end..).and_then(|s| s.find('{')).map_or(usize::MAX, |k| ret_end + k);
    let mut header = Vec::new();
    let mut body = Vec::new();
    for c in inside.iter().copied().filter(|c| c.start < body_start) {
        if c.start > brace { body.push(c) } else { header.push(as_plain(c)) }
    }
    (header, body)
}

fn as_plain(c: &RawComment) -> String {
    if c.doc { format!("/{}", c.text) } else { c.text.clone() }
}

fn attach_to_body(body: &mut [Stmt], end_comments: &mut Vec<String>, comments: &[&RawComment], src: &str) {
    for c in comments {
        // Statements are in source order: a binary search finds the first one ending after the
        // comment (a scan per comment was quadratic on a file of 64,000 commented lines).
        let after = body.partition_point(|s| s.span.end <= c.start);
        // Trailing: on the same line as the end of the statement just before it.
        let trailing = after.checked_sub(1).filter(|&k| !src[body[k].span.end..c.start].contains('\n'));
        if let Some(k) = trailing.filter(|k| body[*k].trailing.is_none()) {
            body[k].trailing = Some(as_plain(c));
            continue;
        }
        match body.get_mut(after) {
            Some(s) => s.comments.push(as_plain(c)),
            None => end_comments.push(as_plain(c)),
        }
    }
}

fn mark_blank_lines(file: &mut File, src: &str) {
    for item in &mut file.items {
        if let ItemKind::Block(b) = &mut item.kind {
            let b = std::sync::Arc::make_mut(b);
            for k in 1..b.body.len() {
                let gap = src.get(b.body[k - 1].span.end..b.body[k].span.start).unwrap_or("");
                b.body[k].blank_before = Layout(has_blank_line(gap));
            }
        }
    }
}

fn has_blank_line(gap: &str) -> bool {
    let mut lines = gap.split('\n');
    lines.next(); // the rest of the previous statement's line
    let mut inner: Vec<&str> = lines.collect();
    inner.pop(); // the start of the next statement's line
    inner.iter().any(|l| l.trim().is_empty())
}
