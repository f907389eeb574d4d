//! Schema resolution, compiled once per file: a [`Plan`] says how each value decoded with
//! the file's writer schema becomes JSON shaped by the reader schema.
//!
//! This follows the "Schema Resolution" section of the Avro specification: record fields
//! are matched by name or by a reader field's aliases, writer fields the reader lacks are
//! dropped, reader fields the writer lacks take their default, `int → long → float →
//! double` and `string ↔ bytes` promote, enum symbols map by name (falling back to the
//! reader's enum default), named types match by unqualified name or reader alias, and a
//! writer union branch with no match in the reader is an error only for the rows that use
//! it. Without a reader schema the writer schema resolves against itself.
//!
//! Everything that can be decided from the two schemas is decided here, at open, so an
//! incompatible reader schema fails before the first row and the per-row work is a walk of
//! the plan.

use crate::json;
use crate::time::Unit;
use apache_avro::schema::{
    DecimalSchema, EnumSchema, InnerDecimalSchema, Name, Namespace, RecordSchema, ResolvedSchema, UnionSchema, UuidSchema,
};
use apache_avro::Schema;
use serde_json::{Map, Value as Json};
use std::collections::HashMap;

type Names<'s> = HashMap<Name, &'s Schema>;

/// How an integer is rendered, by the reader's logical type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IntRender {
    /// A plain number (a string beyond 2^53).
    Number,
    /// `date`: `YYYY-MM-DD`.
    Date,
    /// `time-millis` / `time-micros`: `HH:MM:SS.fff`.
    Time(Unit),
    /// `timestamp-*` (`utc`) and `local-timestamp-*`.
    Timestamp(Unit, bool),
}

/// One step of the conversion; plans refer to each other by index into [`Resolution::plans`]
/// so that recursive named types compile to a finite graph.
#[derive(Clone, Debug)]
pub(crate) enum Plan {
    /// `null`.
    Null,
    /// `boolean`.
    Boolean,
    /// `int` or `long` (and their logical types).
    Integer(IntRender),
    /// `float` or `double`.
    Float,
    /// `string` (bytes promoted to string are read as UTF-8, invalid sequences replaced).
    String,
    /// `bytes` or `fixed`: base64.
    Bytes,
    /// `uuid`: the hyphenated string.
    Uuid,
    /// `decimal`: a number, or a string when an `f64` cannot hold it exactly.
    Decimal { scale: usize },
    /// `big-decimal`: as `decimal`.
    BigDecimal,
    /// `duration`: `{ months, days, millis }`.
    Duration,
    /// `enum`: the reader's symbol for each writer symbol index (`None`: no such symbol and
    /// no reader default); `identity` when the symbol lists agree.
    Enum { symbols: Vec<Option<String>>, identity: bool },
    /// `array` of the given items.
    Array(usize),
    /// `map` of the given values.
    Map(usize),
    /// `record`: the reader's fields in order.
    Record(Vec<FieldPlan>),
    /// A writer union: one entry per writer branch.
    Union(Vec<Result<usize, String>>),
    /// The mapped vector field: an array of float/double decoded straight into `Vec<f32>`.
    Vector,
}

/// Where one reader field comes from.
#[derive(Clone, Debug)]
pub(crate) struct FieldPlan {
    /// The reader's field name (the JSON key).
    pub name: String,
    /// The writer field and its plan, or the default value.
    pub source: FieldSource,
    /// True for the mapped vector field, which is left out of the JSON row.
    pub is_vector: bool,
}

/// The value of a reader field.
#[derive(Clone, Debug)]
pub(crate) enum FieldSource {
    /// The writer record's field at `index`, converted by `plan`.
    Writer { index: usize, plan: usize },
    /// The reader's default, already rendered as JSON.
    Default(Json),
}

/// A compiled resolution of a writer schema against a reader schema.
#[derive(Clone, Debug)]
pub(crate) struct Resolution {
    /// Every plan; `root` converts a whole datum.
    pub plans: Vec<Plan>,
    /// The plan of the top-level schema.
    pub root: usize,
}

/// Why two schemas do not resolve, and at which field (a dotted path) when there is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SchemaError {
    /// What is wrong.
    pub message: String,
    /// The field it concerns.
    pub field: Option<String>,
}

