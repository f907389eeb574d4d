//! Where message types come from: a `.proto` file compiled in-process with protox, or a
//! `FileDescriptorSet` as written by `protoc -o`; and the lookups the source needs (the
//! message type, the records field, the vector field), each with an error that says what
//! exists instead.

use hektor_adapters_api::{AdapterError, AdapterErrorCode, Position};
use miette::Diagnostic;
use prost_reflect::{DescriptorPool, FieldDescriptor, Kind, MessageDescriptor};
use std::path::{Path, PathBuf};

/// Largest descriptor set file read (they are kilobytes in practice).
const MAX_DESCRIPTOR_SET: u64 = 64 << 20;

fn err(code: AdapterErrorCode, message: String, source: &str) -> AdapterError {
    AdapterError::new(code, message, Position { source: source.to_string(), ..Default::default() })
}

/// Compiles `proto` and its imports, which are looked up in `includes`, then in the file's
/// own directory, then among the bundled `google/protobuf/*.proto`.
pub(crate) fn compile_proto(proto: &str, includes: &[String]) -> Result<DescriptorPool, AdapterError> {
    let path = Path::new(proto);
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err(err(AdapterErrorCode::InvalidArg, format!("proto '{proto}' is not a file"), proto)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(err(AdapterErrorCode::NotFound, format!("no such .proto file: {proto}"), proto))
        }
        Err(e) => return Err(err(AdapterErrorCode::Io, format!("cannot read {proto}: {e}"), proto)),
    }
    // As protoc: the file's name is its path relative to the first include directory that
    // holds it (so imports rooted at a package directory work with `includes: ["."]`); the
    // file's own directory comes last, for the common case of imports beside the file.
    let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let file = canonical(path);
    let own_dir = file.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    let mut dirs: Vec<PathBuf> = includes.iter().map(|i| canonical(Path::new(i))).collect();
    dirs.push(own_dir);
    let mut compiler = protox::Compiler::new(&dirs).map_err(|e| proto_error(&e, proto))?;
    compiler.include_imports(true).include_source_info(false);
    compiler.open_file(&file).map_err(|e| proto_error(&e, proto))?;
    Ok(compiler.descriptor_pool())
}

/// Names the file an error is in: the `proto` path as given when it is that file, else the
/// import name.
fn error_file(e: &protox::Error, proto: &str) -> String {
    match e.file() {
        Some(f) if !Path::new(proto).ends_with(f) => f.to_string(),
        _ => proto.to_string(),
    }
}

/// A protox error as `ERR_PARSE` (syntax or type errors) with `file:line:column`, or
/// `ERR_NOT_FOUND` (a missing import) or `ERR_IO`.
fn proto_error(e: &protox::Error, proto: &str) -> AdapterError {
    let file = error_file(e, proto);
    let mut at = file.clone();
    let mut byte = None;
    if let (Some(code), Some(label)) = (e.source_code(), e.labels().and_then(|mut l| l.next())) {
        if let Ok(span) = code.read_span(label.inner(), 0, 0) {
            at = format!("{file}:{}:{}", span.line() + 1, span.column() + 1);
        }
        byte = Some(label.offset() as u64);
    }
    let code = if e.is_file_not_found() {
        AdapterErrorCode::NotFound
    } else if e.is_io() {
        AdapterErrorCode::Io
    } else {
        AdapterErrorCode::Parse
    };
    let mut message = format!("{at}: {e}");
    if let Some(help) = e.help() {
        message.push_str(&format!(" ({help})"));
    }
    AdapterError::new(code, message, Position { source: file, byte, ..Default::default() })
}

