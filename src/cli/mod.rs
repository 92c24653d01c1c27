//! The `nasc` command line. Argument parsing and output formats only; the work is in the library.

use crate::check::{check, select_model};
use crate::diag::{Diagnostic, SourceMap};
use crate::program::Program;
use crate::report::report;
use clap::{Parser, Subcommand, ValueEnum};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "nasc",
    version,
    about = "A compiler for neural-architecture programs (.nas files)",
    long_about = "nasc checks the tensor shapes of .nas architecture files, reports their \
                  parameters and MACs, and formats them.\n\n\
                  Start with:  nasc check examples/resnet34_cifar.nas\n\
                  then:        nasc build examples/resnet34_cifar.nas"
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
    /// Check a model and report its output shape, parameters and MACs per layer and in total.
    Build {
        /// The .nas file.
        file: PathBuf,
        /// The model to build, when the file has several.
        #[arg(long)]
        model: Option<String>,
        /// How to print the report.
        #[arg(long, value_enum, default_value = "table")]
        report: ReportFormat,
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
    /// List the primitive ops with their arguments.
    Ops,
}

fn print_diags(diags: &[Diagnostic], sources: &SourceMap, color: bool) {
    let mut err = std::io::stderr().lock();
    for d in diags {
        let _ = write!(err, "{}", d.render(sources, color));
    }
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
        Command::Build { file, model, report } => cmd_build(&file, model.as_deref(), report, color),
        Command::Fmt { files, check, stdout } => cmd_fmt(&files, check, stdout, color),
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
    for f in files {
        let prog = Program::load(f);
        let checked = check(&prog);
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
    }
    if let DiagFormat::Json = format {
        println!("{}", serde_json::Value::Array(json));
    }
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

fn cmd_build(file: &PathBuf, model: Option<&str>, format: ReportFormat, color: bool) -> ExitCode {
    let prog = Program::load(file);
    let checked = check(&prog);
    print_diags(&checked.diagnostics, &prog.sources, color);
    if checked.has_errors() {
        if let Some(s) = summary(&checked.diagnostics) {
            eprintln!("{}: {s}", file.display());
        }
        return ExitCode::FAILURE;
    }
    let entry = match select_model(&prog, model) {
        Ok(e) => e,
        Err(d) => {
            print_diags(&[d], &prog.sources, color);
            return ExitCode::FAILURE;
        }
    };
    let Some(graph) = checked.graph(&entry.def.name.name) else { return ExitCode::FAILURE };
    let r = report(&prog, graph);
    match format {
        ReportFormat::Table => print!("{}", r.table()),
        ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&r.to_json()).unwrap_or_default()),
    }
    ExitCode::SUCCESS
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
            } else if let Err(e) = std::fs::write(f, &text) {
                eprintln!("error: cannot write {}: {e}", f.display());
                status = ExitCode::FAILURE;
            } else {
                eprintln!("{}: formatted", f.display());
            }
        }
    }
    status
}
