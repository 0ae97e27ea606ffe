//! Paths of spec fields as diagnostics name them
//! (`spec.tenants[2].cnvrg.webapp.replicas`), built one segment at a time from
//! the serde names of the model, so no path is spelt out as a whole by hand and
//! a segment reads exactly like the key a user writes. It only builds paths;
//! finding a path's line and column is the YAML index's job (`Source::at`).

use std::fmt;
use std::ops::Deref;

/// A dotted path into a spec file. Derefs to the text diagnostics carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath(String);

impl FieldPath {
    /// A top-level key of a file: `spec`, `metadata`.
    pub fn root(key: &str) -> FieldPath {
        FieldPath(key.to_string())
    }

    /// `spec`: where every setting of a spec or profile file lives.
    pub fn spec() -> FieldPath {
        FieldPath::root("spec")
    }

    /// `metadata.name`: the name of what a file declares.
    pub fn metadata_name() -> FieldPath {
        FieldPath::root("metadata").field("name")
    }

    /// The field `key` of the mapping at this path (a serde field name, or a
    /// key of a user's map such as a node selector).
    pub fn field(&self, key: &str) -> FieldPath {
        FieldPath(format!("{}.{key}", self.0))
    }

    /// Item `index` of the list at this path.
    pub fn index(&self, index: usize) -> FieldPath {
        FieldPath(format!("{}[{index}]", self.0))
    }
}

impl Deref for FieldPath {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::FieldPath;

    #[test]
    fn segments_join_with_dots_and_indexes_with_brackets() {
        let path = FieldPath::spec()
            .field("tenants")
            .index(2)
            .field("cnvrg")
            .field("webapp")
            .field("replicas");
        assert_eq!(&*path, "spec.tenants[2].cnvrg.webapp.replicas");
        assert_eq!(FieldPath::metadata_name().to_string(), "metadata.name");
        assert_eq!(
            &*FieldPath::spec().field("agentPools").index(0),
            "spec.agentPools[0]"
        );
    }
}
