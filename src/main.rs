//! The `remedy` binary: everything lives in the library; see `remedy::cli`.

fn main() -> std::process::ExitCode {
    remedy::cli::main()
}
