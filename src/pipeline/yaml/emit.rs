//! YAML output for JSON values.
//!
//! The layout is the one serde_yaml 0.9 (libyaml) produces, reproduced step for
//! step from libyaml's emitter: two-space indentation, sequences in a mapping not
//! indented, `- key: v` for mappings in a sequence, `{}` and `[]` for empty
//! collections, strings with line breaks as literal block scalars (`|`, `|-`,
//! `|+`, `|2` when the first line starts with a space or is empty; double-quoted
//! when a block scalar could not give the string back exactly), `? key` for keys
//! longer than 128 bytes or with line breaks.
//!
//! What differs is when a string is written plain. serde_yaml only quotes what
//! its own YAML 1.2 reader would take for a bool, number or null, so `yes`, `on`,
//! `1_000` or `2024-01-01` come out bare, and the YAML 1.1 readers of kubectl and
//! kustomize (go-yaml) read them back as booleans, integers and timestamps. Here
//! a string is plain only when it is neither a special value nor a number nor a
//! timestamp in YAML 1.1 or in YAML 1.2's core schema, and could not be read as
//! anything but a plain scalar; otherwise it is single-quoted, or double-quoted
//! with escapes when it holds characters that YAML readers do not agree on.

use serde_json::Value;

/// Spaces per indentation level.
const INDENT: isize = 2;

/// Keys longer than this (in bytes) are written as `? key`, as libyaml does.
const MAX_SIMPLE_KEY: usize = 128;

/// One YAML document (no `---`), ending with a line break.
pub(super) fn document(value: &Value) -> String {
    let mut e = Emitter {
        out: String::new(),
        column: 0,
        indent: -1,
        whitespace: true,
        indention: true,
    };
    e.node(value, Context::Root);
    e.write_indent();
    e.out
}

/// Where a node stands, as far as its layout depends on it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    Root,
    SequenceItem,
    MappingValue,
    /// A key written inline: `key: value`.
    SimpleKey,
    /// A key written after `? `.
    ComplexKey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
}

/// libyaml's emitter state, for the block styles only.
struct Emitter {
    out: String,
    /// Characters since the last line break.
    column: isize,
    /// Indentation of the current block (-1 before the root node).
    indent: isize,
    /// The last character written was whitespace (or nothing yet on the line).
    whitespace: bool,
    /// Only indentation and indicators have been written on this line.
    indention: bool,
}

impl Emitter {
    fn node(&mut self, value: &Value, ctx: Context) {
        match value {
            Value::Null => self.scalar("null", Style::Plain),
            Value::Bool(b) => self.scalar(if *b { "true" } else { "false" }, Style::Plain),
            Value::Number(n) => self.scalar(&n.to_string(), Style::Plain),
            Value::String(s) => self.scalar(s, style(s, ctx)),
            Value::Array(items) if items.is_empty() => self.empty("[", "]"),
            Value::Object(map) if map.is_empty() => self.empty("{", "}"),
            Value::Array(items) => {
                let saved = self.indent;
                let indentless =
                    matches!(ctx, Context::MappingValue | Context::ComplexKey) && !self.indention;
                self.increase_indent(false, indentless);
                for item in items {
                    self.write_indent();
                    self.write_indicator("-", true, false, true);
                    self.node(item, Context::SequenceItem);
                }
                self.indent = saved;
            }
            Value::Object(map) => {
                let saved = self.indent;
                self.increase_indent(false, false);
                for (key, value) in map {
                    self.write_indent();
                    if key.len() <= MAX_SIMPLE_KEY && !key.contains(is_break) {
                        self.scalar(key, style(key, Context::SimpleKey));
                        self.write_indicator(":", false, false, false);
                    } else {
                        self.write_indicator("?", true, false, true);
                        self.scalar(key, style(key, Context::ComplexKey));
                        self.write_indent();
                        self.write_indicator(":", true, false, true);
                    }
                    self.node(value, Context::MappingValue);
                }
                self.indent = saved;
            }
        }
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        if self.indent < 0 {
            self.indent = if flow { INDENT } else { 0 };
        } else if !indentless {
            self.indent += INDENT;
        }
    }

