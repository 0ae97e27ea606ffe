//! YAML in and out, kept behind one small module so the (archived) `serde_yaml`
//! crate can be swapped without touching the rest.
//!
//! Besides typed (de)serialization it builds a [`Positions`] index — dotted field
//! path (`spec.tenants[1].name`) to line and column — so that checks made after
//! parsing can still point at the place in the file a value came from. It does no
//! validation of its own and never touches the file system.

mod emit;

use std::collections::HashMap;

use saphyr_parser::{Event, Marker, Parser, ScalarStyle, Span, SpannedEventReceiver};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A line and column, both 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// Why a YAML text could not be turned into a value.
#[derive(Debug, Clone)]
pub struct DeError {
    /// Dotted path of the field the error is about (`.` for the root).
    pub path: String,
    /// Where the parser stopped, when it knows.
    pub pos: Option<Pos>,
    /// The parser's own message, without its location suffix.
    pub message: String,
}

/// Deserializes `text` into `T`, rejecting whatever `T` rejects, and reports the
/// field path and position of the first error.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, DeError> {
    let de = serde_yaml::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let pos = inner.location().map(|l| Pos {
            line: l.line(),
            col: l.column(),
        });
        DeError {
            path,
            pos,
            message: strip_location(&inner.to_string()),
        }
    })
}

/// Parses every document of a multi-document YAML text into JSON values. Empty
/// documents (only comments or whitespace) are dropped. Plain scalars resolve
/// as in YAML 1.2's core schema; duplicate keys and aliases are errors (neither
/// belongs in a Kubernetes manifest). Built on parser events, straight into
/// JSON values, because rendering spends most of its time here.
pub fn documents(text: &str) -> Result<Vec<serde_json::Value>, DeError> {
    let mut builder = JsonBuilder::default();
    let mut parser = Parser::new_from_str(text);
    let scan = parser.load(&mut builder, true);
    if let Some(err) = builder.error {
        return Err(err);
    }
    scan.map_err(|e| DeError {
        path: ".".into(),
        pos: Some(Pos {
            line: e.marker().line(),
            col: e.marker().col() + 1,
        }),
        message: e.info().to_string(),
    })?;
    Ok(builder.docs)
}

/// Builds JSON values from parser events.
#[derive(Default)]
struct JsonBuilder {
    docs: Vec<serde_json::Value>,
    /// Open collections: a list, or a map with the key awaiting its value.
    stack: Vec<(serde_json::Value, Option<String>)>,
    error: Option<DeError>,
}

impl JsonBuilder {
    fn fail(&mut self, mark: Marker, message: String) {
        if self.error.is_none() {
            self.error = Some(DeError {
                path: ".".into(),
                pos: Some(Pos {
                    line: mark.line(),
                    col: mark.col() + 1,
                }),
                message,
            });
        }
    }

    /// Places a finished node in its parent, or ends the document.
    fn push(&mut self, value: serde_json::Value, mark: Marker) {
        use serde_json::Value;
        match self.stack.last_mut() {
            None => {
                if !value.is_null() {
                    self.docs.push(value);
                }
            }
            Some((Value::Array(items), _)) => items.push(value),
            Some((Value::Object(map), key)) => match key.take() {
                None => match value {
                    Value::String(k) => *key = Some(k),
                    Value::Number(n) => *key = Some(n.to_string()),
                    Value::Bool(b) => *key = Some(b.to_string()),
                    _ => self.fail(mark, "mapping keys must be scalars".into()),
                },
                Some(k) => {
                    if map.contains_key(&k) {
                        self.fail(mark, format!("duplicate key `{k}`"));
                    } else {
                        map.insert(k, value);
                    }
                }
            },
            Some(_) => unreachable!("only collections are stacked"),
        }
    }
}

/// A plain scalar's value under YAML 1.2's core schema.
fn plain_scalar(text: &str) -> serde_json::Value {
    use serde_json::Value;
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = text.parse::<i64>() {
            return Value::from(i);
        }
        if let Ok(u) = text.parse::<u64>() {
            return Value::from(u);
        }
    }
    let floaty = digits.bytes().any(|b| b.is_ascii_digit())
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && digits.starts_with(|c: char| c.is_ascii_digit() || c == '.');
    if floaty
        && let Ok(f) = text.parse::<f64>()
        && let Some(n) = serde_json::Number::from_f64(f)
    {
        return Value::Number(n);
    }
    Value::String(text.to_string())
}

