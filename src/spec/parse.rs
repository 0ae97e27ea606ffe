//! Reading one spec file into its typed model, turning the YAML parser's errors
//! into diagnostics that name the field, say what was expected and suggest the
//! nearest accepted name.

use serde::de::DeserializeOwned;

use super::error::{Diagnostic, Source, did_you_mean};
use super::model::API_VERSION;

/// Spec files larger than this are refused before parsing.
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;

/// Parses `src` as `T` and checks its `apiVersion` and `kind`.
pub fn parse<T: DeserializeOwned>(
    src: &Source,
    kind: &str,
    header: impl Fn(&T) -> (&str, &str),
) -> Result<T, Diagnostic> {
    let blank = src
        .text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'));
    if blank {
        return Err(Diagnostic::file(
            &src.path,
            format!("the file is empty; expected a `{kind}` document"),
        ));
    }
    if let Some((pos, message)) = src.positions.syntax_error() {
        let d = src.at_pos("", Some(pos), format!("invalid YAML: {message}"));
        return Err(if message.contains("tab") {
            d.help("YAML indentation must use spaces, not tabs")
        } else {
            d
        });
    }
    let value: T = crate::yaml::from_str(&src.text).map_err(|e| diagnose(src, e))?;
    let (api_version, actual_kind) = header(&value);
    if actual_kind != kind {
        return Err(src
            .at(
                "kind",
                format!("expected kind `{kind}`, found `{actual_kind}`"),
            )
            .help(format!("this file must hold a `{kind}`")));
    }
    if api_version != API_VERSION {
        return Err(src
            .at(
                "apiVersion",
                format!("unsupported apiVersion `{api_version}`"),
            )
            .help(format!("use `apiVersion: {API_VERSION}`")));
    }
    Ok(value)
}

fn diagnose(src: &Source, err: crate::yaml::DeError) -> Diagnostic {
    let msg = err.message;
    let path = if err.path == "." {
        String::new()
    } else {
        err.path
    };
    if let Some((word, expected)) = split_unknown(&msg, "unknown field `") {
        let field = if path.ends_with(&word) {
            path.clone()
        } else {
            join(&path, &word)
        };
        let pos = src.positions.find(&field).or(err.pos);
        let help = suggestion(&word, &expected, "fields");
        return src
            .at_pos(&field, pos, format!("unknown field `{word}`"))
            .help(help);
    }
    if let Some((word, expected)) = split_unknown(&msg, "unknown variant `") {
        let pos = src.positions.find(&path).or(err.pos);
        let help = suggestion(&word, &expected, "values");
        return src
            .at_pos(&path, pos, format!("unknown value `{word}`"))
            .help(help);
    }
    if let Some(rest) = msg.strip_prefix("missing field `") {
        let name = rest.trim_end_matches('`');
        let pos = src.positions.find(&path).or(err.pos);
        return src.at_pos(
            &join(&path, name),
            pos,
            format!("missing required field `{name}`"),
        );
    }
    if msg.starts_with("invalid type") || msg.starts_with("invalid value") {
        let pos = src.positions.find(&path).or(err.pos);
        return src.at_pos(&path, pos, plain_types(&msg));
    }
    // Syntax errors and custom messages (e.g. a bad quantity): the parser's
    // position is the best there is.
    let pos = err.pos.or_else(|| src.positions.find(&path));
    let msg = if path.is_empty() {
        format!("invalid YAML: {msg}")
    } else {
        msg
    };
    src.at_pos(&path, pos, msg)
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Splits serde's "unknown field `x`, expected one of `a`, `b`" into `x` and
/// `[a, b]`.
fn split_unknown(msg: &str, prefix: &str) -> Option<(String, Vec<String>)> {
    let rest = msg.strip_prefix(prefix)?;
    let end = rest.find('`')?;
    let word = rest[..end].to_string();
    let expected = rest[end + 1..]
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    Some((word, expected))
}

fn suggestion(word: &str, expected: &[String], what: &str) -> String {
    if expected.is_empty() {
        return format!("no {what} are accepted here");
    }
    let names: Vec<&str> = expected.iter().map(String::as_str).collect();
    let list = names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match did_you_mean(word, &names) {
        Some(best) => format!("did you mean `{best}`? accepted {what}: {list}"),
        None => format!("accepted {what}: {list}"),
    }
}

/// Replaces Rust type names in serde's messages with words a user knows.
fn plain_types(msg: &str) -> String {
    const NAMES: &[(&str, &str)] = &[
        ("expected u32", "expected a whole number (0 or more)"),
        ("expected u64", "expected a whole number (0 or more)"),
        ("expected a boolean", "expected true or false"),
        ("expected a string", "expected a string"),
        ("expected a sequence", "expected a list"),
        ("expected a map", "expected a mapping"),
    ];
    let mut out = msg.to_string();
    for (from, to) in NAMES {
        out = out.replace(from, to);
    }
    // "expected struct ClusterFile" names a Rust type; say what it is instead.
    match out.find("expected struct ") {
        Some(i) => format!("{}expected a mapping", &out[..i]),
        None => out,
    }
}
