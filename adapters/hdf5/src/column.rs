//! A 1-D dataset (or a 2-D numeric one) read as one JSON value per row.

use hdf5::types::{EnumType, FloatSize, IntSize, TypeDescriptor, VarLenAscii, VarLenUnicode};
use hdf5::{Dataset, Datatype};
use std::io::Write;

use serde_json::{Number, Value};

use crate::raw;

/// One cell of a batch: its JSON value, or why the stored bytes are not one (a string
/// that is not UTF-8).
pub(crate) type Cell = Result<Value, String>;

/// How the values of a dataset are stored, and so how they are read.
#[derive(Clone, Debug)]
pub(crate) enum Kind {
    /// Signed integers of any width, read as `i64`.
    Int,
    /// Unsigned integers of any width, read as `u64`.
    UInt,
    /// float16 and float32, read as `f32` (then widened through their shortest decimal
    /// form, so that `0.1f32` is `0.1` in JSON, not `0.10000000149011612`).
    Float32,
    /// float64 (and wider), read as `f64`.
    Float64,
    /// HDF5's (and h5py's) boolean: an 8-bit enum `FALSE = 0, TRUE = 1`.
    Bool,
    /// Any other enum: read as the member name.
    Enum(EnumType),
    /// Fixed-length strings of `size` bytes (ASCII or UTF-8).
    FixedStr { size: usize, utf8: bool },
    /// Variable-length ASCII strings.
    VarAscii,
    /// Variable-length UTF-8 strings.
    VarUtf8,
}

impl Kind {
    /// The kind of a dataset's type, or a description of the type when it is not a
    /// scalar this source reads.
    pub(crate) fn of(desc: &TypeDescriptor) -> Result<Kind, String> {
        Ok(match desc {
            TypeDescriptor::Integer(_) => Kind::Int,
            TypeDescriptor::Unsigned(_) => Kind::UInt,
            TypeDescriptor::Float(FloatSize::U8) => Kind::Float64,
            TypeDescriptor::Float(_) => Kind::Float32,
            TypeDescriptor::Boolean => Kind::Bool,
            TypeDescriptor::Enum(e) => Kind::Enum(e.clone()),
            TypeDescriptor::FixedAscii(n) => Kind::FixedStr { size: *n, utf8: false },
            TypeDescriptor::FixedUnicode(n) => Kind::FixedStr { size: *n, utf8: true },
            TypeDescriptor::VarLenAscii => Kind::VarAscii,
            TypeDescriptor::VarLenUnicode => Kind::VarUtf8,
            other => return Err(type_name(other)),
        })
    }

    /// True for string kinds.
    pub(crate) fn is_string(&self) -> bool {
        matches!(self, Kind::FixedStr { .. } | Kind::VarAscii | Kind::VarUtf8)
    }

    /// True for numbers and booleans (the kinds a 2-D dataset may hold).
    pub(crate) fn is_numeric(&self) -> bool {
        matches!(self, Kind::Int | Kind::UInt | Kind::Float32 | Kind::Float64 | Kind::Bool)
    }
}

/// A readable name of an HDF5 type, for messages (`"int32"`, `"compound"`, ...).
pub(crate) fn type_name(desc: &TypeDescriptor) -> String {
    match desc {
        TypeDescriptor::Compound(_) => "compound".into(),
        TypeDescriptor::FixedArray(t, n) => format!("array of {n} {}", type_name(t)),
        TypeDescriptor::VarLenArray(t) => format!("variable-length array of {}", type_name(t)),
        TypeDescriptor::Reference(_) => "object reference".into(),
        TypeDescriptor::Float(FloatSize::U2) => "float16".into(),
        TypeDescriptor::Enum(_) => "enum".into(),
        other => other.to_string(),
    }
}

/// A dataset whose rows become one JSON value each: a scalar for a 1-D dataset, an array
/// for a 2-D numeric one.
#[derive(Debug)]
pub(crate) struct Column {
    /// The record field it fills (`id`, `text` or a metadata name).
    pub(crate) field: String,
    /// The dataset path, for messages.
    pub(crate) path: String,
    ds: Dataset,
    kind: Kind,
    /// The memory type of raw reads (fixed strings and enums).
    mem_type: Option<Datatype>,
    /// `Some(k)` for a 2-D `N x k` dataset.
    width: Option<usize>,
}

