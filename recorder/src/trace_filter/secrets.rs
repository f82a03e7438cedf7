//! The builtin secret-name rule.
//!
//! Names are split into whole tokens (on `_`, `-`, digits, other punctuation and camelCase
//! boundaries) and compared case-insensitively, so `DB_PASSWORD` and `apiKey` are secrets
//! while `company`, `passage` or `tokenizer_count` are not: substring matching (what the
//! upstream recorder does) redacts far too much. Runs without allocating.

/// Tokens that make a name secret on their own.
const SECRET_TOKENS: &[&str] = &[
    "password",
    "passwords",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "secrets",
    "token",
    "apikey",
    "apikeys",
    "authtoken",
    "sessionid",
    "accesskey",
    "privatekey",
    "creditcard",
];

/// Adjacent token pairs that make a name secret.
const SECRET_PAIRS: &[(&str, &str)] = &[
    ("api", "key"),
    ("api", "keys"),
    ("auth", "token"),
    ("session", "id"),
    ("access", "key"),
    ("private", "key"),
    ("credit", "card"),
];

/// True when `name` contains a secret token or token pair.
pub fn is_secret_name(name: &str) -> bool {
    let mut prev: Option<&str> = None;
    for tok in Tokens::new(name) {
        if SECRET_TOKENS.iter().any(|s| s.eq_ignore_ascii_case(tok)) {
            return true;
        }
        if let Some(p) = prev {
            if SECRET_PAIRS
                .iter()
                .any(|(a, b)| a.eq_ignore_ascii_case(p) && b.eq_ignore_ascii_case(tok))
            {
                return true;
            }
        }
        prev = Some(tok);
    }
    false
}

/// Iterator over the word tokens of an identifier.
pub struct Tokens<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Tokens<'a> {
    /// Tokens of `s`.
    pub fn new(s: &'a str) -> Self {
        Self { s, pos: 0 }
    }
}

/// ASCII non-letters separate tokens; non-ASCII bytes stay inside words.
fn is_sep(b: u8) -> bool {
    b.is_ascii() && !b.is_ascii_alphabetic()
}

impl<'a> Iterator for Tokens<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let b = self.s.as_bytes();
        while b.get(self.pos).is_some_and(|&c| is_sep(c)) {
            self.pos += 1;
        }
        let start = self.pos;
        if start >= b.len() {
            return None;
        }
        self.pos += 1;
        while let Some(&c) = b.get(self.pos) {
            if is_sep(c) {
                break;
            }
            if c.is_ascii_uppercase() {
                let prev = b.get(self.pos - 1).copied().unwrap_or(b'_');
                if prev.is_ascii_lowercase() {
                    break; // camelCase: `apiKey` -> api | Key
                }
                if prev.is_ascii_uppercase()
                    && b.get(self.pos + 1).is_some_and(|n| n.is_ascii_lowercase())
                {
                    break; // acronym: `APIKey` -> API | Key
                }
            }
            self.pos += 1;
        }
        // Splits happen only at ASCII bytes, so both ends are char boundaries.
        self.s.get(start..self.pos)
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;

    #[test]
    fn tokenizes() {
        let t: Vec<_> = Tokens::new("DB_PASSWORD2apiKeyHTTPServer-x").collect();
        assert_eq!(t, ["DB", "PASSWORD", "api", "Key", "HTTP", "Server", "x"]);
        let t: Vec<_> = Tokens::new("__init__").collect();
        assert_eq!(t, ["init"]);
        assert_eq!(Tokens::new("").count(), 0);
        assert_eq!(Tokens::new("_9-").count(), 0);
        let t: Vec<_> = Tokens::new("clé_secrète").collect();
        assert_eq!(t, ["clé", "secrète"]);
    }

    #[test]
    fn secret_names() {
        for n in [
            "api_key",
            "password",
            "auth_token",
            "session_id",
            "apiKey",
            "DB_PASSWORD",
            "APIKey",
            "apikey",
            "pwd",
            "user_passwd",
            "client-secret",
            "secretValue",
            "accessKey",
            "private_key_pem",
            "credit_card_number",
            "token",
            "refreshToken",
            "password2",
            "SESSIONID",
            "x_api_keys",
        ] {
            assert!(is_secret_name(n), "{n} should be secret");
        }
    }

    #[test]
    fn non_secret_names() {
        for n in [
            "company",
            "passage",
            "tokenizer_count",
            "spanner",
            "compass",
            "keyboard",
            "api",
            "key",
            "session",
            "sessions_open",
            "identity",
            "passenger",
            "secretary",
            "tokenize",
            "pwdx",
            "access",
            "apple_key",
            "",
            "__name__",
            "card",
        ] {
            assert!(!is_secret_name(n), "{n} should not be secret");
        }
    }
}
