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
        match value_of(text) {
            Ok(_) => Ok(Quantity(text.to_string())),
            Err(Bad::Syntax) => Err(format!(
                "`{text}` is not a Kubernetes quantity (expected a number with an optional \
                 suffix such as 500m, 2, 512Mi, 10Gi){}",
                suffix_hint(text)
            )),
            Err(Bad::Negative) => Err(format!(
                "`{text}` is negative; CPU, memory and storage amounts must be 0 or more"
            )),
            Err(Bad::TooLarge) => Err(format!(
                "`{text}` is larger than Kubernetes can hold (a quantity is at most 2^63, 8Ei)"
            )),
        }
    }

    /// The amount in base units (cores, bytes).
    pub fn value(&self) -> f64 {
        value_of(&self.0).expect("checked when parsed")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a text is not a quantity cnvrgctl accepts.
#[derive(Debug, PartialEq)]
enum Bad {
    Syntax,
    Negative,
    TooLarge,
}

/// ` (did you mean ...?)` for a number with a misspelt suffix (`2GB`, `1gi`).
fn suffix_hint(text: &str) -> String {
    let Some(at) = text.find(|c: char| c.is_ascii_alphabetic()) else {
        return String::new();
    };
    let (number, unit) = text.split_at(at);
    if number.is_empty() || value_of(number).is_err() {
        return String::new();
    }
    let unit = unit.strip_suffix(['B', 'b']).unwrap_or(unit);
    let with_i = format!("{unit}i");
    let options: Vec<String> = SUFFIXES
        .iter()
        .map(|(s, _)| *s)
        .filter(|s| !matches!(*s, "n" | "u" | "m"))
        .filter(|s| s.eq_ignore_ascii_case(unit) || s.eq_ignore_ascii_case(&with_i))
        .map(|s| format!("`{number}{s}`"))
        .collect();
    if options.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", options.join(" or "))
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

/// Kubernetes holds quantities in 63 bits; larger ones are capped silently.
const MAX: f64 = 9_223_372_036_854_775_808.0;

fn value_of(text: &str) -> Result<f64, Bad> {
    let (number, scale) = match SUFFIXES.iter().find(|(s, _)| text.ends_with(s)) {
        Some((s, scale)) => (&text[..text.len() - s.len()], *scale),
        None => (text, 1.0),
    };
    let (mantissa, exponent) = match number.find(['e', 'E']) {
        Some(i) if scale == 1.0 => {
            let exponent = &number[i + 1..];
            let digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Bad::Syntax);
            }
            // Saturates: an exponent too large for i32 is out of range anyway.
            let e = exponent
                .parse::<i32>()
                .unwrap_or(if exponent.starts_with('-') {
                    i32::MIN
                } else {
                    i32::MAX
                });
            (&number[..i], e)
        }
        _ => (number, 0),
    };
    let digits = mantissa.strip_prefix(['+', '-']).unwrap_or(mantissa);
    let well_formed = !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && digits.matches('.').count() <= 1
        && digits != ".";
    if !well_formed {
        return Err(Bad::Syntax);
    }
    let v: f64 = mantissa.parse().map_err(|_| Bad::Syntax)?;
    let v = v * scale * 10f64.powi(exponent);
    if v < 0.0 {
        Err(Bad::Negative)
    } else if v.is_nan() || v > MAX {
        Err(Bad::TooLarge)
    } else {
        Ok(v)
    }
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
                Quantity::parse(&v.to_string()).map_err(E::custom)
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
        for bad in [
            "", "abc", "1.2.3", "-1", "Gi", "1 Gi", "1gi", ".", "1e", "1e+",
        ] {
            assert!(Quantity::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn says_why_a_quantity_is_rejected() {
        let why = |s| Quantity::parse(s).unwrap_err();
        assert!(why("-1Gi").contains("negative"), "{}", why("-1Gi"));
        assert!(why("99999999999Ei").contains("larger"));
        assert!(why("1e400").contains("larger"));
        assert!(why("1e99999999999").contains("larger"));
        assert!(why("18446744073709551615").contains("larger"));
        assert!(Quantity::parse("8Ei").is_ok());
        assert!(Quantity::parse("1e-99999999999").is_ok(), "rounds to 0");
        assert!(
            why("2GB").ends_with("did you mean `2Gi` or `2G`?"),
            "{}",
            why("2GB")
        );
        assert!(why("512mb").ends_with("did you mean `512Mi` or `512M`?"));
        assert!(why("1gi").ends_with("did you mean `1Gi`?"));
        assert!(!why("lots").contains("did you mean"));
    }
}
