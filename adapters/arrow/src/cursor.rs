//! Re-batching: hands out a decoded record batch in slices of at most `max` rows.

use arrow::array::RecordBatch;

/// Holds the record batch being consumed and hands it out in zero-copy slices, so a
/// source can honour `next_batch(max)` whatever batch sizes the file was written with.
#[derive(Debug, Default)]
pub struct BatchCursor {
    batch: Option<RecordBatch>,
    offset: usize,
}

impl BatchCursor {
    /// An empty cursor.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rows not handed out yet.
    pub fn remaining(&self) -> usize {
        self.batch.as_ref().map_or(0, |b| b.num_rows() - self.offset)
    }

    /// Replaces the held batch (call when [`remaining`](Self::remaining) is 0).
    pub fn push(&mut self, batch: RecordBatch) {
        self.batch = Some(batch);
        self.offset = 0;
    }

    /// The next slice of at most `max` rows (at least one row when any remains), or `None`
    /// when the held batch is used up.
    pub fn take(&mut self, max: usize) -> Option<RecordBatch> {
        let remaining = self.remaining();
        if remaining == 0 {
            self.batch = None;
            return None;
        }
        let batch = self.batch.as_ref()?;
        let len = max.clamp(1, remaining);
        let slice = if self.offset == 0 && len == batch.num_rows() { batch.clone() } else { batch.slice(self.offset, len) };
        self.offset += len;
        Some(slice)
    }
}
