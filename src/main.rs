use clap::Parser;
use std::process::ExitCode;

/// Deeply nested programs recurse deeply in the checker; give it room.
const STACK_BYTES: usize = 256 * 1024 * 1024;

fn main() -> ExitCode {
    let cli = nasc::cli::Cli::parse();
    let worker = std::thread::Builder::new().stack_size(STACK_BYTES).spawn(move || nasc::cli::run(cli));
    match worker.map(|h| h.join()) {
        Ok(Ok(code)) => code,
        _ => {
            eprintln!("error: internal compiler error (please report it with the input file)");
            ExitCode::from(101)
        }
    }
}