    /// `[]` or `{}`.
    fn empty(&mut self, open: &str, close: &str) {
        self.write_indicator(open, true, true, false);
        self.write_indicator(close, false, false, false);
    }

    fn scalar(&mut self, text: &str, style: Style) {
        let saved = self.indent;
        self.increase_indent(true, false);
        match style {
            Style::Plain => {
                if !self.whitespace && !text.is_empty() {
                    self.put(' ');
                }
                self.write(text);
            }
            Style::SingleQuoted => {
                self.write_indicator("'", true, false, false);
                for c in text.chars() {
                    if c == '\'' {
                        self.put('\'');
                    }
                    self.put(c);
                }
                self.write_indicator("'", false, false, false);
            }
            Style::DoubleQuoted => {
                self.write_indicator("\"", true, false, false);
                for c in text.chars() {
                    self.double_quoted_char(c);
                }
                self.write_indicator("\"", false, false, false);
            }
            Style::Literal => self.literal(text),
        }
        if style != Style::Literal {
            self.whitespace = false;
            self.indention = false;
        }
        self.indent = saved;
    }

    fn literal(&mut self, text: &str) {
        self.write_indicator("|", true, false, false);
        if text.starts_with([' ', '\n']) {
            self.write_indicator("2", false, false, false);
        }
        if !text.ends_with('\n') {
            self.write_indicator("-", false, false, false);
        } else if text == "\n" || text.ends_with("\n\n") {
            self.write_indicator("+", false, false, false);
        }
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for c in text.chars() {
            if c == '\n' {
                self.put_break();
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                self.indention = false;
                breaks = false;
            }
        }
    }

    fn double_quoted_char(&mut self, c: char) {
        if is_printable(c) && !is_break(c) && c != '"' && c != '\\' {
            self.put(c);
            return;
        }
        let escape = match c {
            '\0' => "\\0",
            '\u{7}' => "\\a",
            '\u{8}' => "\\b",
            '\t' => "\\t",
            '\n' => "\\n",
            '\u{b}' => "\\v",
            '\u{c}' => "\\f",
            '\r' => "\\r",
            '\u{1b}' => "\\e",
            '"' => "\\\"",
            '\\' => "\\\\",
            '\u{85}' => "\\N",
            '\u{2028}' => "\\L",
            '\u{2029}' => "\\P",
            c => {
                let code = u32::from(c);
                let escaped = if code <= 0xFF {
                    format!("\\x{code:02X}")
                } else if code <= 0xFFFF {
                    format!("\\u{code:04X}")
                } else {
                    format!("\\U{code:08X}")
                };
                self.write(&escaped);
                return;
            }
        };
        self.write(escape);
    }

    fn write_indent(&mut self) {
        let indent = self.indent.max(0);
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn write_indicator(
        &mut self,
        indicator: &str,
        need_whitespace: bool,
        is_whitespace: bool,
        is_indention: bool,
    ) {
        if need_whitespace && !self.whitespace {
            self.put(' ');
        }
        self.write(indicator);
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
    }

    fn write(&mut self, text: &str) {
        self.out.push_str(text);
        self.column += text.chars().count() as isize;
    }

    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }
}

/// How a string is written.
fn style(s: &str, ctx: Context) -> Style {
    if s.contains('\n') {
        // Literal when it can show the string exactly, as serde_yaml asks.
        let literal = ctx != Context::SimpleKey
            && s.chars().all(|c| is_printable(c) && !matches!(c, '\u{2028}' | '\u{2029}'))
            && !s.ends_with(' ')
            && !s.contains(" \n")
            // At the root, YAML 1.2 reads `|2` content from column 1 where
            // libyaml writes it at column 2: quote instead.
            && !(ctx == Context::Root && s.starts_with([' ', '\n']));
        return if literal {
            Style::Literal
        } else {
            Style::DoubleQuoted
        };
    }
    if s.chars().any(|c| !is_printable(c) || is_break(c)) {
        Style::DoubleQuoted
    } else if is_plain_safe(s) {
        Style::Plain
    } else {
        Style::SingleQuoted
    }
}

