//! "did you mean ...?": the nearest of some candidate names.

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// `did you mean ...?` from the closest candidate, if close enough.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let limit = |c: &str| (c.len().max(name.len()) / 3).max(1);
    // The length difference bounds the distance from below: most candidates are skipped cheaply.
    let best = candidates
        .into_iter()
        .filter(|c| c.len().abs_diff(name.len()) <= limit(c))
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, c)| *d > 0 && *d <= limit(c))
        .min()?;
    Some(format!("did you mean `{}`?", best.1))
}
