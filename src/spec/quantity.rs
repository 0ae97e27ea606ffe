//! Kubernetes resource quantities (`500m`, `2`, `1.5Gi`, `1e3`): parsed just far
//! enough to check their syntax and compare two of them.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A quantity as written, known to be well-formed.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantity(String);

impl Quantity {
    pub fn parse(text: &str) -> Result<Quantity, String> {
        value_of(text)
            .map(|_| Quantity(text.to_string()))
            .ok_or_else(|| {
                format!(
                    "`{text}` is not a Kubernetes quantity (expected a number with an optional \
                     suffix such as 500m, 2, 512Mi, 10Gi)"
                )
            })
    }

    /// The amount in base units (cores, bytes).
    pub fn value(&self) -> f64 {
        value_of(&self.0).expect("checked when parsed")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

const SUFFIXES: &[(&str, f64)] = &[
    ("Ki", 1024.0),
    ("Mi", 1048576.0),
    ("Gi", 1073741824.0),
    ("Ti", 1099511627776.0),
    ("Pi", 1125899906842624.0),
    ("Ei", 1152921504606846976.0),
    ("n", 1e-9),
    ("u", 1e-6),
    ("m", 1e-3),
    ("k", 1e3),
    ("M", 1e6),
    ("G", 1e9),
    ("T", 1e12),
    ("P", 1e15),
    ("E", 1e18),
];

fn value_of(text: &str) -> Option<f64> {
    let (number, scale) = match SUFFIXES.iter().find(|(s, _)| text.ends_with(s)) {
        Some((s, scale)) => (&text[..text.len() - s.len()], *scale),
        None => (text, 1.0),
    };
    let (mantissa, exponent) = match number.find(['e', 'E']) {
        Some(i) if scale == 1.0 => (&number[..i], number[i + 1..].parse::<i32>().ok()?),
        _ => (number, 0),
    };
    let digits = mantissa.strip_prefix(['+', '-']).unwrap_or(mantissa);
    let well_formed = !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && digits.matches('.').count() <= 1
        && digits != ".";
    if !well_formed {
        return None;
    }
    let v: f64 = mantissa.parse().ok()?;
    let v = v * scale * 10f64.powi(exponent);
    (v.is_finite() && v >= 0.0).then_some(v)
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Quantity;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a quantity such as 500m, 2 or 512Mi")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Quantity, E> {
                Quantity::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Quantity, E> {
                Quantity::parse(&v.to_string()).map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Quantity, E> {
                Quantity::parse(&v.to_string()).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_compares() {
        let q = |s| Quantity::parse(s).unwrap().value();
        assert_eq!(q("500m"), 0.5);
        assert_eq!(q("2"), 2.0);
        assert_eq!(q("1Gi"), 1073741824.0);
        assert_eq!(q("1e3"), 1000.0);
        assert!(q("1Gi") > q("1000Mi"));
        assert_eq!(q("1.5"), 1.5);
        for bad in ["", "abc", "1.2.3", "-1", "Gi", "1 Gi", "1gi", "."] {
            assert!(Quantity::parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}
