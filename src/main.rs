//! Thin entry point: parse, run, map the error to an exit code, print it once.

use clap::Parser;

fn main() {
    let cli = cnvrgctl::cli::Cli::parse();
    let printer = cnvrgctl::ui::Printer::new(cli.global.no_color);
    if let Err(err) = cnvrgctl::commands::run(cli) {
        if !matches!(err, cnvrgctl::error::Error::Changes) {
            printer.error(&err.to_string());
        }
        std::process::exit(err.exit_code());
    }
}
