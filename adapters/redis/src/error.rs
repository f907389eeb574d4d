//! redis-rs errors to hektor's stable codes, with no secret in the message.

use hektor_adapters_api::{AdapterError, AdapterErrorCode, Position};
use redis::{ErrorKind, RedisError};

/// The code of a redis error.
pub fn code_of(e: &RedisError) -> AdapterErrorCode {
    use AdapterErrorCode as C;
    if e.kind() == ErrorKind::AuthenticationFailed || matches!(e.code(), Some("WRONGPASS" | "NOAUTH" | "NOPERM")) {
        C::Auth
    } else if e.is_connection_refusal() || e.is_io_error() || e.is_timeout() || e.is_connection_dropped() {
        C::Connect
    } else if e.kind() == ErrorKind::InvalidClientConfig || e.code() == Some("WRONGTYPE") {
        C::InvalidArg
    } else {
        C::Parse
    }
}

/// Maps a redis error; `secrets` (the password) are cut out of the message.
pub fn map_error(e: &RedisError, position: Position, secrets: &[&str]) -> AdapterError {
    AdapterError::new(code_of(e), scrub(&e.to_string(), secrets), position)
}

/// Replaces every occurrence of each secret (3 characters or more) by `***`.
pub fn scrub(message: &str, secrets: &[&str]) -> String {
    let mut m = message.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 3) {
        m = m.replace(*s, "***");
    }
    m
}

/// The password of a `redis://user:pass@host` URI, raw and percent-decoded, to scrub.
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
