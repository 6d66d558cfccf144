fn main() -> std::process::ExitCode {
    gongyi::cli::main()
}
