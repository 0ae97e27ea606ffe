//! Thin entry point: parse, run, map the error to an exit code, print it once.

use clap::Parser;

fn main() {
    // A panic's message may hold anything it was given: mask secrets in it too.
    std::panic::set_hook(Box::new(|info| {
        eprintln!(
            "cnvrgctl panicked (a bug; please report it): {}",
            cnvrgctl::redact::redact(&info.to_string())
        );
    }));
    let cli = cnvrgctl::cli::Cli::parse();
    let printer = cnvrgctl::ui::Printer::new(cli.global.looks());
    if let Err(err) = cnvrgctl::commands::run(cli, &printer) {
        if !matches!(err, cnvrgctl::error::Error::Changes) {
            printer.error(&err.to_string());
        }
        std::process::exit(err.exit_code());
    }
}
