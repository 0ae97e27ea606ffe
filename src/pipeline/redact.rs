//! The secret values this process has seen — the registry password, and
//! every value of every Secret it applies or reads back — and the one place
//! that masks them: whatever the terminal module prints (command output,
//! messages, progress, errors, panics) goes through [`redact`], so a value
//! that slipped into an API error message or a log line still comes out as
//! `***`. Only `diff --show-secrets`, which asks to see them, turns it off.
//! Pure apart from the process-wide list.

use std::borrow::Cow;
use std::sync::RwLock;

use base64::Engine;
use serde_json::Value;

use crate::pipeline::manifest::generated::generated_keys;

/// Values shorter than this are not masked: they would hide ordinary words.
const SHORTEST: usize = 8;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());
static REVEAL: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Remembers `value` (and its base64 form) as secret.
pub fn register(value: &str) {
    let value = value.trim();
    if value.len() < SHORTEST {
        return;
    }
    let encoded = B64.encode(value);
    {
        let known = SECRETS.read().expect("not poisoned");
        if known.iter().any(|s| s == value) && known.contains(&encoded) {
            return;
        }
    }
    let mut secrets = SECRETS.write().expect("not poisoned");
    for v in [value.to_string(), encoded] {
        if !secrets.contains(&v) {
            // Longest first, so a value containing another is masked whole.
            let at = secrets.partition_point(|s| s.len() >= v.len());
            secrets.insert(at, v);
        }
    }
}

/// Key names whose values are secret wherever they appear.
const SECRET_KEYS: [&str; 7] = [
    "password",
    "passwd",
    "token",
    "secret",
    "key",
    "auth",
    "credential",
];

/// Whether a key's name says its value is a secret (`password`, `token`,
/// `secretKey`...).
pub fn secret_key(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    SECRET_KEYS.iter().any(|s| lower.contains(s))
}

/// Remembers the secret values of a Secret object: the keys it generates
/// (`cnvrgctl.io/generated-keys`), keys named like secrets (`password`,
/// `token`, `...key`...) and registry credentials, in `data` (base64 and
/// decoded) and `stringData`. Other values (user names, hosts) stay
/// readable; anything that is not a Secret is ignored.
pub fn register_secret(object: &Value) {
    if object["kind"] != "Secret" {
        return;
    }
    let generated: Vec<String> = generated_keys(object)
        .into_iter()
        .map(|entry| entry.key)
        .collect();
    let secret = |key: &str| {
        let lower = key.to_ascii_lowercase();
        generated.iter().any(|g| g == key) || lower.starts_with(".docker") || secret_key(key)
    };
    for (field, encoded) in [("data", true), ("stringData", false)] {
        let Some(data) = object[field].as_object() else {
            continue;
        };
        for value in data.iter().filter(|(k, _)| secret(k)).map(|(_, v)| v) {
            let Some(value) = value.as_str() else {
                continue;
            };
            register(value);
            let text = match encoded {
                true => B64
                    .decode(value)
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok()),
                false => Some(value.to_string()),
            };
            if let Some(text) = text {
                register(&text);
                registry_credentials(&text);
            }
        }
    }
}

/// The `auth` and `password` of each registry in a docker config JSON.
fn registry_credentials(text: &str) {
    let Ok(config) = serde_json::from_str::<Value>(text) else {
        return;
    };
    for registry in config["auths"]
        .as_object()
        .into_iter()
        .flat_map(|a| a.values())
    {
        for field in ["auth", "password", "identitytoken"] {
            if let Some(value) = registry[field].as_str() {
                register(value);
            }
        }
    }
}

/// Shows secrets from now on (`--show-secrets`).
pub fn reveal() {
    REVEAL.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// `text` with every remembered secret replaced by `***`.
pub fn redact(text: &str) -> Cow<'_, str> {
    if REVEAL.load(std::sync::atomic::Ordering::Relaxed) {
        return Cow::Borrowed(text);
    }
    let secrets = SECRETS.read().expect("not poisoned");
    let mut out = Cow::Borrowed(text);
    for secret in secrets.iter() {
        if out.contains(secret.as_str()) {
            out = Cow::Owned(out.replace(secret.as_str(), "***"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_values_are_masked_in_any_text() {
        register("hunter2-but-longer");
        register_secret(&json!({
            "kind": "Secret",
            "data": {"password": B64.encode("Zq8w1x9Lk2pR")},
            "stringData": {"token": "tok-3f9a8b7c6d"},
        }));
        register("short");
        register_secret(&json!({
            "kind": "Secret",
            "metadata": {"annotations": {"cnvrgctl.io/generated-keys": "DB_PASS:hex32"}},
            "stringData": {"DB_USER": "postgres-admin", "DB_PASS": "0123456789abcdef"},
        }));
        let text = format!(
            "error: Secret \"x\" is invalid: data[password]: Invalid value: \"{}\"; raw Zq8w1x9Lk2pR, \
             tok-3f9a8b7c6d, hunter2-but-longer ({}), short",
            B64.encode("Zq8w1x9Lk2pR"),
            B64.encode("hunter2-but-longer"),
        );
        assert_eq!(
            redact(&text),
            "error: Secret \"x\" is invalid: data[password]: Invalid value: \"***\"; raw ***, ***, *** (***), short"
        );
        assert!(matches!(redact("nothing here"), Cow::Borrowed(_)));
        assert_eq!(
            redact("user postgres-admin, pass 0123456789abcdef"),
            "user postgres-admin, pass ***",
            "user names stay readable"
        );
        let auth = B64.encode("acme:registry-pw-1");
        register_secret(&json!({
            "kind": "Secret",
            "data": {".dockerconfigjson": B64.encode(format!(r#"{{"auths":{{"docker.io":{{"auth":"{auth}"}}}}}}"#))},
        }));
        assert_eq!(redact(&format!("auth {auth}")), "auth ***");
    }
}
