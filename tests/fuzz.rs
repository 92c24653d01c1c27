//! Randomized robustness: mutated example files and random token soup go through the parser and
//! checker. Nothing may panic, and every failure must come back as diagnostics with valid spans.

use nasc::program::Program;
use nasc::syntax::generate::Rng;

const TOKENS: &[&str] = &[
    "use", "block", "model", "let", "return", "true", "false", "in", "x", "B", "conv", "relu", "dense", "BasicBlock",
    "3", "0", "64k", "0.5", "\"s\"", "|>", "->", "+", "-", "*", "/", "=", ">=", "<=", "<", ">", ",", ":", ".", "..",
    "(", ")", "[", "]", "{", "}", "?", "@", "//", "///", "\n", "é", "$", "\"",
];

fn examples() -> Vec<String> {
    let mut v = Vec::new();
    for dir in ["examples", "stdlib"] {
        for e in std::fs::read_dir(dir).expect("dir") {
            let p = e.expect("entry").path();
            if p.extension().is_some_and(|x| x == "nas") {
                v.push(std::fs::read_to_string(p).expect("text"));
            }
        }
    }
    v.sort();
    v
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn mutate(rng: &mut Rng, src: &str) -> String {
    let mut s = src.to_string();
    for _ in 0..1 + rng.below(4) {
        let a = floor_boundary(&s, rng.below(s.len() + 1));
        let b = floor_boundary(&s, a + rng.below(40));
        s = match rng.below(5) {
            0 => format!("{}{}", &s[..a], &s[b..]),
            1 => format!("{}{}{}", &s[..a], rng.pick(TOKENS), &s[a..]),
            2 => s[..a].to_string(),
            3 => format!("{}{}{}", &s[..b], &s[a..b], &s[b..]),
            _ => s.replacen(char::is_numeric, &rng.below(9).to_string(), 1),
        };
    }
    s
}

fn assert_survives(name: &str, text: &str) {
    let text = text.to_string();
    let name = name.to_string();
    let result = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            let prog = Program::from_source("fuzz.nas", &text);
            let checked = nasc::check::check(&prog);
            for d in &checked.diagnostics {
                let f = prog.sources.get(d.primary.span.file).expect("span file exists");
                assert!(d.primary.span.end <= f.text.len() && d.primary.span.start <= d.primary.span.end);
                assert!(!d.message.is_empty());
                let _ = d.render(&prog.sources, false);
            }
            if let Some(ast) = prog.root_ast() {
                let _ = nasc::syntax::print_file(ast);
            }
            (text, checked.has_errors())
        })
        .expect("spawn")
        .join();
    assert!(result.is_ok(), "{name}: nasc panicked");
}

#[test]
fn mutated_examples_never_panic() {
    let sources = examples();
    let mut rng = Rng::new(7);
    for i in 0..600 {
        let src = &sources[i % sources.len()];
        let m = mutate(&mut rng, src);
        assert_survives(&format!("mutation {i}"), &m);
    }
}

#[test]
fn token_soup_never_panics() {
    let mut rng = Rng::new(11);
    for i in 0..600 {
        let n = rng.below(80);
        let soup: Vec<&str> = (0..n).map(|_| *rng.pick(TOKENS)).collect();
        assert_survives(&format!("soup {i}"), &soup.join(" "));
    }
}

#[test]
fn pathological_inputs_are_diagnostics() {
    let deep = format!("model M(x: [B, 8]) -> [B, 8] {{ return {}x{} }}", "(".repeat(10_000), ")".repeat(10_000));
    let prog = Program::from_source("deep.nas", &deep);
    let checked = nasc::check::check(&prog);
    assert_eq!(checked.diagnostics[0].code, "E0004");
    let bytes = b"model M(x: [B, 8]) -> [B, 8] { return x \xff\xfe }".to_vec();
    let dir = std::env::temp_dir().join(format!("nasc-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let path = dir.join("bad.nas");
    std::fs::write(&path, bytes).expect("write");
    let checked = nasc::check::check(&Program::load(&path));
    assert_eq!(checked.diagnostics[0].code, "E0005");
    assert_survives("empty", "");
    assert_survives("huge repeat", "model M(x: [B, 8]) -> [B, 8] { return x |> relu * 99999999 }");
    assert_survives("huge dims", "model M(x: [B, 9223372036854775807, 9223372036854775807]) -> [B, 8] { return x |> flatten |> dense(8) }");
}
