//! MongoDB driver errors to hektor's stable codes, with no secret in the message.

use hektor_adapters_api::{AdapterError, AdapterErrorCode, Position};
use mongodb::error::ErrorKind;

/// Maps a driver error; `secrets` (the password) are cut out of the message.
pub fn map_error(e: &mongodb::error::Error, position: Position, secrets: &[&str]) -> AdapterError {
    use AdapterErrorCode as C;
    let (code, message) = match &*e.kind {
        ErrorKind::ServerSelection { message, .. } => (C::Connect, format!("no reachable server: {message}")),
        ErrorKind::Io(io) => (C::Connect, format!("I/O error: {io}")),
        ErrorKind::DnsResolve { message, .. } => (C::Connect, format!("cannot resolve the host: {message}")),
        ErrorKind::ConnectionPoolCleared { message, .. } => (C::Connect, message.clone()),
        ErrorKind::Authentication { message, .. } => (C::Auth, format!("authentication failed: {message}")),
        ErrorKind::InvalidArgument { message, .. } => (C::InvalidArg, message.clone()),
        ErrorKind::InvalidTlsConfig { message, .. } => (C::InvalidArg, format!("invalid TLS settings: {message}")),
        ErrorKind::Command(c) => {
            let code = match c.code {
                // Unauthorized, AuthenticationFailed, Atlas' bad auth
                13 | 18 | 8000 => C::Auth,
                // NamespaceNotFound
                26 => C::NotFound,
                // BadValue, FailedToParse, TypeMismatch, InvalidOptions, unknown operator and friends
                2 | 9 | 14 | 72 => C::InvalidArg,
                _ => C::Parse,
            };
            (code, format!("{} (code {} {})", c.message, c.code, c.code_name))
        }
        ErrorKind::BsonDeserialization(_) | ErrorKind::InvalidResponse { .. } => (C::Parse, e.kind.to_string()),
        other => (C::Connect, other.to_string()),
    };
    AdapterError::new(code, scrub(&message, secrets), position)
}

/// Replaces every occurrence of each secret (3 characters or more) by `***`.
pub fn scrub(message: &str, secrets: &[&str]) -> String {
    let mut m = message.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 3) {
        m = m.replace(*s, "***");
    }
    m
}

/// The password of a `mongodb://user:pass@host` URI, raw and percent-decoded, to scrub.
pub fn uri_passwords(uri: &str) -> Vec<String> {
    let Some(start) = uri.find("://").map(|i| i + 3) else { return Vec::new() };
    let rest = &uri[start..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..end].rfind('@') else { return Vec::new() };
    let Some((_, pass)) = rest[..at].split_once(':') else { return Vec::new() };
    let mut out = vec![pass.to_string()];
    let decoded = percent_decode(pass);
    if decoded != pass {
        out.push(decoded);
    }
    out
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_to_scrub() {
        assert_eq!(uri_passwords("mongodb://u:p%40ss@h1,h2/db"), vec!["p%40ss".to_string(), "p@ss".to_string()]);
        assert!(uri_passwords("mongodb://h/db").is_empty());
    }
}
