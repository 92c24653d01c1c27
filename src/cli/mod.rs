//! The `nasc` command line. Argument parsing and output formats only; the work is in the library.

pub mod evolve_cmd;
pub mod native_cmd;
mod num;
mod props;
mod train_cmd;
mod weights_cmd;

use crate::Compilation;
use crate::check::check_shallow;
use crate::diag::{Diagnostic, SourceMap};
use crate::program::Program;
use crate::report::report;
use clap::{Parser, Subcommand, ValueEnum};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "nasc",
    version,
    about = "A compiler for neural-architecture programs (.nas files)",
    long_about = "nasc checks the tensor shapes of .nas architecture files, reports their \
                  parameters and MACs, fills holes by synthesis, trains models, searches for \
                  better architectures, and serves editors.\n\n\
                  Start with:  nasc check examples/resnet34_cifar.nas\n\
                  then:        nasc build examples/resnet34_cifar.nas\n\
                  and:         nasc train examples/cnn_digits.nas --data digits",
    after_long_help = "Documentation (in the source tree): README.md for a five-minute tour; \
                       docs/language.md (the language), docs/training.md (training, native \
                       inference), docs/interop.md (PyTorch, ONNX, safetensors, nasc infer), \
                       docs/search.md (nasc evolve), docs/editors.md (nasc lsp), \
                       docs/library.md (from Rust), docs/performance.md. `nasc explain CODE` \
                       explains a diagnostic."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum DiagFormat {
    /// Human-readable, with source snippets.
    Text,
    /// One JSON array of diagnostics on stdout.
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Emit {
    /// The filled program as .nas text.
    Nas,
    /// The filled program, the hole reports and the params/MACs report as one JSON document.
    Json,
    /// A standalone Rust source file: a burn `#[derive(Module)]` struct with `new` and `forward`.
    Rust,
    /// A native object file (cranelift) defining `void forward(const float *input, float *output,
    /// size_t batch)` with the weights embedded, and its C header beside it (`-o model.o` →
    /// `model.h`). Give trained weights with --weights.
    Object,
    /// A Python file with a PyTorch `nn.Module`: one attribute per layer, named as nasc's
    /// safetensors weights name them (`nasc train --weights-format safetensors`), and a
    /// `forward` following the program on channels-last tensors.
    Torch,
    /// An ONNX model (opset 17) with the weights (--weights, else freshly initialised) as
    /// initializers, written to -o; its input is channels last like nasc's.
    Onnx,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ReportFormat {
    Table,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check files for syntax and shape errors. Exits 1 if any file has errors.
    Check {
        /// .nas files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Output format of diagnostics.
        #[arg(long, value_enum, default_value = "text")]
        format: DiagFormat,
        /// Never colour the output (colour is used only on a terminal anyway).
        #[arg(long)]
        no_color: bool,
    },
    /// Check a model, fill its holes by synthesis, and report shapes, parameters and MACs.
    ///
    /// Holes (`?<depth >= 3>(x)`) are filled once per block definition; the same seed gives the
    /// same program. With `--emit nas` the filled program is printed (a per-hole report goes to
    /// stderr); with `--emit json` everything is one JSON document.
    Build {
        /// The .nas file.
        file: PathBuf,
        /// The model to build, when the file has several.
        #[arg(long)]
        model: Option<String>,
        /// How to print the params/MACs report.
        #[arg(long, value_enum, default_value = "table")]
        report: ReportFormat,
        /// Instead of the report: the filled program (`nas`), everything as JSON, a Rust module
        /// (`rust`) or a native object file and C header (`object`, with -o).
        #[arg(long, value_enum)]
        emit: Option<Emit>,
        /// Seed for stochastic synthesis.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Synthesis algorithm for holes.
        #[arg(long, default_value = "progressive", value_parser = ["progressive", "greedy", "enumerative"])]
        synth: String,
        /// Weighting of stochastic synthesis: the paper's 1/(1+d) or the authors' code's 1/(d+0.1)^2.
        #[arg(long, default_value = "paper", value_parser = ["paper", "authors"])]
        weighting: String,
        /// Trained weights (`weights.bpk` or `weights.safetensors` from `nasc train`) for
        /// `--emit object` and `--emit onnx`.
        #[arg(long)]
        weights: Option<PathBuf>,
        /// Where `--emit object` writes the object file (its header goes beside it, `.h`), or
        /// `--emit onnx` the model.
        #[arg(short, long)]
        out: Option<PathBuf>,
        /// The C name of the compiled function (`--emit object`).
        #[arg(long, default_value = "forward")]
        symbol: String,
    },
    /// Show the inferred properties of blocks: mixing matrix (with dim names), depth and shape,
    /// and the context of every hole — what you need to write good hole constraints.
    Props {
        file: PathBuf,
        /// Only this block or model.
        #[arg(long)]
        block: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: DiagFormat,
    },
    /// Format files in place in the canonical layout (idempotent; comments are kept).
    Fmt {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Do not write: exit 1 if a file is not formatted.
        #[arg(long)]
        check: bool,
        /// Print the formatted text instead of writing it.
        #[arg(long)]
        stdout: bool,
    },
    /// Explain a diagnostic code (`nasc explain E0301`): what it means and how to fix it.
    /// Without a code, list every code with its title.
    Explain {
        /// A code such as E0301 (case does not matter).
        code: Option<String>,
    },
    /// List the primitive ops with their arguments.
    Ops,
    /// Run the language server on stdin/stdout (for editors; see editors/ in the repository).
    Lsp,
    /// Train a model (holes are filled first) and write its metrics and weights.
    ///
    /// Example: nasc train examples/cnn_digits.nas --data digits --epochs 10
    Train(train_cmd::TrainArgs),
    /// Evaluate saved weights on a data set's test split.
    Eval(train_cmd::EvalArgs),
    /// Run a model on inputs from a float32 `.npy` file and write its outputs as `.npy`
    /// (evaluation mode: running batch-norm statistics, no dropout).
    ///
    /// Example: nasc infer examples/cnn_digits.nas --weights runs/CnnDigits/weights.bpk
    /// --input x.npy -o logits.npy
    Infer(weights_cmd::InferArgs),
    /// Time training steps on random data (compare with ../shared/bench/torch_reference.py),
    /// or with --latency batch-1 inference of the model compiled to native code against burn's.
    Bench(train_cmd::BenchArgs),
    /// Evolutionary architecture search (αNAS): mutate, synthesize, train, keep the Pareto front.
    ///
    /// Every candidate is stored in an SQLite database as it is created and trained, so a run
    /// can be killed and resumed (`--resume`), summarised (`--status`) and exported (`--export`).
    Evolve(Box<evolve_cmd::EvolveArgs>),
    /// Compare finished `nasc evolve` runs (stores) from one seed architecture: hypervolume
    /// mean ± std per strategy, the best front member's test accuracy, trainings and epochs
    /// spent, a Mann–Whitney U test per pair of strategies, and optionally an SVG of every front.
    ///
    /// Runs are grouped by strategy, guidance, and early-stopping rungs when they used them;
    /// per run also the candidates guidance skipped and its predictions' rank correlation (rho).
    /// Example: `nasc compare runs/*.sqlite --svg fronts.svg`.
    Compare {
        /// The runs' stores.
        #[arg(required = true)]
        stores: Vec<PathBuf>,
        /// Draw every run's Pareto front, coloured by group, into this SVG file.
        #[arg(long)]
        svg: Option<PathBuf>,
        /// Print the comparison as JSON instead of tables.
        #[arg(long)]
        json: bool,
        /// Compare every run after its first N trainings (candidates reused or skipped cost
        /// none): the fair budget when guidance skips candidates.
        #[arg(long, value_name = "N")]
        trainings: Option<usize>,
    },
    /// Internal: train one candidate for `nasc evolve` (a job on stdin, the result on stdout).
    #[command(hide = true)]
    EvolveWorker {
        /// The job as base64 JSON (a Ray job's entrypoint); without it, one JSON line on stdin.
        #[arg(long)]
        job: Option<String>,
    },
    /// List the devices `--device` accepts and whether each works here; for CUDA, what is
    /// missing (driver, NVRTC, headers) and what to install. Exit 0 either way.
    Devices {
        /// One JSON object per device instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn print_diags(diags: &[Diagnostic], sources: &SourceMap, color: bool) {
    let _ = write!(std::io::stderr().lock(), "{}", crate::diag::render_all(diags, sources, color));
}

fn summary(diags: &[Diagnostic]) -> Option<String> {
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    match (errors, warnings) {
        (0, 0) => None,
        (0, w) => Some(plural(w, "warning")),
        (e, 0) => Some(plural(e, "error")),
        (e, w) => Some(format!("{}, {}", plural(e, "error"), plural(w, "warning"))),
    }
}

pub fn run(cli: Cli) -> ExitCode {
    let color = std::io::stderr().is_terminal();
    match cli.command {
        Command::Check { files, format, no_color } => cmd_check(&files, format, color && !no_color),
        Command::Build { emit, weights, out, .. } if !matches!(emit, Some(Emit::Object | Emit::Onnx)) && (weights.is_some() || out.is_some()) => {
            eprintln!("error: --weights and -o belong to `--emit object` and `--emit onnx`");
            ExitCode::from(2)
        }
        Command::Build { file, model, report, emit, seed, synth, weighting, weights, out, symbol } => {
            // clap already restricted both to their possible values.
            let (mode, weighting) = match (synth.parse(), weighting.parse()) {
                (Ok(m), Ok(w)) => (m, w),
                (Err(e), _) | (_, Err(e)) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let cfg = crate::synth::SynthConfig { mode, weighting, seed, ..Default::default() };
            let native = native_cmd::ObjectOut { weights: weights.as_deref(), out: out.as_deref(), symbol: &symbol };
            cmd_build(&file, model.as_deref(), report, emit, &cfg, &native, color)
        }
        Command::Props { file, block, format } => crate::cli::props::run(&file, block.as_deref(), format, color),
        Command::Fmt { files, check, stdout } => cmd_fmt(&files, check, stdout, color),
        Command::Lsp => match crate::lsp::run_stdio() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Train(a) => train_cmd::train(&a, color),
        Command::Eval(a) => train_cmd::eval(&a, color),
        Command::Infer(a) => weights_cmd::infer(&a, color),
        Command::Bench(a) => train_cmd::bench(&a, color),
        Command::Evolve(a) => evolve_cmd::run(&a),
        Command::EvolveWorker { job } => crate::evolve::worker::worker_main(job.as_deref()),
        Command::Compare { stores, svg, json, trainings } => evolve_cmd::compare(&stores, svg.as_deref(), json, trainings),
        Command::Devices { json } => {
            for d in crate::train::devices::list() {
                if json {
                    println!("{}", serde_json::to_string(&d).unwrap_or_default());
                } else {
                    println!("{:<9} {:<12} {}", d.name, if d.usable { "usable" } else { "not usable" }, d.detail);
                }
            }
            ExitCode::SUCCESS
        }
        Command::Explain { code } => explain(code.as_deref()),
        Command::Ops => {
            for s in crate::ops::catalog() {
                println!("{:<60} {}", s.signature(), s.doc);
            }
            ExitCode::SUCCESS
        }
    }
}

fn cmd_check(files: &[PathBuf], format: DiagFormat, color: bool) -> ExitCode {
    let mut failed = false;
    let mut json = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let prog = Program::load(f);
        let checked = check_shallow(&prog);
        failed |= checked.has_errors();
        match format {
            DiagFormat::Text => {
                print_diags(&checked.diagnostics, &prog.sources, color);
                match summary(&checked.diagnostics) {
                    Some(s) => eprintln!("{}: {s}", f.display()),
                    None => eprintln!("{}: ok", f.display()),
                }
            }
            DiagFormat::Json => json.extend(checked.diagnostics.iter().map(|d| d.to_json(&prog.sources))),
        }
        // The process ends after the last file: freeing its graphs node by node took a quarter
        // of a 5,000-line check.
        if i + 1 == files.len() {
            std::mem::forget((prog, checked));
        }
    }
    if let DiagFormat::Json = format {
        println!("{}", serde_json::Value::Array(json));
    }
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

fn cmd_build(
    file: &Path,
    model: Option<&str>,
    format: ReportFormat,
    emit: Option<Emit>,
    cfg: &crate::synth::SynthConfig,
    native: &native_cmd::ObjectOut,
    color: bool,
) -> ExitCode {
    let failed = |f: crate::Failure| {
        print_diags(&f.diagnostics, &f.sources, color);
        if let Some(s) = summary(&f.diagnostics) {
            eprintln!("{}: {s}", file.display());
        }
        ExitCode::FAILURE
    };
    let c = match Compilation::load(file) {
        Ok(c) => c,
        Err(f) => return failed(f),
    };
    print_diags(c.warnings(), &c.program.sources, color);
    let c = match c.fill(cfg) {
        Ok(c) => c,
        Err(f) => return failed(f),
    };
    if !matches!(emit, Some(Emit::Json)) {
        for h in &c.fills {
            eprint!("{}", crate::synth::fill::describe(h));
        }
    }
    match emit {
        Some(Emit::Nas) => {
            print!("{}", c.text());
            ExitCode::SUCCESS
        }
        Some(Emit::Object) => native_cmd::emit_object(&c, file, model, native, cfg.seed),
        Some(Emit::Onnx) => weights_cmd::emit_onnx(&c, model, native.weights, native.out, cfg.seed),
        Some(lang @ (Emit::Rust | Emit::Torch)) => {
            let m = match c.model(model) {
                Ok(m) => m,
                Err(f) => return failed(f),
            };
            let inputs: Vec<String> = m.input_names();
            let params = report(&c.program, m.graph).params.as_int();
            let origin = file.display().to_string();
            let (src, what) = match lang {
                Emit::Torch => (crate::interop::torch::emit_torch(m.graph, &inputs, &origin, params), "PyTorch"),
                _ => (crate::lower::emit::emit_rust(m.graph, &inputs, &origin, params), "Rust"),
            };
            match src {
                Ok(src) => {
                    print!("{src}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: cannot emit {what} for `{}`: {e}", m.name());
                    ExitCode::FAILURE
                }
            }
        }
        Some(Emit::Json) => {
            let v = serde_json::json!({
                "program": c.text(),
                "holes": c.fills.iter().map(crate::synth::fill::to_json).collect::<Vec<_>>(),
                "report": c.report(model).ok().map(|r| r.to_json()),
            });
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            ExitCode::SUCCESS
        }
        None => {
            let r = match c.report(model) {
                Ok(r) => r,
                Err(f) => return failed(f),
            };
            match format {
                ReportFormat::Table => print!("{}", r.table()),
                ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&r.to_json()).unwrap_or_default()),
            }
            ExitCode::SUCCESS
        }
    }
}

fn cmd_fmt(files: &[PathBuf], check_only: bool, stdout: bool, color: bool) -> ExitCode {
    let mut status = ExitCode::SUCCESS;
    for f in files {
        let prog = Program::load(f);
        let syntax_errors: Vec<Diagnostic> = prog.diagnostics.iter().filter(|d| d.primary.span.file == prog.root).cloned().collect();
        if !syntax_errors.is_empty() {
            print_diags(&syntax_errors, &prog.sources, color);
            eprintln!("{}: not formatted (syntax errors)", f.display());
            status = ExitCode::FAILURE;
            continue;
        }
        let (Some(ast), Some(src)) = (prog.root_ast(), prog.sources.get(prog.root)) else { continue };
        let text = crate::syntax::print_file(ast);
        if stdout {
            print!("{text}");
        } else if text != src.text {
            if check_only {
                eprintln!("{}: would be reformatted", f.display());
                status = ExitCode::FAILURE;
            } else if let Err(e) = crate::files::write_atomic(&link_target(f), text.as_bytes()) {
                eprintln!("error: cannot write {}: {e}", f.display());
                status = ExitCode::FAILURE;
            } else {
                eprintln!("{}: formatted", f.display());
            }
        }
    }
    status
}

/// The file a path names, through symbolic links: formatting `LINK` rewrites its target and
/// leaves the link a link (an atomic write to the link's path would replace it by a copy).
fn link_target(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

fn explain(code: Option<&str>) -> ExitCode {
    use crate::diag::Code;
    let Some(text) = code else {
        for c in Code::ALL {
            println!("{c}  {}", c.title());
        }
        return ExitCode::SUCCESS;
    };
    match Code::parse(text) {
        Some(c) => {
            let severity = if c.severity() == crate::diag::Severity::Error { "error" } else { "warning" };
            println!("{c}: {} ({severity})\n\n{}", c.title(), c.explanation());
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("error: `{text}` is not a nasc diagnostic code; `nasc explain` lists them");
            ExitCode::from(2)
        }
    }
}
