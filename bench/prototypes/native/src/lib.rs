//! One native call per batch: decode + state codec (format 4) + the recent-event memory.
//!
//! A prototype for issue 14 item 6 (docs/bench.md, "The native batch call"). The Python
//! implementation (`impulse_stream.contract.codec`, `core/codec.py`, `core/recent_events.py`)
//! is the reference; `bench/prototypes/native_batch.py` runs both and the property test
//! `tests/unit/bench/test_native_batch.py` compares their bytes.
//!
//! What is handed over from Python (nothing of the contract or the state layout is decided
//! here beyond what the property test checks):
//! * `spec`: JSON built from `msgspec.inspect` of the input records (field names in
//!   definition order, kinds, defaults, patterns, lengths, enums, bounds), the amount
//!   patterns and the time range of `contract/codec.py`;
//! * `dictionary`: the zstd dictionary of `core/state_dictionary_2.py`, with its id and
//!   the level of `core/codec.py`;
//! * `fallback`: a Python callable for every record this code does not decode itself (it
//!   is strict: anything outside the subset it implements goes there, dead letters too);
//! * `restate`: a Python callable that turns a state blob of another format into format 4.

use std::collections::HashMap;

use blake2::digest::{Update, VariableOutput};
use blake2::Blake2bVar;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use regex::Regex;
use serde_json::Value;

const PACKED_FORMAT: u8 = 4;
const MARK_BYTES: usize = 8;
const MAX_STATE_BYTES: usize = 1 << 20;

// --- the record spec (from msgspec.inspect, built in native_batch.py) -----------------

enum Kind {
    Str {
        pattern: Option<Regex>,
        min_length: usize,
        max_length: Option<usize>,
        choices: Option<Vec<String>>,
    },
    Int {
        ge: Option<i64>,
        le: Option<i64>,
    },
    Time,
    Decimal,
    Struct(Vec<Field>),
}

struct Field {
    name: String,
    kind: Kind,
    nullable: bool,
    required: bool,
    default: Value,
}

struct Topic {
    fields: Vec<Field>,
    // Decimal fields and the pattern their string must match (the `_AMOUNT_CHECKS`).
    amounts: HashMap<String, Regex>,
    has_event_id: bool,
}

fn bad(msg: impl Into<String>) -> PyErr {
    PyValueError::new_err(msg.into())
}

fn parse_fields(spec: &Value) -> PyResult<Vec<Field>> {
    let list = spec.as_array().ok_or_else(|| bad("fields: a list"))?;
    list.iter().map(parse_field).collect()
}

fn parse_field(f: &Value) -> PyResult<Field> {
    let name = f["name"].as_str().ok_or_else(|| bad("field without name"))?.to_string();
    let kind = match f["kind"].as_str().unwrap_or("") {
        "str" => Kind::Str {
            pattern: match f["pattern"].as_str() {
                Some(p) => Some(Regex::new(p).map_err(|e| bad(format!("{name}: {e}")))?),
                None => None,
            },
            min_length: f["min_length"].as_u64().unwrap_or(0) as usize,
            max_length: f["max_length"].as_u64().map(|n| n as usize),
            choices: f["choices"].as_array().map(|a| {
                a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()
            }),
        },
        "int" => Kind::Int { ge: f["ge"].as_i64(), le: f["le"].as_i64() },
        "datetime" => Kind::Time,
        "decimal" => Kind::Decimal,
        "struct" => Kind::Struct(parse_fields(&f["fields"])?),
        other => return Err(bad(format!("{name}: unknown kind {other:?}"))),
    };
    Ok(Field {
        name,
        kind,
        nullable: f["nullable"].as_bool().unwrap_or(false),
        required: f["required"].as_bool().unwrap_or(false),
        default: f.get("default").cloned().unwrap_or(Value::Null),
    })
}

// --- decoding one record into its canonical JSON (msgspec, order="deterministic") ------

/// Appends a JSON string; None (fall back) for what this subset does not escape.
fn put_str(out: &mut Vec<u8>, s: &str) -> Option<()> {
    out.push(b'"');
    for b in s.bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0..=0x1f | 0x7f => return None,
            _ => out.push(b),
        }
    }
    out.push(b'"');
    Some(())
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn digits(b: &[u8]) -> Option<i64> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
}

/// `YYYY-MM-DDTHH:MM:SS` + `Z` or `+00:00` only (anything else falls back), as
/// `(canonical text, epoch seconds)`.
fn parse_time(s: &str) -> Option<(String, i64)> {
    let b = s.as_bytes();
    let body = match b.len() {
        20 if b[19] == b'Z' => &b[..19],
        25 if &b[19..] == b"+00:00" => &b[..19],
        _ => return None,
    };
    if body[4] != b'-' || body[7] != b'-' || body[10] != b'T' || body[13] != b':' || body[16] != b':'
    {
        return None;
    }
    let (y, mo, d) = (digits(&body[0..4])?, digits(&body[5..7])?, digits(&body[8..10])?);
    let (h, mi, se) = (digits(&body[11..13])?, digits(&body[14..16])?, digits(&body[17..19])?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&mo) || d < 1 || d > month_days[(mo - 1) as usize] {
        return None;
    }
    if h > 23 || mi > 59 || se > 59 {
        return None;
    }
    let epoch = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    let text = format!("{}Z", std::str::from_utf8(body).ok()?);
    Some((text, epoch))
}

