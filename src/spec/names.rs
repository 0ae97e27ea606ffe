//! Kubernetes name rules (DNS-1123 labels and subdomains, DNS-1035 labels), with
//! messages that say which rule was broken.

/// Checks a DNS-1123 label (namespaces, pool names): lower-case alphanumerics and
/// `-`, starting and ending with an alphanumeric, at most `max` characters.
pub fn dns1123_label(name: &str, max: usize) -> Result<(), String> {
    check_label(name, max, false)
}

/// Checks a DNS-1035 label (names that become Service names): like DNS-1123 but
/// starting with a letter.
pub fn dns1035_label(name: &str, max: usize) -> Result<(), String> {
    check_label(name, max, true)
}

/// Checks a DNS-1123 subdomain (object names, domains): dot-separated labels, at
/// most 253 characters.
pub fn dns1123_subdomain(name: &str) -> Result<(), String> {
    if name.len() > 253 {
        return Err(format!("`{}` is longer than 253 characters", short(name)));
    }
    for label in name.split('.') {
        check_label(label, 63, false).map_err(|_| {
            format!(
                "`{}` is not a valid DNS subdomain (lower-case letters, digits, `-` and `.`, \
                 each part starting and ending with a letter or digit)",
                short(name)
            )
        })?;
    }
    Ok(())
}

fn check_label(name: &str, max: usize, letter_first: bool) -> Result<(), String> {
    let what = if letter_first {
        "must start with a lower-case letter"
    } else {
        "must start with a lower-case letter or digit"
    };
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if name.len() > max {
        return Err(format!(
            "`{}` is {} characters long; at most {max} are allowed",
            short(name),
            name.len()
        ));
    }
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    if let Some(bad) = name.chars().find(|c| !ok_char(*c)) {
        return Err(format!(
            "`{}` contains `{bad}`; only lower-case letters, digits and `-` are allowed",
            short(name)
        ));
    }
    let first = name.chars().next().unwrap_or('-');
    if (letter_first && !first.is_ascii_lowercase()) || first == '-' {
        return Err(format!("`{}` {what}", short(name)));
    }
    if name.ends_with('-') {
        return Err(format!("`{}` must end with a letter or digit", short(name)));
    }
    Ok(())
}

/// A value as quoted in a message: at most 64 characters.
pub fn short(value: &str) -> String {
    match value.char_indices().nth(64) {
        Some((i, _)) => format!("{}…", &value[..i]),
        None => value.to_string(),
    }
}

/// Checks a shell environment variable name.
pub fn env_var(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not an environment variable name (letters, digits and `_`, not starting with a digit)",
            short(name)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert!(dns1123_label("team-a", 63).is_ok());
        assert!(dns1123_label("1team", 63).is_ok());
        assert!(dns1035_label("1team", 63).is_err());
        for bad in ["Team", "team_a", "-a", "a-", "", "a.b"] {
            assert!(dns1123_label(bad, 63).is_err(), "{bad}");
        }
        assert!(dns1123_label(&"a".repeat(64), 63).is_err());
        assert!(dns1123_subdomain("ml.acme.example").is_ok());
        assert!(dns1123_subdomain("ml..acme").is_err());
        assert!(env_var("CNVRG_PASSWORD").is_ok());
        assert!(env_var("1X").is_err());
    }
}
