//! Label and field selectors as list and watch requests carry them:
//! `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`, comma-AND;
//! field selectors on dotted paths (`metadata.name=x`, `involvedObject.uid=..`).

use serde_json::Value;

use crate::errors::ApiError;

#[derive(Debug, Clone)]
enum Req {
    Eq(String, String),
    Ne(String, String),
    Exists(String),
    NotExists(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

/// A parsed selector; empty matches everything.
#[derive(Debug, Clone, Default)]
pub struct Selector {
    reqs: Vec<Req>,
    field: bool,
}

fn split_top(s: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth) = (vec![], String::new(), 0);
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn set(s: &str) -> Result<Vec<String>, ApiError> {
    let s = s.trim();
    let inner = s
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "unable to parse requirement: found '{s}', expected: '('"
            ))
        })?;
    Ok(inner
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect())
}

impl Selector {
    pub fn parse(s: &str, field: bool) -> Result<Selector, ApiError> {
        let mut reqs = vec![];
        for part in split_top(s) {
            let r = if let Some((k, v)) = part.split_once("!=") {
                Req::Ne(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once("==") {
                Req::Eq(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once('=') {
                Req::Eq(k.trim().into(), v.trim().into())
            } else if let Some(k) = part.strip_prefix('!') {
                Req::NotExists(k.trim().into())
            } else if let Some((k, rest)) = part.split_once(" notin ") {
                Req::NotIn(k.trim().into(), set(rest)?)
            } else if let Some((k, rest)) = part.split_once(" in ") {
                Req::In(k.trim().into(), set(rest)?)
            } else if field {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                )));
            } else {
                Req::Exists(part.trim().into())
            };
            reqs.push(r);
        }
        Ok(Selector { reqs, field })
    }

    fn lookup(&self, obj: &Value, key: &str) -> Option<String> {
        let v = if self.field {
            key.split('.').try_fold(obj, |v, k| v.get(k))?
        } else {
            obj["metadata"]["labels"].get(key)?
        };
        Some(match v {
            Value::String(s) => s.clone(),
            Value::Null => return None,
            other => other.to_string(),
        })
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.reqs.iter().all(|r| match r {
            Req::Eq(k, v) => {
                self.lookup(obj, k).as_deref() == Some(v.as_str())
                    || (self.field && v.is_empty() && self.lookup(obj, k).is_none())
            }
            Req::Ne(k, v) => self.lookup(obj, k).as_deref() != Some(v.as_str()),
            Req::Exists(k) => self.lookup(obj, k).is_some(),
            Req::NotExists(k) => self.lookup(obj, k).is_none(),
            Req::In(k, vs) => self.lookup(obj, k).is_some_and(|x| vs.contains(&x)),
            Req::NotIn(k, vs) => self.lookup(obj, k).is_none_or(|x| !vs.contains(&x)),
        })
    }
}