/// `str(Decimal(s))` for a string the amount pattern accepted (digits, optional sign and
/// fraction): leading zeros of the integer part dropped.
fn canonical_decimal(s: &str) -> String {
    let (sign, rest) = s.strip_prefix('-').map_or(("", s), |r| ("-", r));
    let (int, frac) = rest.split_once('.').map_or((rest, None), |(i, f)| (i, Some(f)));
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    match frac {
        Some(f) => format!("{sign}{int}.{f}"),
        None => format!("{sign}{int}"),
    }
}

struct Decoded {
    canonical: Vec<u8>,
    customer_id: String,
    event_id: Option<String>,
}

struct Limits {
    earliest: i64,
    latest: i64,
    max_bytes: usize,
}

fn put_value(
    out: &mut Vec<u8>,
    field: &Field,
    value: Option<&Value>,
    amounts: &HashMap<String, Regex>,
    limits: &Limits,
) -> Option<()> {
    let value = match value {
        Some(v) => v,
        None if field.required => return None,
        // a missing record field: its default record (the spec carries no value for it)
        None if matches!(field.kind, Kind::Struct(_)) && field.default.is_null() => {
            return put_struct(out, kind_fields(&field.kind), &serde_json::Map::new(), amounts, limits);
        }
        None => &field.default,
    };
    if value.is_null() {
        if !field.nullable {
            return None;
        }
        out.extend_from_slice(b"null");
        return Some(());
    }
    match &field.kind {
        Kind::Str { pattern, min_length, max_length, choices } => {
            let s = value.as_str()?;
            let n = s.chars().count();
            if n < *min_length || max_length.is_some_and(|m| n > m) {
                return None;
            }
            if pattern.as_ref().is_some_and(|p| !p.is_match(s)) {
                return None;
            }
            if choices.as_ref().is_some_and(|c| !c.iter().any(|x| x == s)) {
                return None;
            }
            put_str(out, s)
        }
        Kind::Int { ge, le } => {
            let n = value.as_i64()?;
            if ge.is_some_and(|g| n < g) || le.is_some_and(|l| n > l) {
                return None;
            }
            out.extend_from_slice(n.to_string().as_bytes());
            Some(())
        }
        Kind::Time => {
            let (text, epoch) = parse_time(value.as_str()?)?;
            if epoch < limits.earliest || epoch >= limits.latest {
                return None;
            }
            put_str(out, &text)
        }
        Kind::Decimal => {
            let s = value.as_str()?;
            let pattern = amounts.get(&field.name)?;
            if !pattern.is_match(s) {
                return None;
            }
            put_str(out, &canonical_decimal(s))
        }
        Kind::Struct(fields) => put_struct(out, fields, value.as_object()?, amounts, limits),
    }
}

fn kind_fields(kind: &Kind) -> &[Field] {
    match kind {
        Kind::Struct(f) => f,
        _ => &[],
    }
}

fn put_struct(
    out: &mut Vec<u8>,
    fields: &[Field],
    object: &serde_json::Map<String, Value>,
    amounts: &HashMap<String, Regex>,
    limits: &Limits,
) -> Option<()> {
    out.push(b'{');
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        put_str(out, &field.name)?;
        out.push(b':');
        put_value(out, field, object.get(&field.name), amounts, limits)?;
    }
    out.push(b'}');
    Some(())
}

fn decode_native(
    topic: &Topic,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    limits: &Limits,
) -> Option<Decoded> {
    let value = value?;
    if value.len() > limits.max_bytes {
        return None;
    }
    let parsed: Value = serde_json::from_slice(value).ok()?;
    let object = parsed.as_object()?;
    let mut canonical = Vec::with_capacity(value.len() + 64);
    put_struct(&mut canonical, &topic.fields, object, &topic.amounts, limits)?;
    let customer_id = object.get("customer_id")?.as_str()?.to_string();
    if key? != customer_id.as_bytes() {
        return None;
    }
    let event_id = if topic.has_event_id {
        Some(object.get("event_id")?.as_str()?.to_string())
    } else {
        None
    };
    Some(Decoded { canonical, customer_id, event_id })
}

// --- msgpack: a tree, written back the way msgspec writes it ---------------------------

