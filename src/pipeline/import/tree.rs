//! An ordered YAML tree that can hold comments, and its writer: what
//! `import` builds the spec files from. serde_yaml cannot write comments, so
//! the text is written here, block style, two spaces per level; scalars go
//! through [`crate::pipeline::yaml`]'s emitter so they are quoted exactly as
//! everywhere else. A mapping that ends up holding only comments is written
//! as a key with no value (null), which every optional spec section accepts.

use serde_json::Value;

/// One step of a path: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// `a.b[2].c` as steps.
pub fn steps(path: &str) -> Vec<Step> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, rest) = part.split_once('[').unwrap_or((part, ""));
        if !key.is_empty() {
            out.push(Step::Key(key.to_string()));
        }
        for index in rest.split('[') {
            if let Ok(i) = index.trim_end_matches(']').parse() {
                out.push(Step::Index(i));
            }
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    Field(String, Node),
    Comment(String),
}

/// A node: a scalar (a JSON value that is not a collection), a mapping of
/// fields and comments in insertion order, or a sequence.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Scalar(Value),
    Map(Vec<Entry>),
    Seq(Vec<Node>),
}

impl Default for Node {
    fn default() -> Node {
        Node::Map(Vec::new())
    }
}

impl Node {
    /// The scalar at `path`, if one is set there.
    pub fn get(&self, path: &[Step]) -> Option<&Value> {
        let mut node = self;
        for step in path {
            node = match (node, step) {
                (Node::Map(entries), Step::Key(k)) => entries.iter().find_map(|e| match e {
                    Entry::Field(name, n) if name == k => Some(n),
                    _ => None,
                })?,
                (Node::Seq(items), Step::Index(i)) => items.get(*i)?,
                _ => return None,
            };
        }
        match node {
            Node::Scalar(v) => Some(v),
            _ => None,
        }
    }

    /// Sets the scalar at `path`, making the mappings and sequence items on
    /// the way.
    pub fn set(&mut self, path: &[Step], value: Value) {
        *self.walk(path) = Node::Scalar(value);
    }

    /// Puts `node` at `path`, replacing what was there.
    pub fn insert(&mut self, path: &[Step], node: Node) {
        *self.walk(path) = node;
    }

    /// Adds a comment line inside the mapping at `path` (made if missing).
    pub fn comment(&mut self, path: &[Step], text: String) {
        let node = self.walk(path);
        if !matches!(node, Node::Map(_)) {
            *node = Node::default();
        }
        if let Node::Map(entries) = node {
            entries.push(Entry::Comment(text));
        }
    }

    fn walk(&mut self, path: &[Step]) -> &mut Node {
        let mut node = self;
        for step in path {
            node = match step {
                Step::Key(k) => {
                    if !matches!(node, Node::Map(_)) {
                        *node = Node::default();
                    }
                    let Node::Map(entries) = node else {
                        unreachable!()
                    };
                    let at = entries
                        .iter()
                        .position(|e| matches!(e, Entry::Field(name, _) if name == k));
                    let at = at.unwrap_or_else(|| {
                        entries.push(Entry::Field(k.clone(), Node::default()));
                        entries.len() - 1
                    });
                    match &mut entries[at] {
                        Entry::Field(_, n) => n,
                        Entry::Comment(_) => unreachable!(),
                    }
                }
                Step::Index(i) => {
                    if !matches!(node, Node::Seq(_)) {
                        *node = Node::Seq(Vec::new());
                    }
                    let Node::Seq(items) = node else {
                        unreachable!()
                    };
                    while items.len() <= *i {
                        items.push(Node::default());
                    }
                    &mut items[*i]
                }
            };
        }
        node
    }

    /// The tree as YAML text (a mapping at the root).
    pub fn to_yaml(&self) -> String {
        let mut out = String::new();
        if let Node::Map(entries) = self {
            write_entries(&mut out, entries, 0);
        }
        out
    }
}

fn scalar(value: &Value) -> String {
    crate::pipeline::yaml::to_string(value)
        .trim_end()
        .to_string()
}

fn write_entries(out: &mut String, entries: &[Entry], indent: usize) {
    let pad = " ".repeat(indent);
    for entry in entries {
        match entry {
            Entry::Comment(text) => out.push_str(&format!("{pad}# {text}\n")),
            Entry::Field(key, node) => {
                out.push_str(&format!("{pad}{}:", scalar(&Value::String(key.clone()))));
                write_value(out, node, indent);
            }
        }
    }
}

/// Writes what follows `key:` (or `- `) for `node`.
fn write_value(out: &mut String, node: &Node, indent: usize) {
    match node {
        Node::Scalar(v) => out.push_str(&format!(" {}\n", scalar(v))),
        Node::Map(entries) => {
            out.push('\n');
            write_entries(out, entries, indent + 2);
        }
        Node::Seq(items) if items.is_empty() => out.push_str(" []\n"),
        Node::Seq(items) => {
            out.push('\n');
            let pad = " ".repeat(indent + 2);
            for item in items {
                let mut inner = String::new();
                match item {
                    Node::Map(entries) => {
                        // A field first, so `- ` never starts with a comment.
                        let mut entries = entries.clone();
                        if let Some(at) = entries.iter().position(|e| matches!(e, Entry::Field(..)))
                        {
                            let first = entries.remove(at);
                            entries.insert(0, first);
                        }
                        write_entries(&mut inner, &entries, indent + 4)
                    }
                    other => write_value(&mut inner, other, indent + 2),
                }
                // `- ` takes the place of the first line's indentation.
                let first = inner.trim_start_matches(' ');
                out.push_str(&format!("{pad}- {first}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_fields_comments_and_sequences_in_order() {
        let mut root = Node::default();
        root.set(&steps("spec.name"), json!("a"));
        root.comment(&steps("spec.extra"), "not imported: x = 1".into());
        root.set(&steps("spec.pools[0].name"), json!("default"));
        root.set(&steps("spec.pools[0].replicas"), json!(2));
        root.set(&steps("spec.pools[1].name"), json!("gpu"));
        root.set(&steps("spec.cpu"), json!("2"));
        let text = root.to_yaml();
        assert_eq!(
            text,
            "spec:\n  name: a\n  extra:\n    # not imported: x = 1\n  pools:\n    - name: default\n      replicas: 2\n    - name: gpu\n  cpu: '2'\n"
        );
        let back: Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(back["spec"]["pools"][1]["name"], "gpu");
        assert_eq!(back["spec"]["extra"], Value::Null);
        assert_eq!(root.get(&steps("spec.pools[0].replicas")), Some(&json!(2)));
    }
}
