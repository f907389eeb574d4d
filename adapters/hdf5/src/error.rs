//! Turning HDF5 library errors into [`AdapterError`]s with stable codes.

use hdf5::{MajorErrorCode, MinorErrorCode};
use hektor_adapters_api::{AdapterError, AdapterErrorCode, Position};

/// The code a library error maps to: `ERR_IO` when the file driver's system read or seek
/// failed (and not because the file ends early), else `ERR_PARSE`: the library tags almost
/// every failure on the way up as a "read error", but what broke is the file's bytes (not
/// HDF5, truncated, a corrupt header or chunk).
pub(crate) fn code_of(err: &hdf5::Error) -> AdapterErrorCode {
    let Some(stack) = err.stack() else { return AdapterErrorCode::Parse };
    let system_failure = stack.iter().any(|f| {
        f.major_code() == MajorErrorCode::VirtualFileLayer && matches!(f.minor_code(), MinorErrorCode::ReadError | MinorErrorCode::SeekError)
    });
    let short_file = stack.contains_minor(MinorErrorCode::Truncated) || stack.contains_minor(MinorErrorCode::Overflow);
    if system_failure && !short_file {
        AdapterErrorCode::Io
    } else {
        AdapterErrorCode::Parse
    }
}

/// A short reason for a failed file open, from the library's error stack.
pub(crate) fn open_reason(err: &hdf5::Error) -> String {
    match err.stack() {
        Some(s) if s.contains_minor(MinorErrorCode::NotHdf5) => "not an HDF5 file (no HDF5 signature found)".into(),
        Some(s) if s.contains_minor(MinorErrorCode::Truncated) => format!("truncated HDF5 file ({})", detail(err)),
        _ => format!("cannot open as HDF5: {}", detail(err)),
    }
}

/// The library's innermost message (where the failure started, e.g. `inflate() failed`),
/// without the function names of the outer frames.
pub(crate) fn detail(err: &hdf5::Error) -> String {
    match err.stack() {
        Some(s) => match s.last() {
            Some(f) => f.desc().to_owned(),
            None => err.to_string(),
        },
        None => err.to_string(),
    }
}

/// An [`AdapterError`] for a library error, with `what` saying what was being done.
pub(crate) fn h5(err: &hdf5::Error, what: &str, pos: Position) -> AdapterError {
    AdapterError::new(code_of(err), format!("{what}: {}", detail(err)), pos)
}
