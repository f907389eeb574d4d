//! Options of the `parquet` kind.

use serde::Deserialize;

/// Options of the `parquet` source.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ParquetOptions {
    /// Rows decoded per Arrow batch. Default: the `max` of the first `next_batch` call
    /// (the ingest batch size), so one decoded batch feeds one ingest batch.
    pub batch_size: Option<usize>,
    /// Row groups to read (0-based indices, in the order given). Default: all of them.
    /// Rows keep their position in the whole file, so generated ids (`<file>:<row>`) are
    /// the same whether a file is ingested whole or row group by row group.
    pub row_groups: Option<Vec<usize>>,
}
