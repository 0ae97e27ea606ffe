//! The template set: the templates built into the binary, optionally overlaid by
//! a directory given with `--templates` (a file there replaces the built-in one
//! with the same relative path; new files are added). Reading the overlay is the
//! only I/O in the render stage and happens before rendering starts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use include_dir::{Dir, include_dir};

use super::error::RenderError;

static BUILT_IN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/templates");

/// Template path (relative, `/`-separated) → source text.
#[derive(Debug, Clone)]
pub struct Templates {
    files: BTreeMap<String, String>,
}

impl Templates {
    /// The templates built into the binary.
    pub fn built_in() -> Templates {
        let mut files = BTreeMap::new();
        collect(&BUILT_IN, &mut files);
        Templates { files }
    }

    /// The built-in templates overlaid by every `*.j2` file below `dir`.
    pub fn with_overlay(dir: &Path) -> Result<Templates, RenderError> {
        let mut t = Templates::built_in();
        if !dir.is_dir() {
            return Err(RenderError::Overlay {
                path: dir.to_path_buf(),
                message: "not a directory".into(),
            });
        }
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            let entries = std::fs::read_dir(&d).map_err(|e| overlay_err(&d, e))?;
            for entry in entries {
                let path = entry.map_err(|e| overlay_err(&d, e))?.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "j2") {
                    let text = std::fs::read_to_string(&path).map_err(|e| overlay_err(&path, e))?;
                    let rel = relative_name(dir, &path);
                    t.files.insert(rel, text);
                }
            }
        }
        Ok(t)
    }

    /// Every template as (name, source), sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The renderable templates (`*.yaml.j2`) in directory `dir`, sorted.
    pub fn in_dir<'a>(&'a self, dir: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.files.keys().map(String::as_str).filter(move |name| {
            name.strip_prefix(dir)
                .and_then(|rest| rest.strip_prefix('/'))
                .is_some_and(|file| !file.contains('/') && file.ends_with(".yaml.j2"))
        })
    }
}

fn collect(dir: &Dir<'static>, out: &mut BTreeMap<String, String>) {
    for file in dir.files() {
        if let Some(text) = file.contents_utf8() {
            let name = file.path().to_string_lossy().replace('\\', "/");
            out.insert(name, text.to_string());
        }
    }
    for sub in dir.dirs() {
        collect(sub, out);
    }
}

fn relative_name(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn overlay_err(path: &Path, e: std::io::Error) -> RenderError {
    RenderError::Overlay {
        path: PathBuf::from(path),
        message: e.to_string(),
    }
}
