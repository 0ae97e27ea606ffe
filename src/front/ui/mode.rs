//! How output looks, decided once per run: from the flags (`-o json`,
//! `--quiet`, `--no-color`, `NO_COLOR`) and which of stdin, stdout and stderr
//! are terminals, read once here and nowhere else. The decision itself is a
//! pure function of those facts, so it is tested without a terminal; the
//! [`Printer`](super::Printer) and the progress it builds only follow it.

use std::io::IsTerminal;

/// What the command line asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// `-o json`: machine-readable output on stdout.
    pub json: bool,
    /// `--quiet`: no status lines or progress, only output, warnings and errors.
    pub quiet: bool,
    /// `--no-color`.
    pub no_color: bool,
}

/// Which standard streams are terminals, and whether `NO_COLOR` is set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Terminal {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub no_color_env: bool,
}

impl Terminal {
    /// The process's streams, as they are now.
    pub fn detect() -> Terminal {
        Terminal {
            stdin: std::io::stdin().is_terminal(),
            stdout: std::io::stdout().is_terminal(),
            stderr: std::io::stderr().is_terminal(),
            no_color_env: std::env::var_os("NO_COLOR").is_some(),
        }
    }
}

/// How the engine's progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// One JSON object per line on stdout.
    Json,
    /// Bars and a line per busy object on stderr (both outputs are terminals).
    Live,
    /// One line per step on stderr (a log, a pipe, CI).
    Plain,
    /// Nothing (`--quiet`).
    Silent,
}

/// Everything the printer needs to know about how to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mode {
    pub progress: Progress,
    /// Status lines (`info`) are printed.
    pub status: bool,
    /// Colour on stderr (warnings, errors).
    pub color_err: bool,
    /// Colour on stdout (diff hunks).
    pub color_out: bool,
    /// A person can answer questions: stdin and stderr are terminals.
    pub interactive: bool,
}

impl Mode {
    /// The one decision.
    pub fn decide(flags: Flags, terminal: Terminal) -> Mode {
        let color = !flags.no_color && !terminal.no_color_env;
        let progress = if flags.json {
            Progress::Json
        } else if flags.quiet {
            Progress::Silent
        } else if terminal.stdout && terminal.stderr {
            Progress::Live
        } else {
            Progress::Plain
        };
        Mode {
            progress,
            status: !flags.quiet,
            color_err: color && terminal.stderr,
            color_out: color && terminal.stdout,
            interactive: terminal.stdin && terminal.stderr,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTY: Terminal = Terminal {
        stdin: true,
        stdout: true,
        stderr: true,
        no_color_env: false,
    };
    const PIPED: Terminal = Terminal {
        stdin: false,
        stdout: false,
        stderr: false,
        no_color_env: false,
    };

    #[test]
    fn a_terminal_gets_live_progress_colour_and_questions() {
        let mode = Mode::decide(Flags::default(), TTY);
        assert_eq!(mode.progress, Progress::Live);
        assert!(mode.status && mode.color_err && mode.color_out && mode.interactive);
    }

    #[test]
    fn a_pipe_gets_plain_lines_without_colour_or_questions() {
        let mode = Mode::decide(Flags::default(), PIPED);
        assert_eq!(mode.progress, Progress::Plain);
        assert!(mode.status);
        assert!(!mode.color_err && !mode.color_out && !mode.interactive);
    }

    #[test]
    fn stdout_piped_on_a_terminal_is_plain_but_still_asks() {
        let terminal = Terminal {
            stdout: false,
            ..TTY
        };
        let mode = Mode::decide(Flags::default(), terminal);
        assert_eq!(mode.progress, Progress::Plain);
        assert!(mode.color_err && !mode.color_out && mode.interactive);
    }

    #[test]
    fn json_wins_over_quiet_and_terminals() {
        let flags = Flags {
            json: true,
            quiet: true,
            ..Flags::default()
        };
        assert_eq!(Mode::decide(flags, TTY).progress, Progress::Json);
        assert_eq!(Mode::decide(flags, PIPED).progress, Progress::Json);
    }

    #[test]
    fn quiet_silences_progress_and_status_only() {
        let flags = Flags {
            quiet: true,
            ..Flags::default()
        };
        let mode = Mode::decide(flags, TTY);
        assert_eq!(mode.progress, Progress::Silent);
        assert!(!mode.status);
        assert!(mode.color_err && mode.interactive);
    }

    #[test]
    fn no_color_by_flag_or_environment() {
        let flags = Flags {
            no_color: true,
            ..Flags::default()
        };
        let by_flag = Mode::decide(flags, TTY);
        let by_env = Mode::decide(
            Flags::default(),
            Terminal {
                no_color_env: true,
                ..TTY
            },
        );
        for mode in [by_flag, by_env] {
            assert!(!mode.color_err && !mode.color_out);
            assert_eq!(mode.progress, Progress::Live);
        }
    }
}
