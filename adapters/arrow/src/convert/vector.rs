//! Native decoding of float list columns to `Vec<f32>`, without going through JSON.
//!
//! A vector column is a `FixedSizeList`, `List`, `LargeList`, `ListView` or
//! `LargeListView` of `Float32`, `Float16` or `Float64` (converted to `f32`). A null list
//! is "no vector"; a null element inside a list is an error for that row.

use arrow::array::{Array, AsArray, OffsetSizeTrait, PrimitiveArray};
use arrow::compute::cast;
use arrow::datatypes::{ArrowPrimitiveType, DataType, Float16Type, Float32Type, Float64Type};
use arrow::error::ArrowError;

/// One row's decoded vector: `Ok(None)` for a null, `Err(reason)` for a list that is not a
/// usable vector (a null element).
pub type VectorSlot = Result<Option<Vec<f32>>, String>;

/// Checks that a column of type `dt` can be decoded as vectors; the error says what it is
/// and what is expected.
pub fn check_vector_type(dt: &DataType) -> Result<(), String> {
    let element = match dt {
        DataType::FixedSizeList(f, _) | DataType::List(f) | DataType::LargeList(f) | DataType::ListView(f) | DataType::LargeListView(f) => {
            f.data_type()
        }
        other => return Err(format!("a vector column must be a list or fixed_size_list of float32, float16 or float64, found {other}")),
    };
    match element {
        DataType::Float32 | DataType::Float16 | DataType::Float64 => Ok(()),
        other => Err(format!("a vector column must hold float32, float16 or float64 elements, found a list of {other}")),
    }
}

/// Decodes every row of `array` (one of the types [`check_vector_type`] accepts).
pub fn decode_vectors(array: &dyn Array) -> Result<Vec<VectorSlot>, ArrowError> {
    let n = array.len();
    match array.data_type() {
        DataType::FixedSizeList(_, size) => {
            let a = array.as_fixed_size_list();
            let size = (*size).max(0) as usize;
            let rows = (0..n).map(|i| (a.is_null(i), i * size, size));
            gather(a.values().as_ref(), rows)
        }
        DataType::List(_) => list::<i32>(array),
        DataType::LargeList(_) => list::<i64>(array),
        DataType::ListView(f) => decode_vectors(cast(array, &DataType::List(f.clone()))?.as_ref()),
        DataType::LargeListView(f) => decode_vectors(cast(array, &DataType::LargeList(f.clone()))?.as_ref()),
        other => Err(ArrowError::InvalidArgumentError(format!("not a vector column: {other}"))),
    }
}

fn list<O: OffsetSizeTrait>(array: &dyn Array) -> Result<Vec<VectorSlot>, ArrowError> {
    let a = array.as_list::<O>();
    let offsets = a.value_offsets();
    let rows = offsets.windows(2).enumerate().map(|(i, w)| (a.is_null(i), w[0].as_usize(), (w[1] - w[0]).as_usize()));
    gather(a.values().as_ref(), rows)
}

fn gather(values: &dyn Array, rows: impl Iterator<Item = (bool, usize, usize)>) -> Result<Vec<VectorSlot>, ArrowError> {
    Ok(match values.data_type() {
        DataType::Float32 => copy(values.as_primitive::<Float32Type>(), rows, |v| v),
        DataType::Float64 => copy(values.as_primitive::<Float64Type>(), rows, |v| v as f32),
        DataType::Float16 => copy(values.as_primitive::<Float16Type>(), rows, |v| v.to_f32()),
        other => return Err(ArrowError::InvalidArgumentError(format!("vector elements must be floats, found {other}"))),
    })
}

fn copy<T: ArrowPrimitiveType>(
    a: &PrimitiveArray<T>,
    rows: impl Iterator<Item = (bool, usize, usize)>,
    conv: impl Fn(T::Native) -> f32,
) -> Vec<VectorSlot> {
    let values = a.values();
    let has_nulls = a.null_count() > 0;
    rows.map(|(null, start, len)| {
        if null {
            return Ok(None);
        }
        let end = start.checked_add(len).filter(|e| *e <= values.len()).ok_or_else(|| "list offsets point past the values".to_string())?;
        if has_nulls {
            if let Some(j) = (start..end).find(|j| a.is_null(*j)) {
                return Err(format!("vector has a null element at index {}", j - start));
            }
        }
        Ok(Some(values[start..end].iter().map(|v| conv(*v)).collect()))
    })
    .collect()
}