/// Characters libyaml writes as they are (its `IS_PRINTABLE`, with unicode on).
fn is_printable(c: char) -> bool {
    matches!(c,
        '\n'
        | ' '..='~'
        | '\u{A0}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FFFD}'
        | '\u{10000}'..='\u{10FFFF}')
        && c != '\u{FEFF}'
}

/// Line breaks in YAML 1.1 (YAML 1.2 keeps only `\n` and `\r`).
fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// Whether `s`, written bare in block context, reads back as the same string in
/// YAML 1.1 and in YAML 1.2's core schema. Line breaks and non-printable
/// characters are dealt with before.
fn is_plain_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    let second = s[first.len_utf8()..].chars().next();
    let blank = |c: Option<char>| matches!(c, None | Some(' ' | '\t'));
    if matches!(first, ' ' | '\t') || s.ends_with([' ', '\t']) {
        return false;
    }
    if s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    match first {
        '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"' | '%'
        | '@' | '`' => return false,
        '-' | '?' | ':' if blank(second) => return false,
        _ => {}
    }
    let mut previous = None;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ':' if blank(chars.peek().copied()) => return false,
            '#' if matches!(previous, Some(' ' | '\t')) => return false,
            _ => {}
        }
        previous = Some(c);
    }
    !is_special_word(s) && !is_number_like(s) && !is_timestamp_like(s)
}

/// Nulls and booleans of YAML 1.1 and 1.2, plus 1.1's merge (`<<`) and value
/// (`=`) keys.
fn is_special_word(s: &str) -> bool {
    matches!(
        s,
        "~" | "null"
            | "Null"
            | "NULL"
            | "y"
            | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "on"
            | "On"
            | "ON"
            | "true"
            | "True"
            | "TRUE"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "off"
            | "Off"
            | "OFF"
            | "false"
            | "False"
            | "FALSE"
            | "<<"
            | "="
    )
}

