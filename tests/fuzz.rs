//! Randomized robustness (issue 16): generated programs, mutated examples, random token soup and
//! the corpus of inputs that once failed go through every phase (check, render, fmt, props,
//! hole filling, the language server). Nothing may panic or hang, and every failure must come
//! back as diagnostics with valid spans. `NASC_FUZZ_SECONDS` (default 30) bounds the open-ended
//! run; CI runs it with the default as part of `cargo test`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's helpers state its expectations

use nasc::program::Program;
use nasc::syntax::generate::Rng;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts the bytes each thread has allocated and not freed, and their peak, so each input
/// (run on a thread of its own) is held to a memory limit of its own although the tests of this
/// file share one process.
struct PerThread;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn account(delta: isize) {
    // `try_with`: the counters may already be gone while a thread is being torn down.
    let _ = LIVE.try_with(|l| {
        let now = l.get() + delta;
        l.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
}

// SAFETY: every call is forwarded to the system allocator unchanged; the counting touches only
// const-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for PerThread {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        account(layout.size() as isize);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        account(-(layout.size() as isize));
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        account(new_size as isize - layout.size() as isize);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: PerThread = PerThread;

/// The bound for any single input.
const MEMORY_LIMIT: usize = 1 << 30;

/// The largest per-input peak seen so far, for the summary.
static LARGEST_PEAK: AtomicUsize = AtomicUsize::new(0);

const TOKENS: &[&str] = &[
    "use",
    "block",
    "model",
    "let",
    "return",
    "true",
    "false",
    "in",
    "for",
    "x",
    "B",
    "conv",
    "relu",
    "dense",
    "BasicBlock",
    "3",
    "0",
    "64k",
    "0.5",
    "\"s\"",
    "|>",
    "->",
    "+",
    "-",
    "*",
    "/",
    "=",
    ">=",
    "<=",
    "<",
    ">",
    ",",
    ":",
    ".",
    "..",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "?",
    "@",
    "//",
    "///",
    "\n",
    "é",
    "$",
    "\"",
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

/// Every phase a user or an editor can reach: check and render, fmt (print + reparse), props,
/// hole filling (`nasc build`) and the language server's requests. On a thread with a time
/// limit: a hang fails the test instead of stalling it.
fn assert_survives(name: &str, text: &str) {
    let text = text.to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            let ok = std::panic::catch_unwind(|| every_target(&text)).is_ok();
            let peak = PEAK.with(Cell::get).max(0) as usize;
            let _ = tx.send((ok, peak));
        })
        .expect("spawn");
    match rx.recv_timeout(std::time::Duration::from_secs(LIMIT_SECONDS)) {
        Ok((true, peak)) => {
            LARGEST_PEAK.fetch_max(peak, Ordering::Relaxed);
            assert!(peak < MEMORY_LIMIT, "{name}: {} MiB allocated at once (limit {} MiB)", peak >> 20, MEMORY_LIMIT >> 20);
        }
        Ok((false, _)) => panic!("{name}: nasc panicked"),
        Err(_) => panic!("{name}: nasc ran past {LIMIT_SECONDS} s"),
    }
}

/// Per input; the slowest corpus input takes well under a second.
const LIMIT_SECONDS: u64 = 30;

fn every_target(text: &str) {
    let prog = Program::from_source("fuzz.nas", text);
    let checked = nasc::check::check(&prog);
    for d in &checked.diagnostics {
        let f = prog.sources.get(d.primary.span.file).expect("span file exists");
        assert!(d.primary.span.end <= f.text.len() && d.primary.span.start <= d.primary.span.end);
        assert!(!d.message.is_empty());
    }
    assert_shallow_agrees(&prog, &checked);
    let _ = nasc::diag::render_all(&checked.diagnostics, &prog.sources, false);
    if let Some(ast) = prog.root_ast().filter(|_| prog.diagnostics.is_empty()) {
        let printed = nasc::syntax::print_file(ast);
        let again = Program::from_source("fuzz.nas", &printed);
        assert!(again.diagnostics.is_empty(), "fmt output does not parse:\n{printed}");
    }
    for g in &checked.graphs {
        let _ = nasc::props::infer_graph(g);
    }
    if !checked.has_errors() {
        let cfg = nasc::synth::SynthConfig { max_states: 2000, ..Default::default() };
        let _ = nasc::synth::fill::fill_holes(&prog, &checked, &cfg);
    }
    let uri: lsp_types::Uri = "file:///tmp/fuzz.nas".parse().expect("uri");
    let a = nasc::lsp::analysis::Analysis::guarded(&uri, text);
    let lines = text.lines().count() as u32;
    for (line, character) in [(0, 0), (lines / 2, 7), (lines, 0), (lines + 5, 99)] {
        let p = lsp_types::Position { line, character };
        let _ = (a.hover(p), a.definition(p), a.completion(p));
    }
    let _ = (a.symbols(), a.format(), a.lsp_diagnostics());
}

/// The shallow check (`nasc check`, the language server's diagnostics) says exactly what the
/// complete check says, unless the complete one ran out of its node budget (which the shallow
/// one is there to avoid).
fn assert_shallow_agrees(prog: &Program, complete: &nasc::check::Checked) {
    if complete.diagnostics.iter().any(|d| d.code == "E0112" || d.code == "W0104") {
        return;
    }
    let shallow = nasc::check::check_shallow(prog);
    let show = |c: &nasc::check::Checked| c.diagnostics.iter().map(|d| format!("{d:?}")).collect::<Vec<_>>();
    assert_eq!(show(complete), show(&shallow), "shallow and complete checks disagree");
}

#[test]
fn shallow_checks_agree_on_nested_blocks() {
    let text = nasc::syntax::generate::nested_program(400, 7);
    let prog = Program::from_source("nested.nas", &text);
    let checked = nasc::check::check(&prog);
    assert!(!checked.has_errors());
    assert_shallow_agrees(&prog, &checked);
    // Block6 calls Block5 … Block0: inlined in full, each call only its outputs in the shallow one.
    let nodes = |c: &nasc::check::Checked, b: &str| c.graph(b).map(|g| g.nodes.len());
    let shallow = nasc::check::check_shallow(&prog);
    assert_eq!(nodes(&checked, "Block6"), Some(7 * 7));
    assert_eq!(nodes(&shallow, "Block6"), nodes(&checked, "Block0"));
    assert_eq!(nodes(&shallow, "Big"), nodes(&checked, "Big"));
}

/// The input shapes of issue 35 (long lines, wide tuples, many parameters, high ranks,
/// comment-heavy files, deep call chains), at seeded random sizes, through every phase within
/// the per-input memory bound.
#[test]
fn hostile_shapes_survive_every_phase() {
    let mut rng = Rng::new(35);
    for round in 0..3 {
        for (name, text) in hostile_shapes(&mut rng) {
            assert_survives(&format!("{name} (round {round})"), &text);
        }
    }
}

fn hostile_shapes(rng: &mut Rng) -> Vec<(&'static str, String)> {
    let n = 500 + rng.below(2000);
    let list = |f: &dyn Fn(usize) -> String, n: usize| (0..n).map(f).collect::<Vec<_>>().join(", ");
    let model = |params: String, body: String| format!("model M(x: [B, 8]{params}) -> [B, 8] {{\n{body}    return x\n}}\n");
    let chain: String = (1..n / 4).map(|i| format!("block B{i}(x: [B, C]) -> [B, C] {{\n    return x |> B{} |> relu\n}}\n", i - 1)).collect();
    vec![
        ("a long line of arguments", model(String::new(), format!("    let y = x |> dense(8, {})\n", list(&|i| i.to_string(), n)))),
        ("a wide tuple", model(String::new(), format!("    let ({}) = x |> split({n})\n", list(&|i| format!("a{i}"), n)))),
        ("many parameters", model(format!(", {}", list(&|i| format!("p{i}: int = {i}"), n)), String::new())),
        ("a high rank", format!("model M(x: [{}]) -> [B, 8] {{\n    return x\n}}\n", list(&|_| "2".into(), 60 + rng.below(20)))),
        ("trailing comments", model(String::new(), (0..n).map(|i| format!("    let x = x |> relu  // c{i}\n")).collect())),
        (
            "a deep call chain",
            format!("block B0(x: [B, C]) -> [B, C] {{\n    return x |> relu\n}}\n{chain}model M(x: [B, 8]) -> [B, 8] {{\n    return x |> B{}\n}}\n", n / 4 - 1),
        ),
    ]
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

/// Issue 16 found 6 of 1,000 random hover/definition requests answered "internal error" (a
/// caught panic at an out-of-range or odd position). Here 1,000 seeded positions per example,
/// about one in five past the end of its line and one in five past the end of the file, must
/// all answer without a panic (the calls are not guarded here, so one fails the test).
#[test]
fn random_editor_positions_never_panic() {
    let mut rng = Rng::new(23);
    let uri: lsp_types::Uri = "file:///tmp/positions.nas".parse().expect("uri");
    for src in examples() {
        let a = nasc::lsp::analysis::Analysis::guarded(&uri, &src);
        let lines: Vec<&str> = src.lines().collect();
        for _ in 0..1000 {
            let line = rng.below(lines.len() + lines.len() / 4 + 2);
            let width = lines.get(line).map_or(0, |l| l.chars().count());
            let character = rng.below(width + width / 4 + 3);
            let p = lsp_types::Position { line: line as u32, character: character as u32 };
            let end = lsp_types::Position { line: p.line + rng.below(3) as u32, character: 0 };
            let range = lsp_types::Range { start: p, end };
            let _ = (a.hover(p), a.definition(p), a.completion(p), a.code_actions(range));
        }
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

#[test]
fn corpus_inputs_survive_every_phase() {
    let mut files: Vec<_> = std::fs::read_dir("tests/fuzz-corpus").expect("corpus").filter_map(|e| e.ok()).map(|e| e.path()).collect();
    files.sort();
    assert!(files.len() >= 8, "the corpus is in the repository");
    for f in files {
        let text = std::fs::read_to_string(&f).expect("text");
        assert_survives(&f.display().to_string(), &text);
    }
}

/// Generated, mutated and byte-damaged programs until the time budget is spent.
#[test]
fn fuzz_for_a_while() {
    let seconds: u64 = std::env::var("NASC_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    let sources = examples();
    let mut rng = Rng::new(std::env::var("NASC_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1));
    let start = std::time::Instant::now();
    let mut runs = 0;
    while start.elapsed().as_secs() < seconds {
        let src = &sources[rng.below(sources.len())];
        let text = match rng.below(4) {
            0 => nasc::syntax::print_file(&nasc::syntax::generate::random_file(&mut rng)),
            1 => mutate(&mut rng, src),
            2 => nested_variant(&mut rng),
            _ => damage_bytes(&mut rng, src),
        };
        assert_survives(&format!("fuzz input {runs} (NASC_FUZZ_SEED to replay)"), &text);
        runs += 1;
    }
    let peak = peak_memory_kib();
    eprintln!(
        "fuzzed {runs} inputs in {seconds} s; largest input peak {} MiB (limit {} MiB); peak memory of this test process {} MiB",
        LARGEST_PEAK.load(Ordering::Relaxed) >> 20,
        MEMORY_LIMIT >> 20,
        peak >> 10
    );
    // Every test of this file shares the process; one runaway allocation shows here.
    assert!(peak < 2 << 20, "peak memory {} MiB", peak >> 10);
}

/// Nested blocks with some dims of their signatures changed (a symbol for another, a number, an
/// expression): calls that rename symbols, calls that do not, and errors, for the shallow check
/// to agree with the complete one on.
fn nested_variant(rng: &mut Rng) -> String {
    let mut text = nasc::syntax::generate::nested_program(16 + rng.below(120), 1 + rng.below(8));
    for _ in 0..rng.below(4) {
        let spots: Vec<usize> = text.match_indices("[B, H, W, C]").map(|(i, _)| i).collect();
        let Some(&at) = spots.get(rng.below(spots.len().max(1))) else { break };
        let dims = *rng.pick(&["[B, W, W, C]", "[B, H, W, 8]", "[B, H, W, 2*C]", "[B, H, H, C]", "[N, H, W, D]", "[B, H, W]"]);
        text.replace_range(at..at + "[B, H, W, C]".len(), dims);
    }
    text
}

/// `VmHWM` (peak resident memory) of this process in KiB; 0 where /proc is missing.
fn peak_memory_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap_or("");
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Byte-level damage: random bytes overwritten, the result decoded as nasc decodes files.
fn damage_bytes(rng: &mut Rng, src: &str) -> String {
    let mut b = src.as_bytes().to_vec();
    for _ in 0..1 + rng.below(8) {
        if b.is_empty() {
            break;
        }
        let i = rng.below(b.len());
        b[i] = rng.below(256) as u8;
    }
    match nasc::syntax::decode(nasc::diag::FileId::default(), b) {
        Ok(t) => t,
        Err((_, lossy)) => lossy,
    }
}

/// The per-thread counter sees what a thread allocates (else the memory limit checks nothing).
#[test]
fn the_memory_counter_counts() {
    let peak = std::thread::spawn(|| {
        let v = vec![1u8; 10 << 20];
        std::hint::black_box(&v);
        drop(v);
        (PEAK.with(Cell::get), LIVE.with(Cell::get))
    })
    .join()
    .unwrap();
    // A thread may also free a little that its parent allocated (its closure), so its count
    // can start slightly below zero.
    assert!(peak.0 >= (10 << 20) - 4096, "peak {} bytes", peak.0);
    assert!(peak.1 < 1 << 20, "{} bytes still counted as live after the free", peak.1);
}
