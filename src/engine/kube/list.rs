//! A list read item by item: the response body is parsed one item at a
//! time, each handed to the caller's thinning function before the next is
//! parsed, so a list of every pod in a large cluster is never held as full
//! objects (once as typed objects, once as JSON values) beside the thinned
//! ones. The list's own fields (`metadata`, `kind`, `apiVersion`) are
//! skipped.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// Parses a list response `body`, passing each item through `each`.
pub(super) fn items<T>(
    body: &str,
    each: &(dyn Fn(Value) -> T + Sync),
) -> serde_json::Result<Vec<T>> {
    let mut de = serde_json::Deserializer::from_str(body);
    let items = List(each).deserialize(&mut de)?;
    de.end()?;
    Ok(items)
}

/// The whole list: only `items` is kept.
struct List<'a, T>(&'a (dyn Fn(Value) -> T + Sync));

impl<'de, T> DeserializeSeed<'de> for List<'_, T> {
    type Value = Vec<T>;
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Vec<T>, D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de, T> Visitor<'de> for List<'_, T> {
    type Value = Vec<T>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Kubernetes list")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<T>, A::Error> {
        let mut items = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if key == "items" {
                items = map.next_value_seed(Items(self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(items)
    }
}

/// The `items` array (or `null`, as some servers send for an empty list).
struct Items<'a, T>(&'a (dyn Fn(Value) -> T + Sync));

impl<'de, T> DeserializeSeed<'de> for Items<'_, T> {
    type Value = Vec<T>;
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Vec<T>, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de, T> Visitor<'de> for Items<'_, T> {
    type Value = Vec<T>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list's items")
    }
    fn visit_unit<E>(self) -> Result<Vec<T>, E> {
        Ok(Vec::new())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element::<Value>()? {
            items.push((self.0)(item));
        }
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_item_is_thinned_and_the_list_fields_skipped() {
        let body = json!({
            "kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "7"},
            "items": [{"metadata": {"name": "a", "managedFields": [1]}}, {"metadata": {"name": "b"}}],
        })
        .to_string();
        let thin = |mut v: Value| {
            v["metadata"]
                .as_object_mut()
                .unwrap()
                .remove("managedFields");
            v
        };
        let got = items(&body, &thin).unwrap();
        assert_eq!(
            got,
            vec![
                json!({"metadata": {"name": "a"}}),
                json!({"metadata": {"name": "b"}})
            ]
        );
    }

    #[test]
    fn an_empty_list_may_say_null() {
        let got = items(r#"{"kind":"List","items":null}"#, &|v| v).unwrap();
        assert!(got.is_empty());
        assert!(items("{\"items\": [1", &|v| v).is_err());
    }
}