impl<'input> SpannedEventReceiver<'input> for JsonBuilder {
    fn on_event(&mut self, ev: Event<'input>, span: Span) {
        use serde_json::Value;
        let mark = span.start;
        if self.error.is_some() {
            return;
        }
        match ev {
            Event::Scalar(text, style, _, tag) => {
                let as_string = style != ScalarStyle::Plain
                    || tag.is_some_and(|t| t.handle == "tag:yaml.org,2002:" && t.suffix == "str");
                let value = if as_string {
                    Value::String(text.into_owned())
                } else {
                    plain_scalar(&text)
                };
                self.push(value, mark);
            }
            Event::SequenceStart(..) => self.stack.push((Value::Array(Vec::new()), None)),
            Event::MappingStart(..) => self
                .stack
                .push((Value::Object(serde_json::Map::new()), None)),
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((value, _)) = self.stack.pop() {
                    self.push(value, mark);
                }
            }
            Event::Alias(_) => self.fail(mark, "YAML aliases are not supported here".into()),
            _ => {}
        }
    }
}

/// Serializes a value as one YAML document (no leading `---`), laid out as
/// serde_yaml lays it out but with every string that a YAML 1.1 reader
/// (kubectl, kustomize) or a YAML 1.2 one could take for anything else quoted.
/// See [`emit`].
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> String {
    let value = serde_json::to_value(value).expect("plain data always converts to JSON");
    emit::document(&value)
}

/// The parser's message without its ` at line L column C` suffix and without
/// the `field.path: ` prefix serde_yaml adds (callers report both themselves).
fn strip_location(message: &str) -> String {
    let message = match message.rfind(" at line ") {
        Some(i) => &message[..i],
        None => message,
    };
    match message.split_once(": ") {
        Some((path, rest)) if !path.is_empty() && !path.contains(' ') => rest.to_string(),
        _ => message.to_string(),
    }
}

/// Field path → position of the key (for mapping entries) or of the item (for
/// sequence items), for the first document of a YAML text.
#[derive(Debug, Default, Clone)]
pub struct Positions {
    map: HashMap<String, Pos>,
    syntax_error: Option<(Pos, String)>,
    duplicate: Option<Duplicate>,
    second_document: Option<Pos>,
}

/// A key written twice in one mapping: its path and both positions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    pub path: String,
    pub first: Pos,
    pub second: Pos,
}

impl Positions {
    /// Indexes `text`, up to its first syntax error (kept for [`syntax_error`](Self::syntax_error)).
    /// Later documents are only scanned for syntax and noted
    /// ([`second_document`](Self::second_document)).
    pub fn index(text: &str) -> Positions {
        let mut builder = Builder::default();
        let mut parser = Parser::new_from_str(text);
        let syntax_error = parser.load(&mut builder, true).err().map(|e| {
            let m = e.marker();
            let pos = Pos {
                line: m.line(),
                col: m.col() + 1,
            };
            (pos, e.info().to_string())
        });
        Positions {
            map: builder.map,
            syntax_error,
            duplicate: builder.duplicate,
            second_document: builder.second_document,
        }
    }

    /// The first YAML syntax error in the text, if any.
    pub fn syntax_error(&self) -> Option<(Pos, &str)> {
        self.syntax_error.as_ref().map(|(p, m)| (*p, m.as_str()))
    }

    /// The first key of the first document written twice in the same mapping.
    pub fn duplicate(&self) -> Option<&Duplicate> {
        self.duplicate.as_ref()
    }

    /// Where a second document starts, when the text holds more than one.
    pub fn second_document(&self) -> Option<Pos> {
        self.second_document
    }

    /// The position of `path`, or of its nearest indexed ancestor.
    pub fn find(&self, path: &str) -> Option<Pos> {
        let mut p = path;
        loop {
            if let Some(pos) = self.map.get(p) {
                return Some(*pos);
            }
            let cut = p.rfind(['.', '['])?;
            p = &p[..cut];
        }
    }
}

enum Frame {
    Map {
        path: String,
        key: Option<String>,
        /// Keys seen so far in this mapping, with their positions.
        keys: HashMap<String, Pos>,
        /// A sequence item whose position is corrected to its first key (the
        /// parser marks a block mapping's start after that key).
        item: Option<String>,
    },
    Seq {
        path: String,
        next: usize,
    },
}

#[derive(Default)]
struct Builder {
    map: HashMap<String, Pos>,
    stack: Vec<Frame>,
    duplicate: Option<Duplicate>,
    /// Documents started so far; only the first is indexed.
    documents: usize,
    second_document: Option<Pos>,
}

impl Builder {
    /// Path of the node that starts now, advancing the parent's state.
    fn child_path(&mut self, mark: Marker) -> Option<String> {
        let pos = Pos {
            line: mark.line(),
            col: mark.col() + 1,
        };
        match self.stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Seq { path, next }) => {
                let p = format!("{path}[{next}]");
                *next += 1;
                self.map.entry(p.clone()).or_insert(pos);
                Some(p)
            }
            // Without a pending key, this node is itself a key.
            Some(Frame::Map { path, key, .. }) => key.take().map(|k| join(path, &k)),
        }
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

