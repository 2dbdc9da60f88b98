//! The `cxrshard` binary. Exit codes: 0 success (rejects, if any, are listed in the
//! manifest), 1 the run failed, 2 invalid usage or pipeline file.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
