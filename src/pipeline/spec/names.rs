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

/// Checks a label key (`kubernetes.io/hostname`): an optional DNS-subdomain
/// prefix and `/`, then a name of at most 63 letters, digits, `-`, `_` and `.`
/// starting and ending with a letter or digit.
pub fn label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        dns1123_subdomain(prefix).map_err(|e| format!("key `{}`: prefix {e}", short(key)))?;
    }
    if !label_value_ok(name) || name.is_empty() {
        return Err(format!(
            "`{}` is not a label key (at most 63 letters, digits, `-`, `_` and `.` after an \
             optional `prefix/`, starting and ending with a letter or digit)",
            short(key)
        ));
    }
    Ok(())
}

/// Checks a label value: empty, or at most 63 letters, digits, `-`, `_` and
/// `.`, starting and ending with a letter or digit.
pub fn label_value(value: &str) -> Result<(), String> {
    if label_value_ok(value) {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a label value (at most 63 letters, digits, `-`, `_` and `.`, starting \
             and ending with a letter or digit)",
            short(value)
        ))
    }
}

fn label_value_ok(s: &str) -> bool {
    s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && (s.is_empty()
            || (s.starts_with(|c: char| c.is_ascii_alphanumeric())
                && s.ends_with(|c: char| c.is_ascii_alphanumeric())))
}

/// Checks an image reference (`registry.example/cnvrg/app:v4.8.2`) the way
/// container runtimes parse one: a name of at most 255 characters whose path
/// is lower-case, an optional tag of at most 128 characters, an optional
/// `@digest`.
pub fn image_reference(image: &str) -> Result<(), String> {
    let bad = |why: &str| {
        Err(format!(
            "`{}` is not an image reference: {why} (write it like `registry.example/cnvrg/app:v4.8.2`)",
            short(image)
        ))
    };
    if image.is_empty() {
        return bad("it is empty");
    }
    if image.contains(char::is_whitespace) || image.contains("://") {
        return bad("no scheme or spaces allowed");
    }
    let (rest, digest) = match image.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (image, None),
    };
    if let Some(digest) = digest {
        let ok = digest.split_once(':').is_some_and(|(alg, hex)| {
            !alg.is_empty()
                && !hex.is_empty()
                && alg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+._-".contains(c))
                && hex.chars().all(|c| c.is_ascii_hexdigit())
        });
        if !ok {
            return bad("the digest after `@` must be like `sha256:<hex>`");
        }
    }
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if name.len() > 255 {
        return bad(&format!(
            "its name is {} characters long; at most 255 are allowed",
            name.len()
        ));
    }
    if let Some(tag) = tag {
        let ok = !tag.is_empty()
            && tag.len() <= 128
            && !tag.starts_with(['.', '-'])
            && tag
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !ok {
            return bad("a tag is 1 to 128 letters, digits, `_`, `.` and `-`");
        }
    }
    let path = match name.split_once('/') {
        Some((host, path)) if host.contains('.') || host.contains(':') || host == "localhost" => {
            path
        }
        _ => name,
    };
    let path_ok = path.split('/').all(|part| {
        !part.is_empty()
            && part.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && part.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && part.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
            })
    });
    if !path_ok {
        return bad(
            "the repository path is lower-case letters, digits, `.`, `_` and `-`, separated by `/`",
        );
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
        assert!(label_key("kubernetes.io/hostname").is_ok());
        assert!(label_key("disktype").is_ok());
        for bad in ["", "a b", "Example.COM/x", "-x", "a/", &"k".repeat(64)] {
            assert!(label_key(bad).is_err(), "{bad}");
        }
        assert!(label_value("").is_ok() && label_value("node-1.a_b").is_ok());
        assert!(label_value("x-").is_err() && label_value(&"v".repeat(64)).is_err());
        for good in [
            "docker.io/cnvrg/app:v4.8.2",
            "app",
            "localhost:5000/a/b",
            "registry.local/cnvrg/app@sha256:0123abcd",
            "Registry.Example:5000/app:Tag_1",
        ] {
            assert!(image_reference(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "docker.io/Cnvrg/app",
            "https://x/app",
            "a b",
            "app:",
            "app:-x",
            "app@sha256",
            &format!("r.io/{}", "a".repeat(300)),
        ] {
            assert!(image_reference(bad).is_err(), "{bad}");
        }
        assert!(env_var("CNVRG_PASSWORD").is_ok());
        assert!(env_var("1X").is_err());
    }
}