/// Whether `s` could be a number in YAML 1.1 or 1.2, read generously (go-yaml
/// drops every `_` before parsing, so `_` may be anywhere; a lone `.` counts).
/// Covers decimal, `0x`, `0o`, `0b`, leading-zero octal and sexagesimal (`1:20`)
/// integers, floats with or without a fraction or an exponent, `.inf` and
/// `.nan`. Not `1.2.3` or `0.0.0.0`: the `[0-9.]*` in YAML 1.1's float pattern
/// is a known slip that no reader (go-yaml, libyaml, PyYAML, SnakeYAML) follows.
fn is_number_like(s: &str) -> bool {
    if !s.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '+' | '-' | '.')) {
        return false;
    }
    let digits: String = s.chars().filter(|&c| c != '_').collect();
    let body = digits.strip_prefix(['+', '-']).unwrap_or(&digits);
    if body.is_empty() {
        return false;
    }
    if body.eq_ignore_ascii_case(".inf") || body.eq_ignore_ascii_case(".nan") {
        return true;
    }
    let lower = body.to_ascii_lowercase();
    if let Some(rest) = ["0x", "0o", "0b"]
        .iter()
        .find_map(|p| lower.strip_prefix(p))
    {
        return rest.bytes().all(|b| b.is_ascii_hexdigit());
    }
    if let Some((whole, rest)) = body.split_once(':') {
        // Sexagesimal: 1:20, 190:20:30, 190:20:30.15.
        let (groups, fraction) = rest.split_once('.').unwrap_or((rest, ""));
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit());
        return digits(whole)
            && groups.split(':').all(digits)
            && fraction.bytes().all(|c| c.is_ascii_digit());
    }
    let b = body.as_bytes();
    let mut i = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let whole = i > 0;
    let mut fraction = false;
    if i < b.len() && b[i] == b'.' {
        fraction = true;
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    if !whole && !fraction {
        return false;
    }
    if i < b.len() && matches!(b[i], b'e' | b'E') {
        i += 1;
        if i < b.len() && matches!(b[i], b'+' | b'-') {
            i += 1;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    i == b.len()
}

/// Whether `s` starts like a YAML 1.1 timestamp (`2001-12-14`, `2001-1-2t…`).
fn is_timestamp_like(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 6 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && b[5].is_ascii_digit()
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::document;

    /// Strings YAML 1.1 (kubectl, kustomize) or YAML 1.2 reads as something else
    /// when bare.
    const NOT_STRINGS_WHEN_PLAIN: &[&str] = &[
        // Booleans and nulls.
        "y",
        "Y",
        "yes",
        "Yes",
        "YES",
        "n",
        "N",
        "no",
        "No",
        "NO",
        "true",
        "True",
        "TRUE",
        "false",
        "False",
        "FALSE",
        "on",
        "On",
        "ON",
        "off",
        "Off",
        "OFF",
        "~",
        "null",
        "Null",
        "NULL",
        "",
        // Integers.
        "0",
        "1",
        "-1",
        "+1",
        "007",
        "0777",
        "08",
        "1_000",
        "-1_000",
        "0o17",
        "0O17",
        "0x1F",
        "0X1f",
        "-0x1F",
        "0x_1F",
        "0b101",
        "-0b101",
        "0b1_0",
        "1:20",
        "-1:20",
        "190:20:30",
        "123456789012345678901234567890",
        // Floats.
        "1.5",
        "1.",
        ".5",
        "-.5",
        "+.5",
        "1e3",
        "1E3",
        "1e+3",
        "1.5e-3",
        "6.8523015e+5",
        "685.230_15e+03",
        "685_230.15",
        "190:20:30.15",
        ".",
        "1e400",
        ".inf",
        ".Inf",
        ".INF",
        "-.inf",
        "+.inf",
        "-.Inf",
        ".nan",
        ".NaN",
        ".NAN",
        // Timestamps.
        "2024-01-01",
        "2001-12-14t21:59:43.10-05:00",
        "2001-12-14 21:59:43.10 -5",
        "2001-12-14T21:59:43Z",
        "2002-1-2",
        // Merge and value keys.
        "<<",
        "=",
    ];

    /// Strings that bare would not even parse as one scalar, or parse changed.
    const NOT_PLAIN_SYNTAX: &[&str] = &[
        " x", "x ", "-", "- x", "?", "? x", ":", ": x", "x:", "a: b", "a #b", "#x", "---", "--- x",
        "...", "... x", "&a", "*a", "!a", "!!str", "|", ">", "'a", "\"a", "%YAML", "@a", "`a",
        "[a]", "]", "{a}", "}", ",a",
    ];

    /// Strings that stay bare, as serde_yaml writes them.
    const PLAIN: &[&str] = &[
        "x",
        "hello world",
        "a:b",
        "a#b",
        "-x",
        "--flag=1",
        "?x",
        ":x",
        "a-b",
        "v1.2.3",
        "1.2.3",
        "0.0.0.0",
        "10.0.0.1",
        "1.2.3-rc1",
        "1-2",
        "_1",
        "+",
        "inf",
        "nan",
        "Infinity",
        "yess",
        "noo",
        "onn",
        "nULL",
        "0xZZ",
        "1e",
        "2024-xx",
        "1:2a",
        "0.0.0.0:80",
        "é",
        "ünïcødé ✓",
        "a'b",
        "a\"b",
        "a\\b",
        "a,b",
        "a[b]",
        "a{b}",
        "a|b",
        "a>b",
        "a!b",
        "a&b",
        "a*b",
        "a%b",
        "a@b",
        "a`b",
        "http://example.com/a?b=c#d",
        "app.kubernetes.io/name",
        "500m",
        "1Gi",
        "10.0.0.0/8",
        "0.0.0.0:80",
        ".example.com",
        "a b  c",
        "a\u{a0}b",
    ];

    fn round_trips(value: &Value) {
        let text = document(value);
        let ours = crate::pipeline::yaml::documents(&text)
            .unwrap_or_else(|e| panic!("{text:?} does not parse: {}", e.message));
        let expected: Vec<Value> = if value.is_null() {
            vec![]
        } else {
            vec![value.clone()]
        };
        assert_eq!(
            ours, expected,
            "documents() reads {text:?} back differently"
        );
        let theirs: Value = serde_yaml::from_str(&text)
            .unwrap_or_else(|e| panic!("{text:?} does not parse with serde_yaml: {e}"));
        assert_eq!(&theirs, value, "serde_yaml reads {text:?} back differently");
    }

    /// Every position a string can take, with what is around it.
    fn placements(s: &str) -> Vec<Value> {
        vec![
            json!(s),
            json!({ "k": s }),
            json!({ s: "v" }),
            json!({ s: s, "after": 1 }),
            json!([s, s]),
            json!({ "a": { "b": [s, { s: [s] }] }, "c": s }),
            json!([[s], [{ "k": s, s: 2 }]]),
            json!({ "list": [{ "k": { s: s } }, s], "end": { "x": s } }),
        ]
    }

    #[test]
    fn yaml_1_1_and_1_2_non_strings_are_quoted() {
        for &s in NOT_STRINGS_WHEN_PLAIN.iter().chain(NOT_PLAIN_SYNTAX) {
            let quoted = format!("'{}'", s.replace('\'', "''"));
            assert_eq!(document(&json!({ "k": s })), format!("k: {quoted}\n"));
            assert_eq!(document(&json!({ s: 1 })), format!("{quoted}: 1\n"));
            assert_eq!(document(&json!([s])), format!("- {quoted}\n"));
        }
    }

    #[test]
    fn ordinary_strings_stay_plain() {
        for &s in PLAIN {
            assert_eq!(document(&json!({ "k": s })), format!("k: {s}\n"));
            assert_eq!(document(&json!({ s: 1 })), format!("{s}: 1\n"));
        }
    }

    #[test]
    fn odd_characters_are_escaped_in_double_quotes() {
        let cases = [
            ("tab\there", r#""tab\there""#),
            ("\t", r#""\t""#),
            ("bell\u{7}", r#""bell\a""#),
            ("nul\0", r#""nul\0""#),
            ("cr\r", r#""cr\r""#),
            ("del\u{7f}", r#""del\x7F""#),
            ("c1\u{80}", r#""c1\x80""#),
            ("nel\u{85}", r#""nel\N""#),
            ("ls\u{2028}ps\u{2029}", r#""ls\Lps\P""#),
            ("\u{feff}bom", r#""\uFEFFbom""#),
            ("nonchar\u{fffe}", r#""nonchar\uFFFE""#),
            ("quote\" and \\ and \t", r#""quote\" and \\ and \t""#),
            ("trailing \nspace", r#""trailing \nspace""#),
            ("a\nb ", r#""a\nb ""#),
            ("multi\nline\twith tab", r#""multi\nline\twith tab""#),
            ("line\r\nbreaks\n", r#""line\r\nbreaks\n""#),
        ];
        for (s, want) in cases {
            assert_eq!(
                document(&json!({ "k": s })),
                format!("k: {want}\n"),
                "{s:?}"
            );
        }
    }

    #[test]
    fn layout_of_nested_mappings_and_sequences() {
        let value = json!({
            "apiVersion": "v1",
            "metadata": { "name": "x", "labels": { "a": "b" }, "annotations": {} },
            "spec": {
                "containers": [
                    { "name": "c", "args": ["--x", "1"], "env": [], "ports": [{ "containerPort": 80 }] },
                    { "name": "d", "resources": { "limits": { "cpu": "500m" } } },
                ],
                "matrix": [[1, 2], [], [[3]], [{}]],
                "nothing": null,
                "on": true,
                "ratio": 0.25,
                "big": 18446744073709551615u64,
                "huge": 1e20,
                "negative": -7,
            },
        });
        let want = "\
apiVersion: v1
metadata:
  name: x
  labels:
    a: b
  annotations: {}
spec:
  containers:
  - name: c
    args:
    - --x
    - '1'
    env: []
    ports:
    - containerPort: 80
  - name: d
    resources:
      limits:
        cpu: 500m
  matrix:
  - - 1
    - 2
  - []
  - - - 3
  - - {}
  nothing: null
  'on': true
  ratio: 0.25
  big: 18446744073709551615
  huge: 1e+20
  negative: -7
";
        assert_eq!(document(&value), want);
        assert_eq!(document(&json!({})), "{}\n");
        assert_eq!(document(&json!([])), "[]\n");
        assert_eq!(document(&json!(null)), "null\n");
        assert_eq!(document(&json!("yes")), "'yes'\n");
        assert_eq!(document(&json!([1, [2]])), "- 1\n- - 2\n");
    }

    #[test]
    fn layout_of_block_scalars() {
        let value = json!({
            "clip": "a\nb\n",
            "strip": "a\n  b",
            "keep": "a\n\n",
            "lead": "  x\ny\n",
            "blank_first": "\nx",
            "only_break": "\n",
            "inner_blank": "a\n\n\nb\n",
            "looks_like_yaml": "key: value\n- item\n# comment\n---\n",
            "list": ["one\ntwo\n", { "k": "x\ny" }],
        });
        let want = "\
clip: |
  a
  b
strip: |-
  a
    b
keep: |+
  a

lead: |2
    x
  y
blank_first: |2-

  x
only_break: |2+

inner_blank: |
  a


  b
looks_like_yaml: |
  key: value
  - item
  # comment
  ---
list:
- |
  one
  two
- k: |-
    x
    y
";
        assert_eq!(document(&value), want);
        assert_eq!(document(&json!({ "k": "x\n\n" })), "k: |+\n  x\n\n");
        // At the root, `|2` would be read with one space too many.
        assert_eq!(document(&json!(" x\ny")), "\" x\\ny\"\n");
    }

    #[test]
    fn long_and_multi_line_keys_are_explicit() {
        let long = "k".repeat(129);
        let value = json!({ long.clone(): { "a": 1 }, "x\ny": ["z"], "short": 1 });
        assert_eq!(
            document(&value),
            format!("? {long}\n: a: 1\n? |-\n  x\n  y\n: - z\nshort: 1\n")
        );
        round_trips(&value);
    }

    /// Strings this module writes exactly as serde_yaml does.
    fn written_as_serde_yaml_does() -> Vec<String> {
        let mut strings: Vec<String> = PLAIN.iter().map(|s| s.to_string()).collect();
        strings.extend(
            [
                "a\nb",
                "a\nb\n",
                "a\nb\n\n",
                "\n",
                "\n\n",
                " a\nb",
                "\na",
                "a\n  b",
                "a \nb",
                "a\nb ",
                "a\tb\nc",
                "a\n\n\nb",
                "#c\nd",
                "- a\n- b\n",
                "tab\t",
                "nul\0",
                "\u{85}",
                "\u{7f}",
                "\u{feff}",
                "\u{fffe}",
                "1",
                "true",
                "",
                "null",
                "1.5",
                "0x1F",
                "-",
                "a: b",
                "#x",
                "' q",
                "\"",
                "\\",
                "x ",
                " x",
            ]
            .map(String::from),
        );
        strings.push("k".repeat(129));
        strings.push("k\n".repeat(70));
        strings
    }

    /// Same output as serde_yaml wherever it already quoted what needs quoting.
    #[test]
    fn layout_is_serde_yaml_s() {
        for s in written_as_serde_yaml_does() {
            for value in placements(&s) {
                if value.is_string() && s.contains('\n') && s.starts_with([' ', '\n']) {
                    continue; // double-quoted at the root on purpose
                }
                let theirs = serde_yaml::to_string(&value).unwrap();
                assert_eq!(document(&value), theirs, "{value}");
            }
        }
    }

    /// A small xorshift generator, so that failures reproduce.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, bound: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % bound as u64) as usize
        }

        fn value(&mut self, strings: &[String], depth: usize) -> Value {
            let pick = |rng: &mut Rng| strings[rng.below(strings.len())].clone();
            match self.below(if depth == 0 { 4 } else { 7 }) {
                0 => Value::String(pick(self)),
                1 => [
                    json!(null),
                    json!(true),
                    json!(-3),
                    json!(0.5),
                    json!(-2.5e-9),
                    json!(u64::MAX),
                ][self.below(6)]
                .clone(),
                2 => json!([]),
                3 => json!({}),
                4 => Value::Array(
                    (0..1 + self.below(3))
                        .map(|_| self.value(strings, depth - 1))
                        .collect(),
                ),
                _ => Value::Object(
                    (0..1 + self.below(3))
                        .map(|_| (pick(self), self.value(strings, depth - 1)))
                        .collect(),
                ),
            }
        }
    }

    /// Random trees laid out exactly as serde_yaml lays them out, and read back.
    #[test]
    fn random_documents_match_serde_yaml() {
        let strings = written_as_serde_yaml_does();
        let mut rng = Rng(0x2545_F491_4F6C_DD1D);
        for _ in 0..3000 {
            let value = rng.value(&strings, 4);
            if value.is_string() {
                continue;
            }
            let theirs = serde_yaml::to_string(&value).unwrap();
            assert_eq!(document(&value), theirs, "{value}");
            round_trips(&value);
        }
    }

    #[test]
    fn tricky_strings_round_trip() {
        let long = "x: ".repeat(50);
        let fixed = NOT_STRINGS_WHEN_PLAIN
            .iter()
            .chain(NOT_PLAIN_SYNTAX)
            .chain(PLAIN)
            .copied()
            .chain([
                "a\nb",
                "a\nb\n\n",
                "\n",
                " a\nb",
                "\n a",
                "a \nb",
                "a\u{2028}b",
                long.as_str(),
            ]);
        for s in fixed {
            for value in placements(s) {
                round_trips(&value);
            }
        }
    }

    /// Random strings over characters that matter to YAML, in every placement.
    #[test]
    fn random_strings_round_trip() {
        const ALPHABET: &[char] = &[
            'a',
            'y',
            'n',
            'e',
            'x',
            'o',
            'b',
            'O',
            'N',
            'E',
            '0',
            '1',
            '7',
            '9',
            '.',
            '-',
            '+',
            ':',
            '#',
            ' ',
            ' ',
            '\t',
            '\n',
            '\n',
            '\r',
            '\'',
            '"',
            '\\',
            '_',
            '!',
            '&',
            '*',
            '?',
            '|',
            '>',
            '%',
            '@',
            '`',
            '[',
            ']',
            '{',
            '}',
            ',',
            '~',
            '<',
            '=',
            'é',
            '\u{a0}',
            '\u{85}',
            '\u{2028}',
            '\u{feff}',
            '\0',
            '\u{1}',
            '\u{1F600}',
        ];
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut next = |bound: usize| rng.below(bound);
        for _ in 0..4000 {
            let len = next(9);
            let s: String = (0..len).map(|_| ALPHABET[next(ALPHABET.len())]).collect();
            for value in placements(&s) {
                round_trips(&value);
            }
        }
    }
}
