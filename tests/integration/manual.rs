//! The command line described for other programs, as a user runs it: the
//! plan as DOT and Mermaid (`render --plan -o dot|mermaid` and where `-o`
//! refuses them), shell completions and man pages.

use assert_cmd::cargo::cargo_bin_cmd;
use clap::CommandFactory;
use predicates::prelude::*;

use crate::common::example;

fn cnvrgctl() -> assert_cmd::Command {
    let mut cmd = cargo_bin_cmd!("cnvrgctl");
    cmd.env_remove("KUBECONFIG").env("NO_COLOR", "1");
    cmd
}

fn stdout(cmd: &mut assert_cmd::Command) -> String {
    let out = cmd.assert().success().stderr("").get_output().clone();
    String::from_utf8(out.stdout).unwrap()
}

/// Every command as `(parent, name)`: `(None, "render")`, `(Some("tenant"), "add")`.
fn commands() -> Vec<(Option<String>, String)> {
    let mut out = Vec::new();
    for cmd in cnvrgctl::front::cli::Cli::command().get_subcommands() {
        out.push((None, cmd.get_name().to_string()));
        for sub in cmd.get_subcommands() {
            out.push((Some(cmd.get_name().to_string()), sub.get_name().to_string()));
        }
    }
    out
}

#[test]
fn render_plan_draws_dot_and_mermaid() {
    let dot = stdout(
        cnvrgctl()
            .args(["render", "--plan", "-o", "dot", "-f"])
            .arg(example("multi-tenant")),
    );
    assert!(dot.starts_with("digraph plan {\n"), "{dot}");
    assert!(dot.contains("subgraph \"cluster_tenant.team-a\" {"));
    // One tenant: its cluster, and dashed the infra nodes it waits for.
    let mermaid = stdout(
        cnvrgctl()
            .args([
                "-o",
                "mermaid",
                "render",
                "--plan",
                "--scope",
                "tenant/research",
                "-f",
            ])
            .arg(example("multi-tenant")),
    );
    assert!(mermaid.starts_with("flowchart LR\n"), "{mermaid}");
    assert!(
        mermaid.contains("  subgraph tenant_research[\"tenant.research (namespace research)\"]")
    );
    assert!(mermaid.contains("  infra_prerequisites --> tenant_research_namespaces\n"));
    assert!(mermaid.contains("  style infra stroke-dasharray: 5 5\n"));
    assert!(!mermaid.contains("tenant_vision"), "{mermaid}");
}

#[test]
fn a_graph_format_anywhere_but_render_plan_is_a_usage_error() {
    for args in [
        &["render", "-o", "dot"][..],
        &["render", "--show-spec", "-o", "mermaid"],
        &["-o", "dot", "validate"],
        &["status", "-o", "mermaid"],
    ] {
        cnvrgctl()
            .args(args)
            .arg("-f")
            .arg(example("workspace"))
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains(
                "only `render --plan` draws a graph; use -o text or -o json here",
            ));
    }
    cnvrgctl()
        .args(["render", "--plan", "-o", "dott"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "[possible values: text, json, dot, mermaid]",
        ))
        .stderr(predicate::str::contains("a similar value exists: 'dot'"));
}

#[test]
fn the_bash_completion_knows_every_command() {
    let script = stdout(cnvrgctl().args(["completion", "bash"]));
    for (parent, name) in commands() {
        let case = match parent {
            None => format!("cnvrgctl,{name})"),
            Some(parent) => format!("cnvrgctl__subcmd__{parent},{name})"),
        };
        assert!(script.contains(&case), "no `{case}` in the bash script");
    }
}

/// The script completes in a real bash: a command from its start, and the
/// values of `-o`.
#[test]
fn bash_completes_commands_and_output_formats() {
    let script = stdout(cnvrgctl().args(["completion", "bash"]));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cnvrgctl.bash");
    std::fs::write(&file, script).unwrap();
    let complete = |words: &str| {
        let line = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); _cnvrgctl cnvrgctl \"${{COMP_WORDS[-1]}}\" \"${{COMP_WORDS[-2]}}\"; echo \"${{COMPREPLY[*]}}\"",
            file.display()
        );
        let out = std::process::Command::new("bash")
            .args(["-c", &line])
            .output()
            .expect("bash runs");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    assert_eq!(complete("cnvrgctl supp"), "support-bundle");
    assert_eq!(
        complete("cnvrgctl render --plan -o ''"),
        "text json dot mermaid"
    );
}

#[test]
fn every_shell_gets_a_script() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let script = stdout(cnvrgctl().args(["completion", shell]));
        assert!(script.contains("support-bundle"), "{shell}");
    }
    cnvrgctl()
        .args(["completion", "tcsh"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "[possible values: bash, elvish, fish, powershell, zsh]",
        ));
}

#[test]
fn the_man_page_names_every_command() {
    let page = stdout(cnvrgctl().arg("man"));
    for section in [
        ".SH NAME\ncnvrgctl \\- Install",
        ".SH SYNOPSIS\n",
        ".SH SUBCOMMANDS\n",
    ] {
        assert!(page.contains(section), "no `{section}` in\n{page}");
    }
    for (parent, name) in commands() {
        if parent.is_none() && name != "help" {
            let reference = format!("cnvrgctl-{name}(1)").replace('-', "\\-");
            assert!(page.contains(&reference), "no {reference}");
        }
    }
    assert!(!page.contains("cnvrgctl\\-help(1)"), "help has no page");
}

#[test]
fn man_out_writes_a_page_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    cnvrgctl()
        .args(["man", "--out"])
        .arg(&out)
        .assert()
        .success()
        .stdout("")
        .stderr(predicate::str::contains("wrote "));
    let mut pages = vec!["cnvrgctl.1".to_string()];
    for (parent, name) in commands().into_iter().filter(|(_, name)| name != "help") {
        pages.push(match parent {
            None => format!("cnvrgctl-{name}.1"),
            Some(parent) => format!("cnvrgctl-{parent}-{name}.1"),
        });
    }
    for page in &pages {
        let text = std::fs::read_to_string(out.join(page)).unwrap_or_else(|_| panic!("{page}"));
        assert!(text.contains(".SH SYNOPSIS"), "{page}");
    }
    let written = std::fs::read_dir(&out).unwrap().count();
    assert_eq!(written, pages.len());
    // A file where the directory should be: output error.
    let file = dir.path().join("file");
    std::fs::write(&file, "").unwrap();
    cnvrgctl()
        .args(["man", "--out"])
        .arg(&file)
        .assert()
        .code(4)
        .stderr(predicate::str::contains("cannot write"));
}