impl Column {
    /// A column over `ds`, whose type has already been classified as `kind` and whose
    /// shape is `[N]` or (numeric kinds only) `[N, k]`.
    pub(crate) fn new(field: String, path: String, ds: Dataset, kind: Kind, width: Option<usize>) -> hdf5::Result<Column> {
        let mem_type = match &kind {
            // Read fixed strings in a null-padded type of the same width: the library turns
            // space- or null-terminated padding into NULs, which are then cut off.
            Kind::FixedStr { size: 0, .. } => None,
            Kind::FixedStr { size, utf8: false } => Some(Datatype::from_descriptor(&TypeDescriptor::FixedAscii(*size))?),
            Kind::FixedStr { size, utf8: true } => Some(Datatype::from_descriptor(&TypeDescriptor::FixedUnicode(*size))?),
            // A native-order enum with the same members: the library maps values by name.
            Kind::Enum(e) => Some(Datatype::from_descriptor(&TypeDescriptor::Enum(e.clone()))?),
            _ => None,
        };
        Ok(Column { field, path, ds, kind, mem_type, width })
    }

    /// The values of rows `start..end`, one per row.
    pub(crate) fn read(&self, start: usize, end: usize) -> hdf5::Result<Vec<Cell>> {
        if let Some(k) = self.width {
            return self.read_rows_2d(start, end, k);
        }
        let sel = start..end;
        Ok(match &self.kind {
            Kind::Int => self.ds.read_slice_1d::<i64, _>(sel)?.iter().map(|&v| Ok(Value::from(v))).collect(),
            Kind::UInt => self.ds.read_slice_1d::<u64, _>(sel)?.iter().map(|&v| Ok(Value::from(v))).collect(),
            Kind::Float32 => self.ds.read_slice_1d::<f32, _>(sel)?.iter().map(|&v| Ok(float32(v))).collect(),
            Kind::Float64 => self.ds.read_slice_1d::<f64, _>(sel)?.iter().map(|&v| Ok(float(v))).collect(),
            Kind::Bool => self.ds.read_slice_1d::<bool, _>(sel)?.iter().map(|&v| Ok(Value::Bool(v))).collect(),
            Kind::VarAscii => self.ds.read_slice_1d::<VarLenAscii, _>(sel)?.iter().map(|s| utf8(s.as_bytes())).collect(),
            Kind::VarUtf8 => self.ds.read_slice_1d::<VarLenUnicode, _>(sel)?.iter().map(|s| utf8(s.as_bytes())).collect(),
            Kind::FixedStr { size: 0, .. } => (start..end).map(|_| Ok(Value::String(String::new()))).collect(),
            Kind::FixedStr { size, .. } => {
                let bytes = self.raw(start, end)?;
                bytes.chunks_exact(*size).map(|b| fixed_utf8(b.split(|&c| c == 0).next().unwrap_or(b))).collect()
            }
            Kind::Enum(e) => {
                let bytes = self.raw(start, end)?;
                bytes.chunks_exact(e.size as usize).map(|b| Ok(enum_value(e, b))).collect()
            }
        })
    }

    fn raw(&self, start: usize, end: usize) -> hdf5::Result<Vec<u8>> {
        let t = self.mem_type.as_ref().ok_or_else(|| hdf5::Error::from("no memory type for a raw read"))?;
        raw::read_rows_as(&self.ds, t, start, end)
    }

