//! The command line described for other programs: `completion` prints a
//! shell's completion script and `man` the man pages, both generated from
//! the clap command tree itself (the one `main` parses, so they cannot drift
//! from it). Nothing here reads a spec or a cluster.

use std::path::Path;

use clap::CommandFactory;

use crate::front::cli::{Cli, CompletionArgs, ManArgs};
use crate::front::error::Error;
use crate::front::ui::Printer;
use crate::pipeline::output::WriteError;

/// The program's name, as the shell and man know it.
const NAME: &str = "cnvrgctl";

/// `cnvrgctl completion SHELL`: the script on stdout.
pub fn completion(printer: &Printer, args: CompletionArgs) -> Result<(), Error> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), NAME, &mut script);
    Ok(printer.out(&String::from_utf8_lossy(&script))?)
}

/// `cnvrgctl man [--out DIR]`: the top-level page on stdout, or every page
/// written into DIR.
pub fn man(printer: &Printer, args: ManArgs) -> Result<(), Error> {
    let Some(dir) = args.out else {
        let mut page = Vec::new();
        clap_mangen::Man::new(for_man()).render(&mut page)?;
        return Ok(printer.out(&String::from_utf8_lossy(&page))?);
    };
    let pages = pages();
    write_pages(&dir, &pages)?;
    printer.info(&format!(
        "wrote {} man pages to {}",
        pages.len(),
        dir.display()
    ));
    Ok(())
}

/// Every page: the top-level one, then one per visible command, each as
/// (file name, roff text), as `clap_mangen::generate_to` names them.
fn pages() -> Vec<(String, Vec<u8>)> {
    fn walk(cmd: clap::Command, out: &mut Vec<(String, Vec<u8>)>) {
        let man = clap_mangen::Man::new(cmd.clone());
        let mut page = Vec::new();
        man.render(&mut page).expect("writing to a Vec");
        out.push((man.get_filename(), page));
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            walk(sub.clone(), out);
        }
    }
    let mut out = Vec::new();
    walk(for_man(), &mut out);
    out
}

/// The command tree as man shows it: built (so subcommands know their full
/// names, `cnvrgctl-tenant-add`), without the `help` command, which has no
/// page.
fn for_man() -> clap::Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

fn write_pages(dir: &Path, pages: &[(String, Vec<u8>)]) -> Result<(), WriteError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| WriteError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    for (name, page) in pages {
        let path = dir.join(name);
        std::fs::write(&path, page).map_err(io(&path))?;
    }
    Ok(())
}
