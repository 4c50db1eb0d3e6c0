//! What makes a name secret-like: the one test behind labels in text, JSON keys and XML
//! tags. Names are compared by words, so case and separators do not matter and ordinary
//! words that merely contain a secret word ("tokenize", "passwordless") do not count.

/// Name endings that make a label secret, also glued to the word before (`csrftoken`,
/// `DBPASSWORD`, `xApiKey`). Compared with the name's words joined and lowercased.
const SECRET_ENDINGS: [&str; 21] = [
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "accesskey",
    "secretkey",
    "privatekey",
    "signingkey",
    "encryptionkey",
    "masterkey",
    "sshkey",
    "authorization",
    "cookie",
    "sessionid",
    "sessid",
    "credential",
    "credentials",
    "signature",
];

/// Last words that make a label secret only on their own (`session`, `SMTP_PASS`).
const WHOLE_WORD_ENDINGS: [&str; 2] = ["session", "pass"];

/// Words that make a label secret wherever they stand (`password_hash`, `secret_key_base`),
/// unless the last word says the value is only about the secret (`password_changed_at`).
const SECRET_WORDS: [&str; 4] = ["password", "passwd", "passphrase", "secret"];

/// Last words of labels that describe a secret without holding it.
const METADATA_WORDS: [&str; 36] = [
    "type",
    "types",
    "count",
    "length",
    "len",
    "size",
    "name",
    "names",
    "expires",
    "expiry",
    "expiration",
    "ttl",
    "at",
    "in",
    "timeout",
    "policy",
    "hint",
    "required",
    "enabled",
    "set",
    "present",
    "valid",
    "strength",
    "rules",
    "min",
    "max",
    "version",
    "changed",
    "updated",
    "created",
    "field",
    "label",
    "path",
    "file",
    "arn",
    "ref",
];

/// Whether a field, header, variable or JSON key of this name holds a secret. Case and
/// separators do not matter: `password`, `DB_PASSWORD`, `x-api-key`, `apiKey`,
/// `Authorization`, `Set-Cookie`, `session`, `JSESSIONID`, `smtp_pass` and
/// `aws_secret_access_key` do; `token_type`, `password_changed_at`, `session_count`, `tokens`,
/// `bypass` and `passwordless` do not.
pub fn is_secret_name(name: &str) -> bool {
    let words = words(name);
    let Some(last) = words.last() else {
        return false;
    };
    let joined = words.concat();
    // Whole words only: "possession" ends with "session", "bypass" with "pass".
    if WHOLE_WORD_ENDINGS.contains(&last.as_str())
        || SECRET_ENDINGS.iter().any(|end| joined.ends_with(end))
    {
        return true;
    }
    !METADATA_WORDS.contains(&last.as_str())
        && words
            .iter()
            .any(|word| SECRET_WORDS.iter().any(|secret| word.ends_with(secret)))
}

/// Lowercase words of a name, split at non-alphanumerics and at camelCase humps.
fn words(name: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            words.extend((!current.is_empty()).then(|| std::mem::take(&mut current)));
            previous_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && previous_lower {
            words.push(std::mem::take(&mut current));
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        current.push(c.to_ascii_lowercase());
    }
    words.extend((!current.is_empty()).then_some(current));
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_follow_words_not_substrings() {
        for name in [
            "password",
            "PASSWORD",
            "db_password",
            "DB-PASSWORD",
            "passwd",
            "pwd",
            "secret",
            "client_secret",
            "clientSecret",
            "token",
            "access_token",
            "accessToken",
            "csrftoken",
            "api_key",
            "api-key",
            "apiKey",
            "APIKEY",
            "X-Api-Key",
            "access_key",
            "private_key",
            "authorization",
            "Proxy-Authorization",
            "cookie",
            "Set-Cookie",
            "session",
            "sessionId",
            "JSESSIONID",
            "aws_secret_access_key",
            "password_hash",
            "secret_key_base",
            "pass",
            "SMTP_PASS",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in [
            "",
            "user",
            "email",
            "key",
            "tokens",
            "token_type",
            "token_count",
            "tokenize",
            "passwordless",
            "password_changed_at",
            "password_file",
            "secret_name",
            "session_count",
            "sessions",
            "possession",
            "primary_key",
            "cache_key",
            "monkey",
            "bypass",
        ] {
            assert!(!is_secret_name(name), "{name}");
        }
    }
}
