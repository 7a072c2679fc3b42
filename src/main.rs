fn main() -> std::process::ExitCode {
    naap::cli::main()
}