    /// Rows of a 2-D numeric dataset, each as a JSON array.
    fn read_rows_2d(&self, start: usize, end: usize, k: usize) -> hdf5::Result<Vec<Cell>> {
        let sel = (start..end, ..);
        fn rows<T: Copy>(flat: &[T], k: usize, n: usize, f: impl Fn(T) -> Value) -> Vec<Cell> {
            if k == 0 {
                return (0..n).map(|_| Ok(Value::Array(Vec::new()))).collect();
            }
            flat.chunks_exact(k).map(|r| Ok(Value::Array(r.iter().map(|&x| f(x)).collect()))).collect()
        }
        let n = end - start;
        Ok(match self.kind {
            Kind::Int => rows(&self.ds.read_slice_2d::<i64, _>(sel)?.iter().copied().collect::<Vec<_>>(), k, n, Value::from),
            Kind::UInt => rows(&self.ds.read_slice_2d::<u64, _>(sel)?.iter().copied().collect::<Vec<_>>(), k, n, Value::from),
            Kind::Bool => rows(&self.ds.read_slice_2d::<bool, _>(sel)?.iter().copied().collect::<Vec<_>>(), k, n, Value::Bool),
            Kind::Float32 => rows(&self.ds.read_slice_2d::<f32, _>(sel)?.iter().copied().collect::<Vec<_>>(), k, n, float32),
            _ => rows(&self.ds.read_slice_2d::<f64, _>(sel)?.iter().copied().collect::<Vec<_>>(), k, n, float),
        })
    }
}

/// A float as JSON: NaN and infinities (which JSON cannot hold, and which numpy data uses
/// for missing values) become `null`.
fn float(v: f64) -> Value {
    Number::from_f64(v).map_or(Value::Null, Value::Number)
}

/// An `f32` as JSON, widened through its shortest round-tripping decimal digits.
fn float32(v: f32) -> Value {
    if !v.is_finite() {
        return Value::Null;
    }
    // `{:e}` prints the shortest digits that read back as `v`: at most ~15 bytes.
    let mut buf = [0u8; 32];
    let mut w = &mut buf[..];
    let wide = match write!(w, "{v:e}") {
        Ok(()) => {
            let len = 32 - w.len();
            std::str::from_utf8(&buf[..len]).ok().and_then(|s| s.parse::<f64>().ok()).unwrap_or(f64::from(v))
        }
        Err(_) => f64::from(v),
    };
    float(wide)
}

fn utf8(b: &[u8]) -> Cell {
    match std::str::from_utf8(b) {
        Ok(s) => Ok(Value::String(s.to_owned())),
        Err(e) => Err(format!("string is not valid UTF-8 (invalid byte at offset {})", e.valid_up_to())),
    }
}

/// A fixed-length string: like [`utf8`], except that a multi-byte character cut short by
/// the fixed width at the very end (numpy's `S<n>` truncates encoded text byte-wise) is
/// dropped rather than failing the row.
fn fixed_utf8(b: &[u8]) -> Cell {
    match std::str::from_utf8(b) {
        Ok(s) => Ok(Value::String(s.to_owned())),
        Err(e) if e.error_len().is_none() => Ok(Value::String(String::from_utf8_lossy(&b[..e.valid_up_to()]).into_owned())),
        Err(_) => utf8(b),
    }
}

/// The member name of an enum value read in the native layout of `e`, or the number
/// when the value names no member.
fn enum_value(e: &EnumType, b: &[u8]) -> Value {
    // The same zero-extended reading the `hdf5` crate uses for `EnumMember::value`.
    let mut w = [0u8; 8];
    w[..b.len()].copy_from_slice(b);
    let key = u64::from_ne_bytes(w);
    if let Some(m) = e.members.iter().find(|m| m.value == key) {
        return Value::String(m.name.clone());
    }
    if e.signed {
        let v = match e.size {
            IntSize::U1 => i8::from_ne_bytes([b[0]]) as i64,
            IntSize::U2 => i16::from_ne_bytes([b[0], b[1]]) as i64,
            IntSize::U4 => i32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as i64,
            IntSize::U8 => i64::from_ne_bytes(w),
        };
        Value::from(v)
    } else {
        let v = match e.size {
            IntSize::U1 => b[0] as u64,
            IntSize::U2 => u16::from_ne_bytes([b[0], b[1]]) as u64,
            IntSize::U4 => u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as u64,
            IntSize::U8 => key,
        };
        Value::from(v)
    }
}
