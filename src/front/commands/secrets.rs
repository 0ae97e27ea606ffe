//! `cnvrgctl secrets apply`: the Secrets a GitOps directory leaves out,
//! created once on the cluster ([`crate::engine::secrets`]); prints what it
//! created and what it kept, never a value.

use super::prepare_with;
use super::session::{connect, requests, runtime, scopes};
use crate::engine::secrets::{Outcome, bootstrap};
use crate::front::cli::{Global, OutputFormat, SecretsApplyArgs};
use crate::front::error::Error;
use crate::front::ui::Printer;

pub fn secrets_apply(
    printer: &Printer,
    global: &Global,
    args: SecretsApplyArgs,
) -> Result<(), Error> {
    let (spec, manifests) = prepare_with(printer, &args.spec, true)?;
    let scopes = scopes(&spec, args.scope.as_deref())?;
    let done = runtime()?.block_on(async {
        let cluster = connect(global).await?;
        let done = bootstrap(&cluster, &manifests, &scopes).await;
        requests(printer, global, &cluster);
        done.map_err(Error::from)
    })?;
    if global.output == OutputFormat::Json {
        let text = serde_json::to_string_pretty(&done).expect("outcomes serialize");
        return Ok(printer.out(&(text + "\n"))?);
    }
    let mut text = String::new();
    for d in &done {
        let line = match d.outcome {
            Outcome::Created => format!("created {}\n", d.object),
            Outcome::Kept => format!("kept    {} (exists; never overwritten)\n", d.object),
        };
        text.push_str(&line);
    }
    printer.out(&text)?;
    let created = done
        .iter()
        .filter(|d| d.outcome == Outcome::Created)
        .count();
    printer.info(&format!("{created} created, {} kept", done.len() - created));
    Ok(())
}
