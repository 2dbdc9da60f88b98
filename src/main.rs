//! The `cxrshard` binary. Exit codes: 0 success, 1 the run failed, 2 invalid usage or
//! pipeline file, 3 the dataset is complete but some inputs were rejected (see the manifest).

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
