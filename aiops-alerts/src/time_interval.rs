//! Alertmanager's time intervals: named recurring periods (times of day, weekdays, days of
//! the month, months, years, in a time zone) that mute a route's notifications
//! (`mute_time_intervals`) or allow them only while active (`active_time_intervals`).
//!
//! Semantics, as Alertmanager documents them:
//! - `times`: `start_time` / `end_time` as `HH:MM` (24 h, `24:00` allowed as an end), the
//!   start included and the end excluded;
//! - `weekdays`: names (`monday`), or inclusive ranges `monday:friday`;
//! - `days_of_month`: `1`..`31`, negative counts from the end (`-1` = last day), inclusive
//!   ranges (`1:5`, `-3:-1`); a range past the month's end is clamped to it;
//! - `months`: names or numbers `1`..`12`, inclusive ranges;
//! - `years`: numbers, inclusive ranges;
//! - `location`: an IANA time zone name (default UTC).
//!
//! Every listed field must match (an empty field matches anything); within a field one
//! element must match; a named interval is active when one of its entries is. Unlike
//! Alertmanager, `location: Local` is refused: the engine never reads the host's clock or
//! zone, so the same input always gives the same notifications.

use std::collections::BTreeMap;

use aiops_core::TimestampMs;
use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::error::{AlertError, Result};
use crate::route::Route;

/// A `times:` entry as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeRangeConfig {
    /// `HH:MM`, included.
    pub start_time: String,
    /// `HH:MM`, excluded (`24:00` for the end of the day).
    pub end_time: String,
}

/// A number or a text in a list (`days_of_month: [1, '5:10']`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Item {
    /// A bare number.
    Number(i64),
    /// A name, a number or a range `a:b`.
    Text(String),
}

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Item;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number, a name (monday, january) or a range a:b")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<Item, E> {
                Ok(Item::Number(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<Item, E> {
                i64::try_from(v)
                    .map(Item::Number)
                    .map_err(|_| E::custom(format!("{v} is too large")))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Item, E> {
                Ok(Item::Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl Item {
    fn text(&self) -> String {
        match self {
            Item::Number(n) => n.to_string(),
            Item::Text(s) => s.trim().to_string(),
        }
    }
}

/// One entry of a named interval, as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeIntervalConfig {
    /// Times of day.
    #[serde(default)]
    pub times: Vec<TimeRangeConfig>,
    /// Weekdays or ranges of them.
    #[serde(default)]
    pub weekdays: Vec<Item>,
    /// Days of the month or ranges (negative: from the end).
    #[serde(default)]
    pub days_of_month: Vec<Item>,
    /// Months (names or numbers) or ranges.
    #[serde(default)]
    pub months: Vec<Item>,
    /// Years or ranges.
    #[serde(default)]
    pub years: Vec<Item>,
    /// IANA time zone name (default UTC).
    #[serde(default)]
    pub location: Option<String>,
}

/// A named interval as written in `time_intervals:` (or the older `mute_time_intervals:`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedTimeIntervalConfig {
    /// Name that routes refer to.
    pub name: String,
    /// Active when any entry is.
    #[serde(default)]
    pub time_intervals: Vec<TimeIntervalConfig>,
}

/// A checked interval entry.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    /// Minutes of the day, `[start, end)`.
    times: Vec<(u32, u32)>,
    /// Days from Sunday (0) to Saturday (6), inclusive.
    weekdays: Vec<(u32, u32)>,
    /// Days of the month, inclusive, negative from the end.
    days: Vec<(i32, i32)>,
    /// Months 1..=12, inclusive.
    months: Vec<(u32, u32)>,
    /// Years, inclusive.
    years: Vec<(i32, i32)>,
    zone: Tz,
}

/// Checked named time intervals (serialized as the configuration they came from).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(
    try_from = "Vec<NamedTimeIntervalConfig>",
    into = "Vec<NamedTimeIntervalConfig>"
)]
pub struct TimeIntervals {
    config: Vec<NamedTimeIntervalConfig>,
    by_name: BTreeMap<String, Vec<Entry>>,
}

impl From<TimeIntervals> for Vec<NamedTimeIntervalConfig> {
    fn from(t: TimeIntervals) -> Self {
        t.config
    }
}

impl TryFrom<Vec<NamedTimeIntervalConfig>> for TimeIntervals {
    type Error = AlertError;
    fn try_from(v: Vec<NamedTimeIntervalConfig>) -> Result<Self> {
        Self::new(v)
    }
}

