fn main() -> std::process::ExitCode {
    naap::launch::main()
}
