//! Thin entry point: parse, run, map the error to an exit code, print it once.

use clap::Parser;

fn main() {
    // A panic's message may hold anything it was given: mask secrets in it too.
    std::panic::set_hook(Box::new(|info| {
        eprintln!(
            "cnvrgctl panicked (a bug; please report it): {}",
            cnvrgctl::pipeline::redact::redact(&info.to_string())
        );
    }));
    let args = cnvrgctl::front::cli::archive_flag(std::env::args_os().collect());
    let cli = cnvrgctl::front::cli::Cli::parse_from(args);
    let printer = cnvrgctl::front::ui::Printer::new(cli.global.looks());
    if let Err(err) = cnvrgctl::front::commands::run(cli, &printer) {
        if !matches!(err, cnvrgctl::front::error::Error::Changes) {
            printer.error(&err.to_string());
        }
        std::process::exit(err.exit_code());
    }
}
