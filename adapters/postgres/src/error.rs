//! tokio-postgres errors to hektor's stable codes, with no secret in the message.

use hektor_adapters_api::{AdapterError, AdapterErrorCode, Position};
use tokio_postgres::error::SqlState;

/// The stage at which an error happened, which decides the code of errors that carry no
/// SQLSTATE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Connecting and authenticating.
    Connect,
    /// Preparing the query.
    Prepare,
    /// Binding the parameters.
    Bind,
    /// Fetching rows.
    Fetch,
}

/// Maps a tokio-postgres error. `secrets` (the password) are cut out of the message in
/// case a server or library echoes them.
pub fn map_error(e: &tokio_postgres::Error, stage: Stage, position: Position, secrets: &[&str]) -> AdapterError {
    use AdapterErrorCode as C;
    let (code, message) = match e.as_db_error() {
        Some(db) => {
            let state = db.code();
            let class = &state.code()[..2];
            let code = if *state == SqlState::UNDEFINED_TABLE || *state == SqlState::INVALID_CATALOG_NAME {
                C::NotFound
            } else if class == "28" || *state == SqlState::INSUFFICIENT_PRIVILEGE {
                C::Auth
            } else if class == "08" || class == "53" || class == "57" {
                C::Connect
            } else if stage == Stage::Bind && class == "22" {
                C::InvalidArg
            } else {
                C::Parse
            };
            let mut m = format!("{} (SQLSTATE {})", db.message(), state.code());
            if let Some(d) = db.detail() {
                m.push_str(&format!("; {d}"));
            }
            if let Some(h) = db.hint() {
                m.push_str(&format!("; hint: {h}"));
            }
            (code, m)
        }
        None => {
            let text = chain(e);
            let code = if text.contains("password missing") || text.contains("authentication") {
                C::Auth
            } else if e.is_closed() || stage == Stage::Connect || stage == Stage::Fetch {
                C::Connect
            } else {
                C::Parse
            };
            (code, text)
        }
    };
    AdapterError::new(code, scrub(&message, secrets), position)
}

/// The error's message followed by its causes (`error connecting to server: Connection refused`).
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(&format!(": {c}"));
        cause = c.source();
    }
    text
}

/// Replaces every occurrence of each non-empty secret by `***`.
pub fn scrub(message: &str, secrets: &[&str]) -> String {
    let mut m = message.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 3) {
        m = m.replace(*s, "***");
    }
    m
}