impl<'input> SpannedEventReceiver<'input> for Builder {
    fn on_event(&mut self, ev: Event<'input>, span: Span) {
        let mark = span.start;
        if let Event::DocumentStart(_) = ev {
            self.documents += 1;
            if self.documents == 2 {
                self.second_document = Some(Pos {
                    line: mark.line(),
                    col: mark.col() + 1,
                });
            }
        }
        if self.documents > 1 {
            return;
        }
        match ev {
            Event::Scalar(value, ..) => {
                let is_key = matches!(self.stack.last(), Some(Frame::Map { key: None, .. }));
                if is_key {
                    if let Some(Frame::Map {
                        path,
                        key,
                        keys,
                        item,
                    }) = self.stack.last_mut()
                    {
                        let pos = Pos {
                            line: mark.line(),
                            col: mark.col() + 1,
                        };
                        if let Some(item) = item.take() {
                            self.map.insert(item, pos);
                        }
                        let full = join(path, &value);
                        if let Some(first) = keys.get(value.as_ref()) {
                            if self.duplicate.is_none() {
                                self.duplicate = Some(Duplicate {
                                    path: full.clone(),
                                    first: *first,
                                    second: pos,
                                });
                            }
                        } else {
                            keys.insert(value.to_string(), pos);
                        }
                        self.map.entry(full).or_insert(pos);
                        *key = Some(value.into_owned());
                    }
                } else {
                    self.child_path(mark);
                }
            }
            Event::Alias(_) => {
                self.child_path(mark);
            }
            Event::MappingStart(..) => {
                let in_seq = matches!(self.stack.last(), Some(Frame::Seq { .. }));
                let path = self.child_path(mark).unwrap_or_default();
                let item = in_seq.then(|| path.clone());
                self.stack.push(Frame::Map {
                    path,
                    key: None,
                    keys: HashMap::new(),
                    item,
                });
            }
            Event::SequenceStart(..) => {
                let path = self.child_path(mark).unwrap_or_default();
                self.stack.push(Frame::Seq { path, next: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_resolve_scalars_like_yaml_1_2_core() {
        let docs = documents(
            "---\na: 1\nb: '1'\nc: true\nd: ~\ne: 1.5\nf: 0.0.1\ng: -3\nh: \"x\"\ni: yes\nj: !!str 5\n---\n# empty\n---\n- x\n",
        )
        .unwrap();
        assert_eq!(docs.len(), 2, "the empty document is dropped");
        assert_eq!(
            docs[0],
            serde_json::json!({"a": 1, "b": "1", "c": true, "d": null, "e": 1.5, "f": "0.0.1", "g": -3, "h": "x", "i": "yes", "j": "5"})
        );
        assert_eq!(docs[1], serde_json::json!(["x"]));
    }

    #[test]
    fn documents_reject_duplicate_keys_and_aliases() {
        let err = documents("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(err.message, "duplicate key `a`");
        assert_eq!(err.pos.map(|p| p.line), Some(3));
        let err = documents("a: &x 1\nb: *x\n").unwrap_err();
        assert!(err.message.contains("aliases"), "{}", err.message);
        let err = documents("a: [1\n").unwrap_err();
        assert!(err.pos.is_some());
    }

    #[test]
    fn positions_note_duplicate_keys_and_a_second_document() {
        let p = Positions::index("a:\n  b: 1\n  c: 2\n  b: 3\nd: {x.y: 1, x: {y: 2}}\n");
        let dup = p.duplicate().expect("b is written twice");
        assert_eq!(dup.path, "a.b");
        assert_eq!(dup.first, Pos { line: 2, col: 3 });
        assert_eq!(dup.second, Pos { line: 4, col: 3 });
        assert_eq!(p.second_document(), None);
        let p = Positions::index("a: {x.y: 1, x: {y: 2}}\n");
        assert_eq!(p.duplicate(), None, "keys are compared, not paths");
        let p = Positions::index("a: 1\n---\na: 2\n");
        assert_eq!(p.duplicate(), None, "documents are separate");
        assert_eq!(p.second_document(), Some(Pos { line: 2, col: 1 }));
    }

    #[test]
    fn positions_point_at_keys_and_items() {
        let text = "spec:\n  tenants:\n    - name: a\n    - name: b\n      type: cnvrg\n";
        let p = Positions::index(text);
        assert_eq!(p.find("spec.tenants"), Some(Pos { line: 2, col: 3 }));
        assert_eq!(
            p.find("spec.tenants[1].type"),
            Some(Pos { line: 5, col: 7 })
        );
        assert_eq!(
            p.find("spec.tenants[1].name"),
            Some(Pos { line: 4, col: 7 })
        );
        // Unknown leaf falls back to its parent.
        assert_eq!(
            p.find("spec.tenants[1].workspace"),
            Some(Pos { line: 4, col: 7 })
        );
    }
}
