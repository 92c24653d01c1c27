use clap::Parser;
use std::process::ExitCode;

/// Deeply nested programs recurse deeply in the checker; give it room.
const STACK_BYTES: usize = 256 * 1024 * 1024;

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, which turns `nasc ops | head` into a panic on the next print; a
    // command-line tool should end quietly when its reader has gone.
    #[cfg(unix)]
    // SAFETY: called before any other thread exists; SIG_DFL is a valid action for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        // Past a file-size limit (`ulimit -f`, a full quota) a write should fail with an error
        // nasc reports, not kill the process mid-write with SIGXFSZ.
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    nasc_burn::train::prepare_process();
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