impl SchemaError {
    fn new(path: &str, message: String) -> Self {
        SchemaError { message, field: (!path.is_empty()).then(|| path.to_string()) }
    }
}

/// Compiles the resolution of `writer` against `reader`. `vector` is the mapped vector
/// field as a dotted path through records (empty: none). Errors are messages for
/// `ERR_INVALID_ARG`.
pub(crate) fn compile(writer: &Schema, reader: &Schema, vector: &[&str]) -> Result<Resolution, SchemaError> {
    let wr = ResolvedSchema::try_from(writer).map_err(|e| SchemaError::new("", format!("writer schema: {e}")))?;
    let rr = ResolvedSchema::try_from(reader).map_err(|e| SchemaError::new("", format!("reader schema: {e}")))?;
    let mut c =
        Compiler { wn: wr.get_names(), rn: rr.get_names(), plans: Vec::new(), memo: HashMap::new(), vector_found: vector.is_empty() };
    let root = c.pair(writer, reader, &None, &None, vector, "")?;
    if !c.vector_found {
        let fields = top_fields(c.deref_in(reader, &None, false).0);
        let path = vector.join(".");
        return Err(SchemaError::new(&path, format!("vector field '{path}' is not a field of the Avro schema (fields: {fields})")));
    }
    Ok(Resolution { plans: c.plans, root })
}

fn top_fields(s: &Schema) -> String {
    match s {
        Schema::Record(r) => r.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", "),
        _ => "none: the top-level schema is not a record".into(),
    }
}

/// Kind of a schema for matching, logical types reduced to their underlying type.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Kind {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Array,
    Map,
    Record,
    Enum,
    Fixed,
    Union,
}

fn kind(s: &Schema) -> Kind {
    match s {
        Schema::Null => Kind::Null,
        Schema::Boolean => Kind::Boolean,
        Schema::Int | Schema::Date | Schema::TimeMillis => Kind::Int,
        Schema::Long
        | Schema::TimeMicros
        | Schema::TimestampMillis
        | Schema::TimestampMicros
        | Schema::TimestampNanos
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => Kind::Long,
        Schema::Float => Kind::Float,
        Schema::Double => Kind::Double,
        Schema::Bytes | Schema::BigDecimal | Schema::Uuid(UuidSchema::Bytes) => Kind::Bytes,
        Schema::Decimal(d) => match d.inner {
            InnerDecimalSchema::Bytes => Kind::Bytes,
            InnerDecimalSchema::Fixed(_) => Kind::Fixed,
        },
        Schema::String | Schema::Uuid(UuidSchema::String) => Kind::String,
        Schema::Uuid(UuidSchema::Fixed(_)) | Schema::Fixed(_) | Schema::Duration(_) => Kind::Fixed,
        Schema::Array(_) => Kind::Array,
        Schema::Map(_) => Kind::Map,
        Schema::Record(_) => Kind::Record,
        Schema::Enum(_) => Kind::Enum,
        Schema::Union(_) => Kind::Union,
        // Refs are dereferenced before `kind` is asked.
        Schema::Ref { .. } => Kind::Null,
    }
}

fn kind_name(s: &Schema) -> String {
    match s {
        Schema::Record(r) => format!("record {}", r.name),
        Schema::Enum(e) => format!("enum {}", e.name),
        Schema::Fixed(f) => format!("fixed {} ({} bytes)", f.name, f.size),
        Schema::Ref { name } => name.to_string(),
        Schema::Union(u) => format!("union [{}]", u.variants().iter().map(kind_name).collect::<Vec<_>>().join(", ")),
        other => format!("{:?}", kind(other)).to_lowercase(),
    }
}

/// The name and aliases of a named schema, unqualified.
fn named(s: &Schema) -> Option<(&Name, Vec<&str>)> {
    let (name, aliases) = match s {
        Schema::Record(RecordSchema { name, aliases, .. }) | Schema::Enum(EnumSchema { name, aliases, .. }) => (name, aliases),
        Schema::Fixed(f) | Schema::Duration(f) | Schema::Uuid(UuidSchema::Fixed(f)) => (&f.name, &f.aliases),
        Schema::Decimal(DecimalSchema { inner: InnerDecimalSchema::Fixed(f), .. }) => (&f.name, &f.aliases),
        _ => return None,
    };
    let aliases = aliases.iter().flatten().map(|a| a.name()).collect();
    Some((name, aliases))
}

