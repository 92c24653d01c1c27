//! LSP positions (line, UTF-16 column) to byte offsets and back.

use lsp_types::{Position, Range};

pub fn to_position(text: &str, offset: usize) -> Position {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count();
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    let col: usize = before[start..].chars().map(char::len_utf16).sum();
    Position { line: line as u32, character: col as u32 }
}

/// Where each line starts, built once per document: a position is then a binary search and a
/// count within one line (counting newlines from the start for each of 10,000 diagnostics was
/// quadratic: 780 ms per edit).
#[derive(Clone, Debug, Default)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        LineIndex { starts: std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect() }
    }

    /// [`to_position`] of `text` (the text this index was built from).
    pub fn position(&self, text: &str, offset: usize) -> Position {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset).saturating_sub(1);
        let start = self.starts.get(line).copied().unwrap_or(0).min(offset);
        let col: usize = text[start..offset].chars().map(char::len_utf16).sum();
        Position { line: line as u32, character: col as u32 }
    }

    pub fn range(&self, text: &str, start: usize, end: usize) -> Range {
        Range { start: self.position(text, start), end: self.position(text, end.max(start)) }
    }
}

pub fn to_range(text: &str, start: usize, end: usize) -> Range {
    Range { start: to_position(text, start), end: to_position(text, end.max(start)) }
}

pub fn to_offset(text: &str, p: Position) -> usize {
    let mut line_start = 0;
    for _ in 0..p.line {
        match text[line_start..].find('\n') {
            Some(i) => line_start += i + 1,
            None => return text.len(),
        }
    }
    let mut units = 0;
    for (i, ch) in text[line_start..].char_indices() {
        if units >= p.character as usize || ch == '\n' {
            return line_start + i;
        }
        units += ch.len_utf16();
    }
    text.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_columns_round_trip() {
        let t = "ab\n×c𝔸d\n";
        let d = t.find('d').unwrap_or(0);
        let p = to_position(t, d);
        assert_eq!((p.line, p.character), (1, 4));
        assert_eq!(to_offset(t, p), d);
        assert_eq!(to_offset(t, Position { line: 9, character: 0 }), t.len());
    }

    #[test]
    fn the_line_index_gives_the_positions_counting_gives() {
        let t = "ab\n×c𝔸d\n\nlast";
        let index = LineIndex::new(t);
        for offset in 0..=t.len() + 2 {
            let want = to_position(t, offset.min(t.len()));
            if t.is_char_boundary(offset.min(t.len())) {
                assert_eq!(index.position(t, offset), want, "offset {offset}");
            }
        }
    }
}
