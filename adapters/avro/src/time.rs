//! ISO-8601 text for Avro's date and time logical types.
//!
//! Dates are days since 1970-01-01, timestamps are a count of milli/micro/nanoseconds since
//! the epoch, times are a count since midnight. The proleptic Gregorian calendar is used for
//! every year (as Avro specifies), with Howard Hinnant's `civil_from_days`, so any `i64`
//! formats without overflow or a calendar library.

use std::fmt::Write;

/// Sub-second precision of a time or timestamp value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unit {
    /// Milliseconds: three fractional digits.
    Millis,
    /// Microseconds: six fractional digits.
    Micros,
    /// Nanoseconds: nine fractional digits.
    Nanos,
}

impl Unit {
    fn per_second(self) -> i64 {
        match self {
            Unit::Millis => 1_000,
            Unit::Micros => 1_000_000,
            Unit::Nanos => 1_000_000_000,
        }
    }
    fn digits(self) -> usize {
        match self {
            Unit::Millis => 3,
            Unit::Micros => 6,
            Unit::Nanos => 9,
        }
    }
}

/// (year, month, day) of `days` since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32; // [1, 12]
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn push_date(out: &mut String, days: i64) {
    let (y, m, d) = civil_from_days(days);
    // ISO-8601 wants 4 digits, and a sign with more digits outside 0000..=9999.
    let _ = if (0..=9999).contains(&y) { write!(out, "{y:04}-{m:02}-{d:02}") } else { write!(out, "{y:+07}-{m:02}-{d:02}") };
}

fn push_clock(out: &mut String, secs_of_day: i64, frac: i64, unit: Unit) {
    let (h, mi, s) = (secs_of_day / 3600, secs_of_day / 60 % 60, secs_of_day % 60);
    let _ = write!(out, "{h:02}:{mi:02}:{s:02}.{frac:0width$}", width = unit.digits());
}

/// `YYYY-MM-DD` for an Avro `date` (days since the epoch).
pub(crate) fn date(days: i64) -> String {
    let mut out = String::with_capacity(10);
    push_date(&mut out, days);
    out
}

/// `YYYY-MM-DDTHH:MM:SS.fffZ` for an Avro `timestamp-*` (`utc = true`), or the same without
/// the `Z` for a `local-timestamp-*` (a wall-clock time in no particular zone).
pub(crate) fn timestamp(count: i64, unit: Unit, utc: bool) -> String {
    let secs = count.div_euclid(unit.per_second());
    let frac = count.rem_euclid(unit.per_second());
    let mut out = String::with_capacity(30);
    push_date(&mut out, secs.div_euclid(86_400));
    out.push('T');
    push_clock(&mut out, secs.rem_euclid(86_400), frac, unit);
    if utc {
        out.push('Z');
    }
    out
}

/// `HH:MM:SS.fff` (or `.ffffff`) for an Avro `time-*` (a count since midnight). Values
/// outside one day, which the spec does not allow, wrap around midnight.
pub(crate) fn time_of_day(count: i64, unit: Unit) -> String {
    let secs = count.div_euclid(unit.per_second());
    let frac = count.rem_euclid(unit.per_second());
    let mut out = String::with_capacity(15);
    push_clock(&mut out, secs.rem_euclid(86_400), frac, unit);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(-1), "1969-12-31");
        assert_eq!(date(19_844), "2024-05-01");
        assert_eq!(date(11_016), "2000-02-29");
        assert_eq!(date(-719_528), "0000-01-01");
        assert_eq!(date(2_932_897), "+010000-01-01", "the six-digit form JavaScript dates use");
    }

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(1_714_566_896_789, Unit::Millis, true), "2024-05-01T12:34:56.789Z");
        assert_eq!(timestamp(1_714_566_896_789_012, Unit::Micros, true), "2024-05-01T12:34:56.789012Z");
        assert_eq!(timestamp(1_714_566_896_789_012_345, Unit::Nanos, false), "2024-05-01T12:34:56.789012345");
        assert_eq!(timestamp(-1, Unit::Millis, true), "1969-12-31T23:59:59.999Z");
        // i64::MIN must not overflow
        assert!(timestamp(i64::MIN, Unit::Millis, true).starts_with('-'));
    }

    #[test]
    fn times() {
        assert_eq!(time_of_day(45_296_789, Unit::Millis), "12:34:56.789");
        assert_eq!(time_of_day(45_296_789_012, Unit::Micros), "12:34:56.789012");
        assert_eq!(time_of_day(0, Unit::Millis), "00:00:00.000");
    }
}