fn fixed_size(s: &Schema) -> Option<usize> {
    match s {
        Schema::Fixed(f) | Schema::Duration(f) | Schema::Uuid(UuidSchema::Fixed(f)) => Some(f.size),
        Schema::Decimal(DecimalSchema { inner: InnerDecimalSchema::Fixed(f), .. }) => Some(f.size),
        _ => None,
    }
}

/// Whether a value written as `w` can be read as `r` (one level deep), and if so whether
/// exactly (`Some(true)`) or by promotion (`Some(false)`).
fn matches(w: &Schema, r: &Schema) -> Option<bool> {
    let (kw, kr) = (kind(w), kind(r));
    match (kw, kr) {
        (Kind::Record | Kind::Enum | Kind::Fixed, _) if kw == kr => {
            let ((wn, _), (rn, ra)) = (named(w)?, named(r)?);
            let same = wn.name() == rn.name() || ra.contains(&wn.name());
            let sized = kw != Kind::Fixed || fixed_size(w) == fixed_size(r);
            (same && sized).then_some(true)
        }
        _ if kw == kr => Some(true),
        (Kind::Int, Kind::Long | Kind::Float | Kind::Double)
        | (Kind::Long, Kind::Float | Kind::Double)
        | (Kind::Float, Kind::Double)
        | (Kind::String, Kind::Bytes)
        | (Kind::Bytes, Kind::String) => Some(false),
        _ => None,
    }
}

struct Compiler<'a, 's> {
    wn: &'a Names<'s>,
    rn: &'a Names<'s>,
    plans: Vec<Plan>,
    /// Named writer/reader pairs already compiled (or being compiled), for recursion.
    memo: HashMap<(String, String, String), usize>,
    vector_found: bool,
}

