//! Reading one spec file into its typed model, turning the YAML parser's errors
//! into diagnostics that name the field, say what was expected and suggest the
//! nearest accepted name.

use serde::de::DeserializeOwned;

use super::error::{Diagnostic, Source, did_you_mean};
use super::model::API_VERSION;
use crate::pipeline::yaml::Pos;

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
        let lines = src.text.lines().count();
        // The scanner may stop on the line before a tab: point at the tab.
        let pos = match message.contains("found a tab") {
            true => next_tab(&src.text, pos).unwrap_or(pos),
            false => pos,
        };
        let d = if pos.line > lines {
            src.at_pos(
                "",
                Some(pos),
                format!("invalid YAML at the end of the file: {message}"),
            )
        } else {
            src.at_pos("", Some(pos), format!("invalid YAML: {message}"))
        };
        return Err(match syntax_help(message) {
            Some(help) => d.help(help),
            None => d,
        });
    }
    if let Some(pos) = src.positions.second_document() {
        return Err(src
            .at_pos(
                "",
                Some(pos),
                format!("a second YAML document starts here; the file must hold one `{kind}`"),
            )
            .help(
                "remove this `---` and what follows it, or move that document to a file of its own",
            ));
    }
    if let Some(dup) = src.positions.duplicate() {
        let key = dup.path.rsplit('.').next().unwrap_or(&dup.path);
        return Err(src
            .at_pos(
                &dup.path,
                Some(dup.second),
                format!("duplicate key `{key}`"),
            )
            .help(format!(
                "`{key}` is already set at line {}, column {}; keep one of them",
                dup.first.line, dup.first.col
            )));
    }
    // A file of the wrong kind says so before its fields are checked against
    // the wrong model.
    if let Ok(h) = crate::pipeline::yaml::from_str::<Header>(&src.text) {
        check_header(src, kind, h.api_version.as_deref(), h.kind.as_deref())?;
    }
    let value: T = crate::pipeline::yaml::from_str(&src.text).map_err(|e| diagnose(src, e))?;
    let (api_version, actual_kind) = header(&value);
    check_header(src, kind, Some(api_version), Some(actual_kind))?;
    Ok(value)
}

/// The two fields every spec file starts with; the rest is ignored.
#[derive(serde::Deserialize)]
struct Header {
    #[serde(rename = "apiVersion")]
    api_version: Option<String>,
    kind: Option<String>,
}

fn check_header(
    src: &Source,
    kind: &str,
    api_version: Option<&str>,
    actual_kind: Option<&str>,
) -> Result<(), Diagnostic> {
    if let Some(actual) = actual_kind
        && actual != kind
    {
        return Err(src
            .at("kind", format!("expected kind `{kind}`, found `{actual}`"))
            .help(format!("this file must hold a `{kind}`")));
    }
    if let Some(version) = api_version
        && version != API_VERSION
    {
        return Err(src
            .at("apiVersion", format!("unsupported apiVersion `{version}`"))
            .help(format!("use `apiVersion: {API_VERSION}`")));
    }
    Ok(())
}

/// The first tab at or after `from`.
fn next_tab(text: &str, from: Pos) -> Option<Pos> {
    text.lines()
        .enumerate()
        .skip(from.line.saturating_sub(1))
        .find_map(|(i, line)| {
            let skip = if i + 1 == from.line {
                from.col.saturating_sub(1)
            } else {
                0
            };
            let col = line.chars().skip(skip).position(|c| c == '\t')?;
            Some(Pos {
                line: i + 1,
                col: skip + col + 1,
            })
        })
}

/// What most often causes a YAML syntax error with this message.
fn syntax_help(message: &str) -> Option<&'static str> {
    if message.contains("found a tab") || message.contains("tabs") {
        Some("YAML indentation must use spaces, not tabs")
    } else if message.contains("unprintable character") {
        Some("spec files are YAML text; this one holds a control character (is it a binary file?)")
    } else if message.contains("mapping values are not allowed") {
        Some("check the indentation of this line against the lines above it")
    } else if message.contains("quoted scalar") || message.contains("unclosed quote") {
        Some("is the closing quote of a string missing?")
    } else if message.contains("flow mapping") || message.contains("flow sequence") {
        Some("is a `{` or `[` opened above never closed?")
    } else {
        None
    }
}

fn diagnose(src: &Source, err: crate::pipeline::yaml::DeError) -> Diagnostic {
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
        let d = src.at_pos(&path, pos, plain_types(&msg));
        return if path.is_empty() {
            d.help(format!(
                "a spec file is a mapping that starts with `apiVersion: {API_VERSION}` and `kind: ...`"
            ))
        } else {
            d
        };
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
        ("invalid type: map,", "invalid type: mapping,"),
    ];
    if let Some(rest) = msg.strip_prefix("invalid value: integer `")
        && let Some(number) = rest.strip_suffix("`, expected u32")
    {
        return format!("`{number}` is too large: expected a whole number up to 4294967295");
    }
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
