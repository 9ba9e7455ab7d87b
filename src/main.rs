//! The `aegis` binary: parses the command line, runs the library, maps the outcome to an exit code.

use clap::Parser;

fn main() {
    let cli = aegis::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = runtime.block_on(aegis::cli::run(cli));
    std::process::exit(code);
}