fn bad(name: &str, reason: String) -> AlertError {
    AlertError::InvalidParameter {
        name: "time_intervals",
        reason: format!("{name}: {reason}"),
    }
}

/// Splits `a:b` (or `a`) and maps each side.
fn range<T: Copy>(
    item: &Item,
    what: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> std::result::Result<(T, T), String> {
    let text = item.text();
    let (a, b) = text.split_once(':').unwrap_or((&text, &text));
    match (parse(a.trim()), parse(b.trim())) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(format!("invalid {what} {text:?}{}", hint(what))),
    }
}

/// What a field of an interval accepts, after an invalid value.
fn hint(what: &str) -> &'static str {
    match what {
        "weekday" => " (full English names, sunday to saturday, or a range monday:friday)",
        "month" => " (full English names, january to december, numbers 1 to 12, or a range)",
        _ => "",
    }
}

fn ordered<T: PartialOrd + Copy + std::fmt::Debug>(
    (a, b): (T, T),
    what: &str,
) -> std::result::Result<(T, T), String> {
    if a > b {
        Err(format!("{what} range start {a:?} is after its end {b:?}"))
    } else {
        Ok((a, b))
    }
}

const WEEKDAYS: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];
const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

fn position(names: &[&str], s: &str) -> Option<u32> {
    let s = s.to_ascii_lowercase();
    names.iter().position(|n| *n == s).map(|i| i as u32)
}

/// `HH:MM` to minutes of the day; `24:00` only when `end`.
fn minutes(s: &str, end: bool) -> Option<u32> {
    let (h, m) = s.trim().split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    let total = h * 60 + m;
    let ok = m < 60 && (h < 24 || (end && total == 24 * 60));
    ok.then_some(total)
}

impl Entry {
    fn check(c: &TimeIntervalConfig) -> std::result::Result<Self, String> {
        let times = c
            .times
            .iter()
            .map(|t| {
                let s = minutes(&t.start_time, false)
                    .ok_or_else(|| format!("invalid start_time {:?}", t.start_time))?;
                let e = minutes(&t.end_time, true)
                    .ok_or_else(|| format!("invalid end_time {:?}", t.end_time))?;
                if s >= e {
                    return Err(format!(
                        "start_time {:?} must be before end_time {:?}",
                        t.start_time, t.end_time
                    ));
                }
                Ok((s, e))
            })
            .collect::<std::result::Result<_, String>>()?;
        let weekdays = c
            .weekdays
            .iter()
            .map(|w| ordered(range(w, "weekday", |s| position(&WEEKDAYS, s))?, "weekday"))
            .collect::<std::result::Result<_, String>>()?;
        let days = c
            .days_of_month
            .iter()
            .map(|d| {
                let (a, b) = range(d, "day of month", |s| {
                    s.parse::<i32>()
                        .ok()
                        .filter(|v| *v != 0 && (-31..=31).contains(v))
                })?;
                // Same sign: the order is plain; mixed signs depend on the month.
                if a.signum() == b.signum() && a > b {
                    return Err(format!("day of month range {a}:{b} runs backwards"));
                }
                Ok((a, b))
            })
            .collect::<std::result::Result<_, String>>()?;
        let months = c
            .months
            .iter()
            .map(|m| {
                let parse = |s: &str| {
                    position(&MONTHS, s)
                        .map(|i| i + 1)
                        .or_else(|| s.parse::<u32>().ok().filter(|v| (1..=12).contains(v)))
                };
                ordered(range(m, "month", parse)?, "month")
            })
            .collect::<std::result::Result<_, String>>()?;
        let years = c
            .years
            .iter()
            .map(|y| {
                let parse = |s: &str| s.parse::<i32>().ok().filter(|v| *v > 0);
                ordered(range(y, "year", parse)?, "year")
            })
            .collect::<std::result::Result<_, String>>()?;
        let zone = match c.location.as_deref().map(str::trim) {
            None | Some("") | Some("UTC") => Tz::UTC,
            Some("Local") => {
                return Err(
                    "location Local is not supported: the engine never reads the \
                            host's time zone; name an IANA zone"
                        .into(),
                );
            }
            Some(name) => name
                .parse::<Tz>()
                .map_err(|_| format!("unknown location {name:?} (an IANA time zone name)"))?,
        };
        Ok(Self {
            times,
            weekdays,
            days,
            months,
            years,
            zone,
        })
    }

