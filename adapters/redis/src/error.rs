//! redis-rs errors to hektor's stable codes, with no secret in the message.

use hektor_adapters_api::{AdapterError, AdapterErrorCode, Position, scrub_secrets};
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
    AdapterError::new(code_of(e), scrub_secrets(&e.to_string(), secrets), position)
}

