//! Options of the `arrow` and `feather` kinds.

use serde::Deserialize;

/// Options of the `arrow` and `feather` sources.
///
/// There are none yet: the IPC file or stream format is detected from the file's first
/// bytes, compression (LZ4 frame, ZSTD) from its metadata, and the batch sizes are the
/// file's own (re-sliced to the caller's `max`). Unknown keys are rejected with
/// `ERR_INVALID_ARG` so that a typo is not silently ignored.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ArrowOptions {}
