//! The one error type of the engine, with stable codes.
//!
//! Every failure the engine can report is an [`Error`]: a stable machine-readable
//! [`ErrorCode`] (what the JavaScript layer exposes as `err.code`), a human message,
//! optional structured [`Location`] details (which file, row, field) and an optional
//! cause chain. Messages never contain secrets: callers redact connection strings
//! before building an error.

use std::fmt;

/// Stable error codes. Their string form (`ERR_*`) is part of the public API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// An argument is malformed or out of range (bad id, NaN in a vector, unknown filter operator...).
    InvalidArg,
    /// A vector's length differs from the collection's dimension.
    DimensionMismatch,
    /// Input data could not be parsed.
    Parse,
    /// A server could not be reached.
    Connect,
    /// A server refused the credentials.
    Auth,
    /// A collection (or other named thing) does not exist.
    NotFound,
    /// A collection with this name already exists.
    Exists,
    /// Another process holds the database's writer lock.
    Locked,
    /// The operation was cancelled through an abort signal.
    Aborted,
    /// An operating-system I/O error.
    Io,
    /// A file of the store is damaged (torn, truncated, wrong checksum).
    Corrupt,
    /// The database or collection was written by a newer version of hektor (its format
    /// version is higher than this version reads). Nothing was changed.
    Version,
    /// The database or collection was closed.
    Closed,
    /// A write was attempted on a read-only database.
    ReadOnly,
    /// A configured limit was exceeded.
    Limit,
    /// A user callback (custom embedder, reranker or generator) threw or rejected.
    Callback,
    /// A bug: an invariant broke or a panic was caught.
    Internal,
}

impl ErrorCode {
    /// The stable string form, e.g. `"ERR_INVALID_ARG"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidArg => "ERR_INVALID_ARG",
            ErrorCode::DimensionMismatch => "ERR_DIMENSION_MISMATCH",
            ErrorCode::Parse => "ERR_PARSE",
            ErrorCode::Connect => "ERR_CONNECT",
            ErrorCode::Auth => "ERR_AUTH",
            ErrorCode::NotFound => "ERR_NOT_FOUND",
            ErrorCode::Exists => "ERR_EXISTS",
            ErrorCode::Locked => "ERR_LOCKED",
            ErrorCode::Aborted => "ERR_ABORTED",
            ErrorCode::Io => "ERR_IO",
            ErrorCode::Corrupt => "ERR_CORRUPT",
            ErrorCode::Version => "ERR_VERSION",
            ErrorCode::Closed => "ERR_CLOSED",
            ErrorCode::ReadOnly => "ERR_READ_ONLY",
            ErrorCode::Limit => "ERR_LIMIT",
            ErrorCode::Callback => "ERR_CALLBACK",
            ErrorCode::Internal => "ERR_INTERNAL",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an error happened, when that is known. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    /// A file path, a collection name or a redacted server address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// 0-based row / record number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
    /// Byte offset in the input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub byte: Option<u64>,
    /// Field name or dotted path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl Location {
    /// True when no field is set.
    pub fn is_empty(&self) -> bool {
        self.source.is_none() && self.row.is_none() && self.byte.is_none() && self.field.is_none()
    }
}

/// The engine's error: a code, a message, an optional location and cause chain.
#[derive(Debug, Clone)]
pub struct Error {
    code: ErrorCode,
    message: String,
    location: Location,
    causes: Vec<String>,
}

/// `Result` with the engine's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error { code, message: message.into(), location: Location::default(), causes: Vec::new() }
    }
    /// Shorthand for [`ErrorCode::InvalidArg`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArg, message)
    }
    /// Shorthand for [`ErrorCode::Internal`].
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }
    /// Shorthand for [`ErrorCode::Corrupt`] naming the damaged file.
    pub fn corrupt(file: &std::path::Path, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Corrupt, format!("{}: {}", file.display(), message.into()))
            .with_source(file.display().to_string())
    }
    /// An I/O error with what was being done, e.g. `io(e, "opening /x/y")`.
    pub fn io(err: std::io::Error, context: impl fmt::Display) -> Self {
        Error::new(ErrorCode::Io, format!("{context}: {err}")).with_cause(err.to_string())
    }
    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }
    /// The human message (without location or causes).
    pub fn message(&self) -> &str {
        &self.message
    }
    /// Where it happened.
    pub fn location(&self) -> &Location {
        &self.location
    }
    /// Underlying causes, outermost first.
    pub fn causes(&self) -> &[String] {
        &self.causes
    }
    /// Sets the location's source.
    pub fn with_source(mut self, source: impl Into<String>) -> Self {
        self.location.source = Some(source.into());
        self
    }
    /// Sets the location's row.
    pub fn with_row(mut self, row: u64) -> Self {
        self.location.row = Some(row);
        self
    }
    /// Sets the location's field.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.location.field = Some(field.into());
        self
    }
    /// Sets the location's byte offset.
    pub fn with_byte(mut self, byte: u64) -> Self {
        self.location.byte = Some(byte);
        self
    }
    /// Replaces the whole location.
    pub fn with_location(mut self, location: Location) -> Self {
        self.location = location;
        self
    }
    /// Appends a cause to the chain.
    pub fn with_cause(mut self, cause: impl Into<String>) -> Self {
        self.causes.push(cause.into());
        self
    }
    /// Prefixes the message with context, e.g. the collection name.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        let l = &self.location;
        if !l.is_empty() {
            let mut parts = Vec::new();
            if let Some(s) = &l.source {
                parts.push(s.clone());
            }
            if let Some(r) = l.row {
                parts.push(format!("row {r}"));
            }
            if let Some(b) = l.byte {
                parts.push(format!("byte {b}"));
            }
            if let Some(fl) = &l.field {
                parts.push(format!("field '{fl}'"));
            }
            write!(f, " (at {})", parts.join(", "))?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::new(ErrorCode::Io, e.to_string())
    }
}

/// Shorthand: `bail!(InvalidArg, "bad {}", x)` returns an [`Error`].
#[macro_export]
macro_rules! bail {
    ($code:ident, $($arg:tt)*) => {
        return Err($crate::error::Error::new($crate::error::ErrorCode::$code, format!($($arg)*)))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_includes_code_and_location() {
        let e = Error::new(ErrorCode::Parse, "unexpected quote").with_source("a.csv").with_row(3).with_field("title");
        assert_eq!(e.to_string(), "ERR_PARSE: unexpected quote (at a.csv, row 3, field 'title')");
        assert_eq!(e.code().as_str(), "ERR_PARSE");
    }
}