#[derive(Clone)]
enum Pack {
    Nil,
    Bool(bool),
    UInt(u64),
    Int(i64), // negative only
    F64(f64),
    Str(Vec<u8>),
    Bin(Vec<u8>),
    Array(Vec<Pack>),
    Map(Vec<(Pack, Pack)>),
    Ext(i8, Vec<u8>),
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.data.get(self.at..end)?;
        self.at = end;
        Some(s)
    }
    fn uint(&mut self, n: usize) -> Option<u64> {
        Some(self.take(n)?.iter().fold(0u64, |v, b| v << 8 | u64::from(*b)))
    }
    fn len(&mut self, n: usize) -> Option<usize> {
        self.uint(n).map(|v| v as usize)
    }
    fn bytes(&mut self, n: usize) -> Option<Vec<u8>> {
        self.take(n).map(<[u8]>::to_vec)
    }
    fn array(&mut self, n: usize, depth: u32) -> Option<Pack> {
        let mut items = Vec::with_capacity(n.min(4096));
        for _ in 0..n {
            items.push(self.read(depth + 1)?);
        }
        Some(Pack::Array(items))
    }
    fn map(&mut self, n: usize, depth: u32) -> Option<Pack> {
        let mut items = Vec::with_capacity(n.min(4096));
        for _ in 0..n {
            let k = self.read(depth + 1)?;
            items.push((k, self.read(depth + 1)?));
        }
        Some(Pack::Map(items))
    }
    fn read(&mut self, depth: u32) -> Option<Pack> {
        if depth > 64 {
            return None;
        }
        let b = *self.take(1)?.first()?;
        Some(match b {
            0x00..=0x7f => Pack::UInt(u64::from(b)),
            0x80..=0x8f => return self.map(usize::from(b & 0x0f), depth),
            0x90..=0x9f => return self.array(usize::from(b & 0x0f), depth),
            0xa0..=0xbf => Pack::Str(self.bytes(usize::from(b & 0x1f))?),
            0xc0 => Pack::Nil,
            0xc2 => Pack::Bool(false),
            0xc3 => Pack::Bool(true),
            0xc4 => {
                let n = self.len(1)?;
                Pack::Bin(self.bytes(n)?)
            }
            0xc5 => {
                let n = self.len(2)?;
                Pack::Bin(self.bytes(n)?)
            }
            0xc6 => {
                let n = self.len(4)?;
                Pack::Bin(self.bytes(n)?)
            }
            0xc7..=0xc9 => {
                let n = self.len(1 << (b - 0xc7))?;
                let t = self.take(1)?[0] as i8;
                Pack::Ext(t, self.bytes(n)?)
            }
            0xcb => Pack::F64(f64::from_bits(self.uint(8)?)),
            0xcc => Pack::UInt(self.uint(1)?),
            0xcd => Pack::UInt(self.uint(2)?),
            0xce => Pack::UInt(self.uint(4)?),
            0xcf => Pack::UInt(self.uint(8)?),
            0xd0 => Pack::Int(i64::from(self.uint(1)? as u8 as i8)),
            0xd1 => Pack::Int(i64::from(self.uint(2)? as u16 as i16)),
            0xd2 => Pack::Int(i64::from(self.uint(4)? as u32 as i32)),
            0xd3 => Pack::Int(self.uint(8)? as i64),
            0xd4..=0xd8 => {
                let t = self.take(1)?[0] as i8;
                Pack::Ext(t, self.bytes(1 << (b - 0xd4))?)
            }
            0xd9 => {
                let n = self.len(1)?;
                Pack::Str(self.bytes(n)?)
            }
            0xda => {
                let n = self.len(2)?;
                Pack::Str(self.bytes(n)?)
            }
            0xdb => {
                let n = self.len(4)?;
                Pack::Str(self.bytes(n)?)
            }
            0xdc => {
                let n = self.len(2)?;
                return self.array(n, depth);
            }
            0xdd => {
                let n = self.len(4)?;
                return self.array(n, depth);
            }
            0xde => {
                let n = self.len(2)?;
                return self.map(n, depth);
            }
            0xdf => {
                let n = self.len(4)?;
                return self.map(n, depth);
            }
            0xe0..=0xff => Pack::Int(i64::from(b as i8)),
            _ => return None, // 0xc1 (never used), 0xca (float32: msgspec writes float64)
        })
    }
}

fn unpack(data: &[u8]) -> Option<Pack> {
    let mut r = Reader { data, at: 0 };
    let v = r.read(0)?;
    (r.at == data.len()).then_some(v)
}

