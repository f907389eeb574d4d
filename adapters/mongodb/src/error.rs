//! MongoDB driver errors to hektor's stable codes, with no secret in the message.

use hektor_adapters_api::{AdapterError, AdapterErrorCode, Position, scrub_secrets};
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
    AdapterError::new(code, scrub_secrets(&message, secrets), position)
}

