//! The `cnvrgctl.io/generated-keys` annotation ([`keys::GENERATED_KEYS`]): the
//! keys of an object whose values cnvrgctl generates once, on apply, written
//! `KEY` or `KEY:FORMAT` and separated by commas. This is its one parser: the
//! apply path fills those values, validation checks the formats, the diff and
//! redaction mask the values. Pure: it reads the annotation and never makes a
//! value (that is the apply path's job).

use serde_json::Value;

use super::keys;

/// How a generated value is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// 32 letters and digits; the format of a key that names none.
    #[default]
    Alnum32,
    /// 32 hex digits.
    Hex32,
    /// 16 random bytes in base64.
    Base64Bytes16,
}

/// Each format under the name the annotation gives it.
pub const FORMATS: &[(&str, Format)] = &[
    ("alnum32", Format::Alnum32),
    ("hex32", Format::Hex32),
    ("base64-16", Format::Base64Bytes16),
];

impl Format {
    /// The format called `name` in the annotation.
    pub fn named(name: &str) -> Option<Format> {
        FORMATS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
    }
}

/// The names of all formats, for messages: `alnum32, hex32, base64-16`.
pub fn format_names() -> String {
    let names: Vec<&str> = FORMATS.iter().map(|(name, _)| *name).collect();
    names.join(", ")
}

/// One entry of the annotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedKey {
    pub key: String,
    /// The format, or the name written when no format has it (validation
    /// reports that; the apply path falls back to the default).
    pub format: Result<Format, String>,
}

/// The entries of `object`'s annotation, in the order written; none without
/// the annotation.
pub fn generated_keys(object: &Value) -> Vec<GeneratedKey> {
    object["metadata"]["annotations"][keys::GENERATED_KEYS]
        .as_str()
        .map(parse)
        .unwrap_or_default()
}

/// The entries of an annotation value.
pub fn parse(text: &str) -> Vec<GeneratedKey> {
    text.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| match entry.split_once(':') {
            None => GeneratedKey {
                key: entry.to_string(),
                format: Ok(Format::default()),
            },
            Some((key, name)) => GeneratedKey {
                key: key.to_string(),
                format: Format::named(name).ok_or_else(|| name.to_string()),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(key: &str, format: Result<Format, &str>) -> GeneratedKey {
        GeneratedKey {
            key: key.into(),
            format: format.map_err(str::to_string),
        }
    }

    #[test]
    fn keys_with_and_without_a_format() {
        assert_eq!(
            parse("SECRET_KEY_BASE, STS_KEY:hex32, STS_IV:base64-16,PLAIN:alnum32"),
            [
                entry("SECRET_KEY_BASE", Ok(Format::Alnum32)),
                entry("STS_KEY", Ok(Format::Hex32)),
                entry("STS_IV", Ok(Format::Base64Bytes16)),
                entry("PLAIN", Ok(Format::Alnum32)),
            ]
        );
    }

    #[test]
    fn an_unknown_format_is_kept_by_name() {
        assert_eq!(
            parse("a:hex64,b:,c"),
            [
                entry("a", Err("hex64")),
                entry("b", Err("")),
                entry("c", Ok(Format::Alnum32)),
            ]
        );
    }

    #[test]
    fn empty_entries_and_a_missing_annotation_give_nothing() {
        assert!(parse(" , ,").is_empty());
        assert!(parse("").is_empty());
        assert!(generated_keys(&json!({"kind": "Secret"})).is_empty());
        let object = json!({"metadata": {"annotations": {keys::GENERATED_KEYS: "token"}}});
        assert_eq!(
            generated_keys(&object),
            [entry("token", Ok(Format::Alnum32))]
        );
    }

    #[test]
    fn format_names_list_every_format() {
        assert_eq!(format_names(), "alnum32, hex32, base64-16");
        for (name, format) in FORMATS {
            assert_eq!(Format::named(name), Some(*format));
        }
    }
}