/// Reads a binary `FileDescriptorSet` (`protoc --include_imports -o set.pb x.proto`).
pub(crate) fn load_descriptor_set(path: &str) -> Result<DescriptorPool, AdapterError> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => err(AdapterErrorCode::NotFound, format!("no such descriptor set: {path}"), path),
        _ => err(AdapterErrorCode::Io, format!("cannot read {path}: {e}"), path),
    })?;
    if meta.len() > MAX_DESCRIPTOR_SET {
        return Err(err(
            AdapterErrorCode::Limit,
            format!("descriptor set {path} is {} bytes; the limit is {MAX_DESCRIPTOR_SET}", meta.len()),
            path,
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| err(AdapterErrorCode::Io, format!("cannot read {path}: {e}"), path))?;
    DescriptorPool::decode(bytes.as_slice()).map_err(|e| {
        err(
            AdapterErrorCode::Parse,
            format!("{path} is not a valid FileDescriptorSet (as written by protoc -o; add --include_imports): {e}"),
            path,
        )
    })
}

/// The message type named `name` (fully qualified; a leading `.` is allowed), or an
/// `ERR_INVALID_ARG` that lists the closest names.
pub(crate) fn message(pool: &DescriptorPool, name: &str, source: &str) -> Result<MessageDescriptor, AdapterError> {
    let name = name.strip_prefix('.').unwrap_or(name);
    if let Some(m) = pool.get_message_by_name(name) {
        return Ok(m);
    }
    let candidates: Vec<String> = pool
        .all_messages()
        .filter(|m| !m.is_map_entry() && !m.full_name().starts_with("google.protobuf."))
        .map(|m| m.full_name().to_string())
        .collect();
    let wanted = name.to_ascii_lowercase();
    let short = wanted.rsplit('.').next().unwrap_or(&wanted).to_string();
    let mut scored: Vec<(usize, &String)> = candidates
        .iter()
        .map(|c| {
            let lc = c.to_ascii_lowercase();
            let cs = lc.rsplit('.').next().unwrap_or(&lc);
            (levenshtein(&wanted, &lc).min(levenshtein(&short, cs) + usize::from(wanted != short)), c)
        })
        .collect();
    scored.sort();
    let limit = (short.len() / 3).max(2);
    let close: Vec<&str> = scored.iter().filter(|(d, _)| *d <= limit).take(5).map(|(_, c)| c.as_str()).collect();
    let hint = if !close.is_empty() {
        format!("did you mean {}?", close.join(", "))
    } else if candidates.is_empty() {
        "the schema defines no message types".to_string()
    } else {
        let mut all: Vec<&str> = candidates.iter().map(String::as_str).collect();
        all.sort();
        let more = if all.len() > 20 { format!(" and {} more", all.len() - 20) } else { String::new() };
        all.truncate(20);
        format!("message types: {}{more}", all.join(", "))
    };
    Err(err(
        AdapterErrorCode::InvalidArg,
        format!("message type '{name}' not found; {hint} (names are fully qualified: package.Message)"),
        source,
    ))
}

/// Edit distance between two short strings.
fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn field_names(m: &MessageDescriptor) -> String {
    m.fields().map(|f| f.name().to_string()).collect::<Vec<_>>().join(", ")
}

fn is_repeated_message(f: &FieldDescriptor) -> bool {
    f.is_list() && matches!(f.kind(), Kind::Message(_))
}

/// For `framing: "single"`: the repeated message field whose elements are the records —
/// `records_field` when given, else the message's only repeated message field, else `None`
/// (the whole message is the one record).
pub(crate) fn records_field(
    m: &MessageDescriptor,
    records_field: Option<&str>,
    source: &str,
) -> Result<Option<FieldDescriptor>, AdapterError> {
    let bad = |msg: String, field: &str| {
        AdapterError::new(
            AdapterErrorCode::InvalidArg,
            msg,
            Position { source: source.to_string(), field: Some(field.to_string()), ..Default::default() },
        )
    };
    match records_field {
        Some(name) => {
            let f = m.get_field_by_name(name).ok_or_else(|| {
                bad(format!("recordsField '{name}' is not a field of {} (fields: {})", m.full_name(), field_names(m)), name)
            })?;
            if !is_repeated_message(&f) || f.is_group() {
                return Err(bad(format!("recordsField '{name}' of {} must be a repeated message field", m.full_name()), name));
            }
            Ok(Some(f))
        }
        None => {
            let mut repeated = m.fields().filter(|f| is_repeated_message(f) && !f.is_group());
            match (repeated.next(), repeated.next()) {
                (Some(f), None) => Ok(Some(f)),
                _ => Ok(None),
            }
        }
    }
}

/// The mapped vector field as a path of fields: singular message fields, then a
/// `repeated float` or `repeated double`.
pub(crate) fn vector_path(m: &MessageDescriptor, path: &str, source: &str) -> Result<Vec<FieldDescriptor>, AdapterError> {
    let bad = |msg: String| {
        AdapterError::new(
            AdapterErrorCode::InvalidArg,
            msg,
            Position { source: source.to_string(), field: Some(path.to_string()), ..Default::default() },
        )
    };
    let segments: Vec<&str> = path.split('.').collect();
    let mut cur = m.clone();
    let mut out = Vec::with_capacity(segments.len());
    for (i, seg) in segments.iter().enumerate() {
        let f = cur.get_field_by_name(seg).ok_or_else(|| {
            bad(format!("vector field '{path}': {} has no field '{seg}' (fields: {})", cur.full_name(), field_names(&cur)))
        })?;
        let last = i + 1 == segments.len();
        match (last, f.kind()) {
            (true, Kind::Float | Kind::Double) if f.is_list() => {}
            (true, kind) => {
                let repeated = if f.is_list() {
                    "repeated "
                } else if f.is_map() {
                    "map "
                } else {
                    ""
                };
                return Err(bad(format!(
                    "vector field '{path}' is {repeated}{} in {}; expected repeated float or repeated double",
                    kind_name(&kind),
                    cur.full_name()
                )));
            }
            (false, Kind::Message(next)) if !f.is_list() && !f.is_map() => cur = next,
            (false, _) => {
                return Err(bad(format!("vector field '{path}': '{seg}' is not a singular message field of {}", cur.full_name())))
            }
        }
        out.push(f);
    }
    Ok(out)
}

fn kind_name(k: &Kind) -> String {
    match k {
        Kind::Message(m) => m.full_name().to_string(),
        Kind::Enum(e) => e.full_name().to_string(),
        other => format!("{other:?}").to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::levenshtein;

    #[test]
    fn edit_distance() {
        assert_eq!(levenshtein("product", "prodcut"), 2);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("shop.product", "shop.product"), 0);
    }
}