fn put_len(out: &mut Vec<u8>, n: usize, fix: u8, fix_max: usize, m8: Option<u8>, m16: u8, m32: u8) {
    if n <= fix_max {
        out.push(fix | n as u8);
    } else if let (Some(m), true) = (m8, n <= 0xff) {
        out.extend_from_slice(&[m, n as u8]);
    } else if n <= 0xffff {
        out.push(m16);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(m32);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn pack(out: &mut Vec<u8>, v: &Pack) {
    match v {
        Pack::Nil => out.push(0xc0),
        Pack::Bool(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Pack::UInt(n) => {
            let n = *n;
            if n <= 0x7f {
                out.push(n as u8);
            } else if n <= 0xff {
                out.extend_from_slice(&[0xcc, n as u8]);
            } else if n <= 0xffff {
                out.push(0xcd);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            } else if n <= 0xffff_ffff {
                out.push(0xce);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            } else {
                out.push(0xcf);
                out.extend_from_slice(&n.to_be_bytes());
            }
        }
        Pack::Int(n) => {
            let n = *n;
            if n >= 0 {
                pack(out, &Pack::UInt(n as u64));
            } else if n >= -32 {
                out.push(n as i8 as u8);
            } else if n >= i64::from(i8::MIN) {
                out.extend_from_slice(&[0xd0, n as i8 as u8]);
            } else if n >= i64::from(i16::MIN) {
                out.push(0xd1);
                out.extend_from_slice(&(n as i16).to_be_bytes());
            } else if n >= i64::from(i32::MIN) {
                out.push(0xd2);
                out.extend_from_slice(&(n as i32).to_be_bytes());
            } else {
                out.push(0xd3);
                out.extend_from_slice(&n.to_be_bytes());
            }
        }
        Pack::F64(f) => {
            out.push(0xcb);
            out.extend_from_slice(&f.to_bits().to_be_bytes());
        }
        Pack::Str(s) => {
            put_len(out, s.len(), 0xa0, 31, Some(0xd9), 0xda, 0xdb);
            out.extend_from_slice(s);
        }
        Pack::Bin(s) => {
            put_len(out, s.len(), 0xc4, 0, Some(0xc4), 0xc5, 0xc6);
            out.extend_from_slice(s);
        }
        Pack::Array(items) => {
            put_len(out, items.len(), 0x90, 15, None, 0xdc, 0xdd);
            for item in items {
                pack(out, item);
            }
        }
        Pack::Map(items) => {
            put_len(out, items.len(), 0x80, 15, None, 0xde, 0xdf);
            for (k, item) in items {
                pack(out, k);
                pack(out, item);
            }
        }
        Pack::Ext(t, data) => {
            let fixed = match data.len() {
                1 => Some(0xd4),
                2 => Some(0xd5),
                4 => Some(0xd6),
                8 => Some(0xd7),
                16 => Some(0xd8),
                _ => None,
            };
            match fixed {
                Some(m) => out.push(m),
                None => put_len(out, data.len(), 0xc7, 0, Some(0xc7), 0xc8, 0xc9),
            }
            out.push(*t as u8);
            out.extend_from_slice(data);
        }
    }
}

// --- the state: format 4 blob <-> (remembered events, msgpack tree) --------------------

struct State {
    recent: Vec<(u64, u16)>,
    body: Pack,
}


// --- the aggregates of a booking (core/aggregates.py's update_aggregates) --------------

/// The catalogue's `aggregates` rules and the state's caps, handed over from Python.
struct AggregateRules {
    income_categories: Vec<String>,
    balance_smoothing: f64,
    income_months: usize,
    max_overdraft_days: usize,
    max_payees: usize,
    sample_cap: u64,
    month_cap: u64,
    aggregates_at: usize, // index of `aggregates` in CustomerState's array
}

/// Epoch seconds of msgspec's canonical RFC 3339 text (`Z` or `+HH:MM`, fractions).
fn epoch_of(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[10] != b'T' {
        return None;
    }
    let (y, mo, d) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    let (h, mi, se) = (digits(&b[11..13])?, digits(&b[14..16])?, digits(&b[17..19])?);
    let mut rest = &b[19..];
    if rest.first() == Some(&b'.') {
        let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        rest = &rest[1 + n..];
    }
    let offset = match rest {
        b"Z" => 0,
        [sign @ (b'+' | b'-'), oh @ .., ] if oh.len() == 5 && oh[2] == b':' => {
            let m = digits(&oh[0..2])? * 60 + digits(&oh[3..5])?;
            if *sign == b'-' { -m } else { m }
        }
        _ => return None,
    };
    // fractions never move the UTC day: whole seconds are enough
    Some(days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset * 60)
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `int((Decimal(text) * 100).to_integral_value(ROUND_HALF_EVEN))`
fn cents(text: &str) -> Option<i64> {
    let (neg, rest) = text.strip_prefix('-').map_or((false, text), |r| (true, r));
    let (int, frac) = rest.split_once('.').unwrap_or((rest, ""));
    let whole: i128 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let frac_digits: Vec<u8> = frac.bytes().collect();
    if !frac_digits.iter().all(u8::is_ascii_digit) || frac_digits.len() > 18 {
        return None;
    }
    let two = |i: usize| i128::from(frac_digits.get(i).map_or(0, |d| d - b'0'));
    let mut c = whole * 100 + two(0) * 10 + two(1);
    let tail = &frac_digits[frac_digits.len().min(2)..];
    let first = tail.first().map_or(0, |d| d - b'0');
    let rest_nonzero = tail.iter().skip(1).any(|d| *d != b'0');
    if first > 5 || (first == 5 && (rest_nonzero || c % 2 == 1)) {
        c += 1;
    }
    i64::try_from(if neg { -c } else { c }).ok()
}

fn as_int(v: &Pack) -> Option<i64> {
    match v {
        Pack::UInt(n) => i64::try_from(*n).ok(),
        Pack::Int(n) => Some(*n),
        _ => None,
    }
}

fn int_pack(n: i64) -> Pack {
    if n >= 0 { Pack::UInt(n as u64) } else { Pack::Int(n) }
}

fn opt_int(v: &Pack) -> Option<Option<i64>> {
    match v {
        Pack::Nil => Some(None),
        other => as_int(other).map(Some),
    }
}

fn text_of(v: &Pack) -> Option<String> {
    match v {
        Pack::Str(s) => String::from_utf8(s.clone()).ok(),
        _ => None,
    }
}

struct Payee {
    key: String,
    label: String,
    months: i64,
    last_month: i64,
}

/// `update_aggregates` on the msgpack tree of `Aggregates`; None: not handled natively.
/// `payee` gives `(payee_key, label)` of a debit (Python's strip/lower for other text).
fn update_aggregates(
    agg: &mut Pack,
    tx: &serde_json::Map<String, Value>,
    rules: &AggregateRules,
    payee: &mut dyn FnMut(&str, Option<&str>) -> Option<Option<(String, String)>>,
) -> Option<()> {
    let Pack::Array(items) = agg else { return None };
    if items.len() != 8 {
        return None;
    }
    let day = epoch_of(tx.get("booked_at")?.as_str()?)?.div_euclid(86400);
    let (y, m, d) = civil_from_days(day);
    let month = y * 12 + m - 1;
    let direction = tx.get("direction")?.as_str()?;
    let category = tx.get("category")?.as_str()?;
    // income
    if direction == "credit" && rules.income_categories.iter().any(|c| c == category) {
        let Pack::Array(income) = &items[0] else { return None };
        let mut by_month: Vec<(i64, i64)> = Vec::with_capacity(income.len() + 1);
        for entry in income {
            let Pack::Array(pair) = entry else { return None };
            if pair.len() != 2 {
                return None;
            }
            let (mo, c) = (as_int(&pair[0])?, as_int(&pair[1])?);
            match by_month.iter_mut().find(|(x, _)| *x == mo) {
                Some(e) => e.1 = c, // a dict: the last one wins
                None => by_month.push((mo, c)),
            }
        }
        if !by_month.iter().any(|(x, _)| *x == month) {
            let salary = as_int(&items[1])?;
            items[1] = int_pack(rules.month_cap.min((salary + 1) as u64) as i64);
            by_month.push((month, 0));
        }
        let add = cents(tx.get("amount")?.as_str()?)?;
        by_month.iter_mut().find(|(x, _)| *x == month)?.1 += add;
        by_month.sort();
        let keep = by_month.len().saturating_sub(rules.income_months);
        items[0] = Pack::Array(
            by_month[keep..]
                .iter()
                .map(|(mo, c)| Pack::Array(vec![int_pack(*mo), int_pack(*c)]))
                .collect(),
        );
        let text = format!("{y:04}-{m:02}-{d:02}");
        let later = match &items[2] {
            Pack::Nil => true,
            Pack::Str(s) => text.as_bytes() > s.as_slice(),
            _ => return None,
        };
        if later {
            items[2] = Pack::Str(text.into_bytes());
        }
    }
    // balance
    if let Some(balance) = tx.get("balance_after").filter(|v| !v.is_null()) {
        let balance = cents(balance.as_str()?)?;
        items[5] = int_pack(balance);
        let usual = match opt_int(&items[3])? {
            None => balance,
            Some(u) => {
                let next = u as f64 + rules.balance_smoothing * (balance - u) as f64;
                next.round_ties_even() as i64
            }
        };
        items[3] = int_pack(usual);
        let samples = as_int(&items[4])?;
        items[4] = int_pack(rules.sample_cap.min((samples + 1) as u64) as i64);
        if balance < 0 {
            let Pack::Array(days) = &items[6] else { return None };
            let mut days: Vec<i64> = days.iter().map(as_int).collect::<Option<_>>()?;
            let ordinal = day + 719163; // date.toordinal(): days since 0001-01-01, plus one
            days.push(ordinal);
            days.sort_unstable();
            days.dedup();
            let keep = days.len().saturating_sub(rules.max_overdraft_days);
            items[6] = Pack::Array(days[keep..].iter().map(|n| int_pack(*n)).collect());
        }
    }
    // recurring payees of debits
    if direction == "debit" {
        let counterparty = tx.get("counterparty")?.as_object()?;
        let name = counterparty.get("name")?.as_str()?;
        let iban = counterparty.get("iban")?.as_str();
        if let Some((key, label)) = payee(name, iban)? {
            let Pack::Array(list) = &items[7] else { return None };
            let mut payees = Vec::with_capacity(list.len() + 1);
            for p in list {
                let Pack::Array(f) = p else { return None };
                if f.len() != 4 {
                    return None;
                }
                payees.push(Payee {
                    key: text_of(&f[0])?,
                    label: text_of(&f[1])?,
                    months: as_int(&f[2])?,
                    last_month: as_int(&f[3])?,
                });
            }
            let found = payees.iter().position(|p| p.key == key);
            let entry = match found {
                None => Payee { key: key.clone(), label, months: 1, last_month: month },
                Some(i) if month > payees[i].last_month => Payee {
                    key: key.clone(),
                    label: payees[i].label.clone(),
                    months: (rules.month_cap as i64).min(payees[i].months + 1),
                    last_month: month,
                },
                Some(i) => Payee {
                    key: key.clone(),
                    label: payees[i].label.clone(),
                    months: payees[i].months,
                    last_month: payees[i].last_month,
                },
            };
            payees.retain(|p| p.key != key);
            payees.push(entry);
            // stable sort: ties keep the order of `[*others, entry]`, as Python's sorted
            payees.sort_by(|a, b| {
                (-a.months, -a.last_month, &a.key).cmp(&(-b.months, -b.last_month, &b.key))
            });
            payees.truncate(rules.max_payees);
            items[7] = Pack::Array(
                payees
                    .into_iter()
                    .map(|p| {
                        Pack::Array(vec![
                            Pack::Str(p.key.into_bytes()),
                            Pack::Str(p.label.into_bytes()),
                            int_pack(p.months),
                            int_pack(p.last_month),
                        ])
                    })
                    .collect(),
            );
        }
    }
    Some(())
}

/// `payee_key` and the label of `update_aggregates` for plain printable ASCII; None
/// (ask Python) for any other text.
fn ascii_payee(name: &str, iban: Option<&str>) -> Option<Option<(String, String)>> {
    let plain = |s: &str| s.bytes().all(|b| (0x20..0x7f).contains(&b));
    if !plain(name) || !iban.is_none_or(plain) {
        return None;
    }
    let stripped = name.trim_matches(' ');
    let (key, label) = if !stripped.is_empty() {
        (short_key("name", &stripped.to_ascii_lowercase()), stripped.chars().take(24).collect())
    } else if let Some(iban) = iban.filter(|i| !i.is_empty()) {
        (short_key("iban", iban), iban.chars().take(24).collect())
    } else {
        return Some(None);
    };
    Some(Some((key, label)))
}

/// `ids.short_key`: 8 hex chars of a 4-byte blake2b of the parts joined by U+001F.
fn short_key(kind: &str, value: &str) -> String {
    let joined = format!("{kind}\u{1f}{value}");
    let digest = blake2b(joined.as_bytes(), 4);
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

// --- the module ------------------------------------------------------------------------

#[pyclass]
struct Batcher {
    topics: HashMap<String, Topic>,
    limits: Limits,
    max_recent: usize,
    dictionary_id: u8,
    // `compressed_part(new_state(""))` and the index of `customer_id` in it (from Python)
    new_state: Pack,
    customer_id_at: usize,
    aggregates: AggregateRules,
    compressor: zstd::bulk::Compressor<'static>,
    decompressor: zstd::bulk::Decompressor<'static>,
}

fn blake2b(data: &[u8], size: usize) -> [u8; 8] {
    let mut h = Blake2bVar::new(size).expect("blake2b size");
    h.update(data);
    let mut out = [0u8; 8];
    h.finalize_variable(&mut out[..size]).expect("blake2b output");
    out
}

/// The 48-bit id digest and 16-bit content digest of `recent_events.fingerprint`.
fn fingerprint(event_id: &str, canonical: &[u8]) -> (u64, u16) {
    let ident = blake2b(event_id.as_bytes(), 8);
    let content = blake2b(canonical, 4);
    (u64::from_be_bytes(ident) >> 16, u16::from_be_bytes([content[0], content[1]]))
}

impl Batcher {
    /// A new booking's aggregates (`update_aggregates`), from its canonical JSON.
    fn apply_booking(
        &self,
        body: &mut Pack,
        canonical: &[u8],
        payee: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let tx: Value = serde_json::from_slice(canonical).map_err(|e| bad(e.to_string()))?;
        let tx = tx.as_object().ok_or_else(|| bad("a booking: not an object"))?;
        let Pack::Array(fields) = body else { return Err(bad("state: not an array")) };
        let agg = fields
            .get_mut(self.aggregates.aggregates_at)
            .ok_or_else(|| bad("state: no aggregates"))?;
        let mut failed: Option<PyErr> = None;
        let mut ask = |name: &str, iban: Option<&str>| -> Option<Option<(String, String)>> {
            if let Some(got) = ascii_payee(name, iban) {
                return Some(got);
            }
            match payee.call1((name, iban)).and_then(|r| r.extract::<Option<(String, String)>>()) {
                Ok(got) => Some(got),
                Err(e) => {
                    failed = Some(e);
                    None
                }
            }
        };
        let done = update_aggregates(agg, tx, &self.aggregates, &mut ask);
        if let Some(e) = failed {
            return Err(e);
        }
        done.ok_or_else(|| bad("a booking's aggregates not handled natively"))
    }

    fn decode_state(&mut self, py: Python<'_>, blob: &[u8], restate: &Bound<'_, PyAny>) -> PyResult<State> {
        let owned;
        let blob = if blob.first() == Some(&PACKED_FORMAT) && blob.get(1) == Some(&self.dictionary_id) {
            blob
        } else {
            // Another format or dictionary (or corrupt): Python reads it (or raises).
            let again = restate.call1((PyBytes::new(py, blob),))?;
            owned = again.extract::<Vec<u8>>()?;
            &owned[..]
        };
        let corrupt = || bad("corrupt customer state (native)");
        let n = usize::from(*blob.get(2).ok_or_else(corrupt)?);
        let frame = 3 + n * MARK_BYTES;
        if blob.len() <= frame {
            return Err(corrupt());
        }
        let recent = (0..n)
            .map(|i| {
                let at = 3 + i * MARK_BYTES;
                let mut e = [0u8; 8];
                e[2..].copy_from_slice(&blob[at..at + 6]);
                (u64::from_be_bytes(e), u16::from_be_bytes([blob[at + 6], blob[at + 7]]))
            })
            .collect();
        let size = zstd::zstd_safe::get_frame_content_size(&blob[frame..])
            .ok()
            .flatten()
            .ok_or_else(corrupt)? as usize;
        if size > MAX_STATE_BYTES {
            return Err(corrupt());
        }
        let body = self.decompressor.decompress(&blob[frame..], size).map_err(|_| corrupt())?;
        let body = unpack(&body).ok_or_else(corrupt)?;
        Ok(State { recent, body })
    }

    fn encode_state(&mut self, state: &State) -> PyResult<Vec<u8>> {
        let mut body = Vec::with_capacity(1024);
        pack(&mut body, &state.body);
        let mut out = Vec::with_capacity(3 + state.recent.len() * MARK_BYTES + body.len());
        out.extend_from_slice(&[PACKED_FORMAT, self.dictionary_id, state.recent.len() as u8]);
        for (event, content) in &state.recent {
            out.extend_from_slice(&event.to_be_bytes()[2..]);
            out.extend_from_slice(&content.to_be_bytes());
        }
        let frame = self.compressor.compress(&body).map_err(|e| bad(format!("zstd: {e}")))?;
        out.extend_from_slice(&frame);
        Ok(out)
    }
}

#[pymethods]
impl Batcher {
    #[new]
    fn new(
        spec: &str,
        dictionary: &[u8],
        dictionary_id: u8,
        level: i32,
        new_state: &[u8],
        customer_id_at: usize,
        aggregates: &str,
    ) -> PyResult<Self> {
        let a: Value = serde_json::from_str(aggregates).map_err(|e| bad(format!("aggregates: {e}")))?;
        let num = |k: &str| a[k].as_u64().ok_or_else(|| bad(format!("aggregates: {k}")));
        let aggregates = AggregateRules {
            income_categories: a["income_categories"]
                .as_array()
                .ok_or_else(|| bad("aggregates: income_categories"))?
                .iter()
                .filter_map(|c| c.as_str().map(str::to_string))
                .collect(),
            balance_smoothing: a["balance_smoothing"]
                .as_f64()
                .ok_or_else(|| bad("aggregates: balance_smoothing"))?,
            income_months: num("income_months")? as usize,
            max_overdraft_days: num("max_overdraft_days")? as usize,
            max_payees: num("max_payees")? as usize,
            sample_cap: num("sample_cap")?,
            month_cap: num("month_cap")?,
            aggregates_at: num("aggregates_at")? as usize,
        };
        let new_state = unpack(new_state).ok_or_else(|| bad("new_state: not msgpack"))?;
        match &new_state {
            Pack::Array(items) if customer_id_at < items.len() => {}
            _ => return Err(bad("new_state: not an array with customer_id")),
        }
        let spec: Value = serde_json::from_str(spec).map_err(|e| bad(format!("spec: {e}")))?;
        let mut topics = HashMap::new();
        for (name, t) in spec["topics"].as_object().ok_or_else(|| bad("spec: topics"))? {
            let fields = parse_fields(&t["fields"])?;
            let mut amounts = HashMap::new();
            for (field, pattern) in t["amounts"].as_object().into_iter().flatten() {
                let p = pattern.as_str().ok_or_else(|| bad("amount pattern"))?;
                amounts.insert(field.clone(), Regex::new(p).map_err(|e| bad(e.to_string()))?);
            }
            let has_event_id = fields.iter().any(|f| f.name == "event_id");
            topics.insert(name.clone(), Topic { fields, amounts, has_event_id });
        }
        let limits = Limits {
            earliest: spec["earliest"].as_i64().ok_or_else(|| bad("spec: earliest"))?,
            latest: spec["latest"].as_i64().ok_or_else(|| bad("spec: latest"))?,
            max_bytes: spec["max_bytes"].as_u64().ok_or_else(|| bad("spec: max_bytes"))? as usize,
        };
        let max_recent = spec["max_recent"].as_u64().ok_or_else(|| bad("spec: max_recent"))? as usize;
        let z = |e: std::io::Error| bad(format!("zstd: {e}"));
        let mut compressor = zstd::bulk::Compressor::with_dictionary(level, dictionary).map_err(z)?;
        compressor.include_checksum(false).map_err(z)?;
        compressor.include_contentsize(true).map_err(z)?;
        compressor.include_dictid(false).map_err(z)?;
        let decompressor = zstd::bulk::Decompressor::with_dictionary(dictionary).map_err(z)?;
        Ok(Batcher {
            topics,
            limits,
            max_recent,
            dictionary_id,
            new_state,
            customer_id_at,
            aggregates,
            compressor,
            decompressor,
        })
    }

    /// One batch: `records` as `(topic, key, value)`, `states` the stored blobs by
    /// customer id (None: a customer without a state). Returns `(new_states, outputs)`:
    /// the format-4 blob of every customer the batch touched, and per record
    /// `(customer_id, verdict, canonical JSON, dead-letter reason)` with verdict `new`,
    /// `repeat`, `conflict`, `unnamed` (no event_id) or `dead`.
    #[allow(clippy::type_complexity)]
    #[pyo3(signature = (records, states, fallback, restate, payee, canonical = true))]
    fn run_batch<'py>(
        &mut self,
        py: Python<'py>,
        records: Vec<(String, Option<Bound<'py, PyBytes>>, Option<Bound<'py, PyBytes>>)>,
        states: Bound<'py, PyDict>,
        fallback: Bound<'py, PyAny>,
        restate: Bound<'py, PyAny>,
        payee: Bound<'py, PyAny>,
        canonical: bool,
    ) -> PyResult<(Bound<'py, PyDict>, Bound<'py, PyList>)> {
        let mut touched: Vec<String> = Vec::new();
        let mut live: HashMap<String, State> = HashMap::new();
        let outputs = PyList::empty(py);
        for (topic, key, value) in &records {
            let native = self.topics.get(topic).and_then(|t| {
                decode_native(
                    t,
                    key.as_ref().map(|k| k.as_bytes()),
                    value.as_ref().map(|v| v.as_bytes()),
                    &self.limits,
                )
            });
            let decoded = match native {
                Some(d) => d,
                None => {
                    let got = fallback.call1((topic, key, value))?;
                    let got = got.cast::<PyTuple>()?;
                    let status: String = got.get_item(0)?.extract()?;
                    if status == "dead" {
                        let reason: String = got.get_item(1)?.extract()?;
                        outputs.append((py.None(), "dead", py.None(), reason))?;
                        continue;
                    }
                    Decoded {
                        customer_id: got.get_item(1)?.extract()?,
                        event_id: got.get_item(2)?.extract()?,
                        canonical: got.get_item(3)?.extract()?,
                    }
                }
            };
            let cid = decoded.customer_id;
            if !live.contains_key(&cid) {
                let blob = states.get_item(&cid)?;
                let blob = match &blob {
                    Some(b) if !b.is_none() => Some(b.cast::<PyBytes>()?.as_bytes()),
                    _ => None,
                };
                let state = match blob {
                    Some(blob) if !blob.is_empty() => self.decode_state(py, blob, &restate)?,
                    _ => {
                        let mut body = self.new_state.clone();
                        if let Pack::Array(items) = &mut body {
                            items[self.customer_id_at] = Pack::Str(cid.as_bytes().to_vec());
                        }
                        State { recent: Vec::new(), body }
                    }
                };
                live.insert(cid.clone(), state);
                touched.push(cid.clone());
            }
            let state = live.get_mut(&cid).expect("inserted above");
            let verdict = match &decoded.event_id {
                None => "unnamed",
                Some(event_id) => {
                    let (event, content) = fingerprint(event_id, &decoded.canonical);
                    match state.recent.iter().find(|(e, _)| *e == event) {
                        Some((_, c)) if *c == content => "repeat",
                        Some(_) => "conflict",
                        None => {
                            state.recent.push((event, content));
                            if state.recent.len() > self.max_recent {
                                let extra = state.recent.len() - self.max_recent;
                                state.recent.drain(..extra);
                            }
                            if topic == "bank.transactions" {
                                self.apply_booking(&mut state.body, &decoded.canonical, &payee)?;
                            }
                            "new"
                        }
                    }
                }
            };
            if canonical {
                outputs.append((cid, verdict, PyBytes::new(py, &decoded.canonical), py.None()))?;
            } else {
                outputs.append((cid, verdict, py.None(), py.None()))?;
            }
        }
        let new_states = PyDict::new(py);
        for cid in touched {
            let state = live.remove(&cid).expect("touched");
            let blob = self.encode_state(&state)?;
            new_states.set_item(cid, PyBytes::new(py, &blob))?;
        }
        Ok((new_states, outputs))
    }
}

#[pymodule]
fn impulse_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Batcher>()?;
    Ok(())
}