    fn contains(&self, t: DateTime<Utc>) -> bool {
        let local = t.with_timezone(&self.zone);
        let minute = local.hour() * 60 + local.minute();
        let weekday = local.weekday().num_days_from_sunday();
        let (year, month, day) = (local.year(), local.month(), local.day() as i32);
        let month_len = days_in_month(year, month);
        let any =
            |v: &[(u32, u32)], x: u32| v.is_empty() || v.iter().any(|&(a, b)| a <= x && x <= b);
        let in_times =
            self.times.is_empty() || self.times.iter().any(|&(a, b)| a <= minute && minute < b);
        let in_days = self.days.is_empty()
            || self.days.iter().any(|&(a, b)| {
                let abs = |d: i32| if d < 0 { month_len + d + 1 } else { d };
                let (a, b) = (abs(a).max(1), abs(b).min(month_len));
                a <= day && day <= b
            });
        let in_years =
            self.years.is_empty() || self.years.iter().any(|&(a, b)| a <= year && year <= b);
        in_times && any(&self.weekdays, weekday) && in_days && any(&self.months, month) && in_years
    }
}

fn days_in_month(year: i32, month: u32) -> i32 {
    let (ny, nm) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    match (
        NaiveDate::from_ymd_opt(year, month, 1),
        NaiveDate::from_ymd_opt(ny, nm, 1),
    ) {
        (Some(a), Some(b)) => (b - a).num_days() as i32,
        _ => 31,
    }
}

impl TimeIntervals {
    /// Checks named intervals: unique names, valid fields and zones.
    pub fn new(config: Vec<NamedTimeIntervalConfig>) -> Result<Self> {
        let mut by_name = BTreeMap::new();
        for named in &config {
            if named.name.is_empty() {
                return Err(bad("(unnamed)", "every time interval needs a name".into()));
            }
            let entries = named
                .time_intervals
                .iter()
                .map(Entry::check)
                .collect::<std::result::Result<Vec<_>, String>>()
                .map_err(|e| bad(&named.name, e))?;
            if by_name.insert(named.name.clone(), entries).is_some() {
                return Err(bad(&named.name, "defined twice".into()));
            }
        }
        Ok(Self { config, by_name })
    }

    /// Whether there is no named interval.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// Whether the named interval is active at `t` (`false` for an unknown name, which
    /// [`TimeIntervals::check_route`] rules out).
    pub fn is_active(&self, name: &str, t: TimestampMs) -> bool {
        let Some(t) = DateTime::<Utc>::from_timestamp_millis(t) else {
            return false;
        };
        self.by_name
            .get(name)
            .is_some_and(|entries| entries.iter().any(|e| e.contains(t)))
    }

    /// Whether a route's notifications are held back at `t`: inside one of its mute
    /// intervals, or outside all of its active intervals (when it has any).
    pub fn mutes(&self, mute: &[String], active: &[String], t: TimestampMs) -> bool {
        mute.iter().any(|n| self.is_active(n, t))
            || (!active.is_empty() && !active.iter().any(|n| self.is_active(n, t)))
    }