impl<'s> Compiler<'_, 's> {
    fn push(&mut self, p: Plan) -> usize {
        self.plans.push(p);
        self.plans.len() - 1
    }

    /// Follows a reference among the writer's (`writer`) or the reader's names; returns the
    /// schema and the namespace its children inherit.
    fn deref_in<'x>(&self, s: &'x Schema, ns: &Namespace, writer: bool) -> (&'x Schema, Namespace)
    where
        's: 'x,
    {
        let names = if writer { self.wn } else { self.rn };
        let mut s = s;
        let mut ns = ns.clone();
        for _ in 0..64 {
            match s {
                Schema::Ref { name } => {
                    let full = name.fully_qualified_name(ns.as_deref()).into_owned();
                    match names.get(&full).or_else(|| names.get(name)) {
                        Some(t) => {
                            ns = full.namespace().map(str::to_string);
                            s = t;
                        }
                        None => break,
                    }
                }
                _ => break,
            }
        }
        if let Some((n, _)) = named(s) {
            ns = n.namespace().map(str::to_string).or(ns);
        }
        (s, ns)
    }

    /// Compiles `w` read as `r`. `path` names the spot for messages.
    fn pair(
        &mut self,
        w: &'s Schema,
        r: &'s Schema,
        wns: &Namespace,
        rns: &Namespace,
        vector: &[&str],
        path: &str,
    ) -> Result<usize, SchemaError> {
        let (w, wns) = self.deref_in(w, wns, true);
        let (r, rns) = self.deref_in(r, rns, false);
        let at = |p: &str| if p.is_empty() { String::new() } else { format!(" at '{p}'") };

        // Unions first: the writer's branch is picked per row, the reader's now.
        if let Schema::Union(wu) = w {
            let mut branches = Vec::with_capacity(wu.variants().len());
            for wb in wu.variants() {
                let (wbd, wbns) = self.deref_in(wb, &wns, true);
                let target = match r {
                    Schema::Union(ru) => self.pick_branch(wbd, ru, &rns),
                    _ => matches(wbd, r).map(|_| r),
                };
                branches.push(match target {
                    Some(rb) => Ok(self.pair(wbd, rb, &wbns, &rns, vector, path)?),
                    None => Err(format!("the file's {} value{} cannot be read as {}", kind_name(wbd), at(path), kind_name(r))),
                });
            }
            return Ok(self.push(Plan::Union(branches)));
        }
        if let Schema::Union(ru) = r {
            return match self.pick_branch(w, ru, &rns) {
                Some(rb) => self.pair(w, rb, &wns, &rns, vector, path),
                None => Err(SchemaError::new(
                    path,
                    format!("the file's {}{} matches no branch of the reader's {}", kind_name(w), at(path), kind_name(r)),
                )),
            };
        }
        if matches(w, r).is_none() {
            return Err(SchemaError::new(path, format!("the file's {}{} cannot be read as {}", kind_name(w), at(path), kind_name(r))));
        }
        let plan = match r {
            Schema::Null => Plan::Null,
            Schema::Boolean => Plan::Boolean,
            Schema::Int | Schema::Long => Plan::Integer(IntRender::Number),
            Schema::Date => Plan::Integer(IntRender::Date),
            Schema::TimeMillis => Plan::Integer(IntRender::Time(Unit::Millis)),
            Schema::TimeMicros => Plan::Integer(IntRender::Time(Unit::Micros)),
            Schema::TimestampMillis => Plan::Integer(IntRender::Timestamp(Unit::Millis, true)),
            Schema::TimestampMicros => Plan::Integer(IntRender::Timestamp(Unit::Micros, true)),
            Schema::TimestampNanos => Plan::Integer(IntRender::Timestamp(Unit::Nanos, true)),
            Schema::LocalTimestampMillis => Plan::Integer(IntRender::Timestamp(Unit::Millis, false)),
            Schema::LocalTimestampMicros => Plan::Integer(IntRender::Timestamp(Unit::Micros, false)),
            Schema::LocalTimestampNanos => Plan::Integer(IntRender::Timestamp(Unit::Nanos, false)),
            Schema::Float | Schema::Double => Plan::Float,
            Schema::String => Plan::String,
            Schema::Uuid(_) => Plan::Uuid,
            Schema::Bytes | Schema::Fixed(_) => Plan::Bytes,
            Schema::Decimal(rd) => match w {
                // The writer's scale says what the stored digits mean.
                Schema::Decimal(wd) => Plan::Decimal { scale: wd.scale },
                _ => Plan::Decimal { scale: rd.scale },
            },
            Schema::BigDecimal => match w {
                Schema::BigDecimal => Plan::BigDecimal,
                _ => Plan::Bytes,
            },
            Schema::Duration(_) => Plan::Duration,
            Schema::Enum(re) => {
                let Schema::Enum(we) = w else { return Err(SchemaError::new(path, disagree())) };
                let identity = we.symbols == re.symbols;
                let symbols =
                    we.symbols.iter().map(|s| if re.symbols.contains(s) { Some(s.clone()) } else { re.default.clone() }).collect();
                Plan::Enum { symbols, identity }
            }
            Schema::Array(ra) => {
                let Schema::Array(wa) = w else { return Err(SchemaError::new(path, disagree())) };
                let items = self.pair(&wa.items, &ra.items, &wns, &rns, &[], &format!("{path}[]"))?;
                Plan::Array(items)
            }
            Schema::Map(rm) => {
                let Schema::Map(wm) = w else { return Err(SchemaError::new(path, disagree())) };
                let values = self.pair(&wm.types, &rm.types, &wns, &rns, &[], &format!("{path}{{}}"))?;
                Plan::Map(values)
            }
            Schema::Record(rr) => {
                let Schema::Record(wr) = w else { return Err(SchemaError::new(path, disagree())) };
                return self.record(wr, rr, &wns, &rns, vector, path);
            }
            Schema::Union(_) | Schema::Ref { .. } => {
                return Err(SchemaError::new(path, format!("unresolved schema reference{}", at(path))))
            }
        };
        Ok(self.push(plan))
    }

    /// The reader branch for a writer schema: the first exact match, else the first
    /// branch it promotes to.
    fn pick_branch(&self, w: &Schema, ru: &'s UnionSchema, rns: &Namespace) -> Option<&'s Schema> {
        let branches: Vec<&'s Schema> = ru.variants().iter().map(|b| self.deref_in(b, rns, false).0).collect();
        branches.iter().find(|b| matches(w, b) == Some(true)).or_else(|| branches.iter().find(|b| matches(w, b).is_some())).copied()
    }

    fn record(
        &mut self,
        w: &'s RecordSchema,
        r: &'s RecordSchema,
        wns: &Namespace,
        rns: &Namespace,
        vector: &[&str],
        path: &str,
    ) -> Result<usize, SchemaError> {
        let key = (w.name.to_string(), r.name.to_string(), vector.join("."));
        if let Some(&id) = self.memo.get(&key) {
            return Ok(id);
        }
        let id = self.push(Plan::Null); // placeholder, so recursive references find it
        self.memo.insert(key, id);
        let mut fields = Vec::with_capacity(r.fields.len());
        for rf in &r.fields {
            let fpath = if path.is_empty() { rf.name.clone() } else { format!("{path}.{}", rf.name) };
            let is_vector = vector.len() == 1 && vector[0] == rf.name;
            let sub: &[&str] = if vector.len() > 1 && vector[0] == rf.name { &vector[1..] } else { &[] };
            let wpos =
                w.fields.iter().position(|wf| wf.name == rf.name).or_else(|| w.fields.iter().position(|wf| rf.aliases.contains(&wf.name)));
            let source = match wpos {
                Some(index) => {
                    let mut plan = self.pair(&w.fields[index].schema, &rf.schema, wns, rns, sub, &fpath)?;
                    if is_vector {
                        self.check_vector(&rf.schema, rns, &fpath)?;
                        plan = self.retarget(plan);
                    }
                    FieldSource::Writer { index, plan }
                }
                None => match &rf.default {
                    Some(d) => {
                        if is_vector {
                            self.check_vector(&rf.schema, rns, &fpath)?;
                        }
                        let rendered = self
                            .default(d, &rf.schema, rns)
                            .map_err(|e| SchemaError::new(&fpath, format!("default of reader field '{fpath}': {e}")))?;
                        FieldSource::Default(rendered)
                    }
                    None => {
                        return Err(SchemaError::new(
                            &fpath,
                            format!("reader field '{fpath}' of record {} is not in the file's schema and has no default", r.name),
                        ))
                    }
                },
            };
            self.vector_found |= is_vector;
            fields.push(FieldPlan { name: rf.name.clone(), source, is_vector });
        }
        self.plans[id] = Plan::Record(fields);
        Ok(id)
    }

    /// Checks that the mapped vector field's reader type is an array of float or double
    /// (optionally in a union with null).
    fn check_vector(&self, r: &'s Schema, rns: &Namespace, path: &str) -> Result<(), SchemaError> {
        let (r, rns) = self.deref_in(r, rns, false);
        let ok = |s: &Schema| matches!(s, Schema::Array(a) if matches!(*a.items, Schema::Float | Schema::Double));
        let fine = match r {
            Schema::Union(u) => u.variants().iter().all(|b| {
                let b = self.deref_in(b, &rns, false).0;
                matches!(b, Schema::Null) || ok(b)
            }),
            other => ok(other),
        };
        if !fine {
            return Err(SchemaError::new(
                path,
                format!("vector field '{path}' is {} in the Avro schema; expected array<float> or array<double>", kind_name(r)),
            ));
        }
        Ok(())
    }

    /// Turns the (checked) plan of the vector field into [`Plan::Vector`].
    fn retarget(&mut self, plan: usize) -> usize {
        match self.plans[plan].clone() {
            Plan::Array(_) => self.push(Plan::Vector),
            Plan::Union(branches) => {
                let branches = branches.into_iter().map(|b| b.map(|p| self.retarget(p))).collect();
                self.push(Plan::Union(branches))
            }
            _ => plan,
        }
    }

    /// Renders a reader field default (given in the schema's JSON form) as the row JSON.
    fn default(&self, d: &Json, s: &'s Schema, ns: &Namespace) -> Result<Json, String> {
        let (s, ns) = self.deref_in(s, ns, false);
        let bad = || format!("{d} is not a valid {}", kind_name(s));
        let bytes = |d: &Json| -> Result<Vec<u8>, String> {
            // Avro writes bytes defaults as a string of code points 0-255.
            d.as_str().ok_or_else(bad)?.chars().map(|c| u8::try_from(u32::from(c)).map_err(|_| bad())).collect()
        };
        let int = |d: &Json| d.as_i64().ok_or_else(bad);
        Ok(match s {
            Schema::Union(u) => {
                // The spec says the first branch; later versions allow any, so try in order.
                let mut last = bad();
                for b in u.variants() {
                    match self.default(d, b, &ns) {
                        Ok(v) => return Ok(v),
                        Err(e) => last = e,
                    }
                }
                return Err(last);
            }
            Schema::Null => d.is_null().then_some(Json::Null).ok_or_else(bad)?,
            Schema::Boolean => Json::Bool(d.as_bool().ok_or_else(bad)?),
            Schema::Int | Schema::Long => json::int(int(d)?),
            Schema::Date => Json::String(crate::time::date(int(d)?)),
            Schema::TimeMillis => Json::String(crate::time::time_of_day(int(d)?, Unit::Millis)),
            Schema::TimeMicros => Json::String(crate::time::time_of_day(int(d)?, Unit::Micros)),
            Schema::TimestampMillis => Json::String(crate::time::timestamp(int(d)?, Unit::Millis, true)),
            Schema::TimestampMicros => Json::String(crate::time::timestamp(int(d)?, Unit::Micros, true)),
            Schema::TimestampNanos => Json::String(crate::time::timestamp(int(d)?, Unit::Nanos, true)),
            Schema::LocalTimestampMillis => Json::String(crate::time::timestamp(int(d)?, Unit::Millis, false)),
            Schema::LocalTimestampMicros => Json::String(crate::time::timestamp(int(d)?, Unit::Micros, false)),
            Schema::LocalTimestampNanos => Json::String(crate::time::timestamp(int(d)?, Unit::Nanos, false)),
            Schema::Float | Schema::Double => json::double(d.as_f64().ok_or_else(bad)?),
            Schema::String | Schema::Uuid(UuidSchema::String) => Json::String(d.as_str().ok_or_else(bad)?.to_string()),
            Schema::Uuid(_) => Json::String(d.as_str().ok_or_else(bad)?.to_string()),
            Schema::Decimal(DecimalSchema { scale, .. }) => json::decimal(&num_bigint::BigInt::from_signed_bytes_be(&bytes(d)?), *scale),
            Schema::Bytes | Schema::Fixed(_) | Schema::BigDecimal | Schema::Duration(_) => json::base64(&bytes(d)?),
            Schema::Enum(e) => {
                let sym = d.as_str().ok_or_else(bad)?;
                if !e.symbols.iter().any(|s| s == sym) {
                    return Err(bad());
                }
                Json::String(sym.to_string())
            }
            Schema::Array(a) => {
                Json::Array(d.as_array().ok_or_else(bad)?.iter().map(|x| self.default(x, &a.items, &ns)).collect::<Result<_, _>>()?)
            }
            Schema::Map(m) => {
                let o = d.as_object().ok_or_else(bad)?;
                Json::Object(
                    o.iter().map(|(k, x)| Ok((k.clone(), self.default(x, &m.types, &ns)?))).collect::<Result<Map<_, _>, String>>()?,
                )
            }
            Schema::Record(r) => {
                let o = d.as_object().ok_or_else(bad)?;
                let mut out = Map::new();
                for f in &r.fields {
                    let v = match (o.get(&f.name), &f.default) {
                        (Some(x), _) | (None, Some(x)) => self.default(x, &f.schema, &ns)?,
                        (None, None) => return Err(format!("{d} lacks field '{}'", f.name)),
                    };
                    out.insert(f.name.clone(), v);
                }
                Json::Object(out)
            }
            Schema::Ref { name } => return Err(format!("unresolved reference {name}")),
        })
    }
}

fn disagree() -> String {
    "internal: schema kinds disagree after matching".into()
}