    /// Checks that every interval a route (or a child) names exists.
    pub fn check_route(&self, route: &Route) -> Result<()> {
        for name in route
            .mute_time_intervals
            .iter()
            .chain(&route.active_time_intervals)
        {
            if !self.by_name.contains_key(name) {
                return Err(AlertError::InvalidParameter {
                    name: "route",
                    reason: format!(
                        "{} refers to undefined time interval {name:?} (defined: {})",
                        crate::route::describe_path(&route.path),
                        if self.by_name.is_empty() {
                            "none".to_string()
                        } else {
                            self.by_name.keys().cloned().collect::<Vec<_>>().join(", ")
                        }
                    ),
                });
            }
        }
        route.routes.iter().try_for_each(|r| self.check_route(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intervals(yaml: &str) -> Result<TimeIntervals> {
        let v: Vec<NamedTimeIntervalConfig> = serde_saphyr::from_str(yaml).unwrap();
        TimeIntervals::new(v)
    }

    fn at(s: &str) -> TimestampMs {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    #[test]
    fn times_weekdays_and_zone() {
        // Office hours in Sydney: Monday to Friday 09:00-17:00.
        let t = intervals(
            r#"
- name: office
  time_intervals:
    - times: [{start_time: "09:00", end_time: "17:00"}]
      weekdays: ['monday:friday']
      location: Australia/Sydney
"#,
        )
        .unwrap();
        // 2026-11-27 is a Friday; Sydney is UTC+11 in November (daylight saving).
        assert!(t.is_active("office", at("2026-11-26T22:00:00Z"))); // Fri 09:00 local
        assert!(!t.is_active("office", at("2026-11-26T21:59:00Z"))); // Fri 08:59
        assert!(!t.is_active("office", at("2026-11-27T06:00:00Z"))); // Fri 17:00: end excluded
        assert!(t.is_active("office", at("2026-11-27T05:59:00Z")));
        assert!(!t.is_active("office", at("2026-11-27T22:30:00Z"))); // Sat 09:30
        assert!(!t.is_active("nope", at("2026-11-26T22:00:00Z")));
    }

    #[test]
    fn days_of_month_negative_and_clamped() {
        let t = intervals(
            r#"
- name: month-end
  time_intervals: [{days_of_month: ['-3:-1']}]
- name: early
  time_intervals: [{days_of_month: [1, '25:31'], months: ['february'], years: ['2024:2025']}]
"#,
        )
        .unwrap();
        // Last three days: Feb 27-29 in a leap year, Jan 29-31.
        assert!(t.is_active("month-end", at("2024-02-27T00:00:00Z")));
        assert!(!t.is_active("month-end", at("2024-02-26T23:59:59Z")));
        assert!(t.is_active("month-end", at("2024-01-29T12:00:00Z")));
        assert!(!t.is_active("month-end", at("2024-01-28T12:00:00Z")));
        // 25:31 is clamped to February's end; the bare number works; years and months hold.
        assert!(t.is_active("early", at("2025-02-28T10:00:00Z")));
        assert!(t.is_active("early", at("2024-02-01T10:00:00Z")));
        assert!(!t.is_active("early", at("2024-02-02T10:00:00Z")));
        assert!(!t.is_active("early", at("2026-02-28T10:00:00Z")));
        assert!(!t.is_active("early", at("2025-03-01T10:00:00Z")));
    }

    #[test]
    fn empty_entry_matches_always_and_any_entry_suffices() {
        let t = intervals(
            r#"
- name: always
  time_intervals: [{}]
- name: weekend-or-night
  time_intervals:
    - weekdays: [saturday, Sunday]
    - times: [{start_time: "00:00", end_time: "06:00"}, {start_time: "22:00", end_time: "24:00"}]
"#,
        )
        .unwrap();
        assert!(t.is_active("always", at("2026-11-27T12:00:00Z")));
        assert!(t.is_active("weekend-or-night", at("2026-11-28T12:00:00Z"))); // Saturday
        assert!(t.is_active("weekend-or-night", at("2026-11-27T23:59:00Z"))); // Friday night
        assert!(!t.is_active("weekend-or-night", at("2026-11-27T12:00:00Z")));
        assert!(t.mutes(&["always".into()], &[], 0));
        assert!(t.mutes(
            &[],
            &["weekend-or-night".into()],
            at("2026-11-27T12:00:00Z")
        ));
        assert!(!t.mutes(
            &[],
            &["weekend-or-night".into()],
            at("2026-11-28T12:00:00Z")
        ));
    }

    #[test]
    fn bad_intervals_are_refused() {
        for yaml in [
            "[{name: a, time_intervals: [{times: [{start_time: '10:00', end_time: '09:00'}]}]}]",
            "[{name: a, time_intervals: [{times: [{start_time: '24:00', end_time: '24:00'}]}]}]",
            "[{name: a, time_intervals: [{times: [{start_time: '9:00', end_time: '10:00'}]}]}]",
            "[{name: a, time_intervals: [{weekdays: ['friday:monday']}]}]",
            "[{name: a, time_intervals: [{weekdays: [funday]}]}]",
            "[{name: a, time_intervals: [{days_of_month: [0]}]}]",
            "[{name: a, time_intervals: [{days_of_month: ['5:1']}]}]",
            "[{name: a, time_intervals: [{days_of_month: ['32']}]}]",
            "[{name: a, time_intervals: [{months: [13]}]}]",
            "[{name: a, time_intervals: [{years: ['2030:2020']}]}]",
            "[{name: a, time_intervals: [{location: Mars/Olympus}]}]",
            "[{name: a, time_intervals: [{location: Local}]}]",
            "[{name: a}, {name: a}]",
        ] {
            assert!(
                matches!(intervals(yaml), Err(AlertError::InvalidParameter { .. })),
                "{yaml}"
            );
        }
    }

    #[test]
    fn round_trips_through_serde() {
        let t = intervals("[{name: a, time_intervals: [{weekdays: [monday]}]}]").unwrap();
        let back: TimeIntervals =
            serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
        assert_eq!(back, t);
    }
}
