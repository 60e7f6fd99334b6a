//! Line timestamps from the header fields of a loghub `log_format`.
//!
//! The fields are found by name (case-insensitive), so any format that names them as loghub
//! does works:
//! - `Timestamp`: Unix time, seconds (`1117838570`, `1117838570.25`) or, with 13 digits or
//!   more, milliseconds;
//! - `Time` alone holding 9 to 13 digits: Unix time as above (HPC);
//! - otherwise a calendar date and a time of day from `Date`, `Time`, `Month`, `Day` and
//!   `Year`:
//!   - `Time`: `hh:mm:ss[.,frac]`, `hhmmss` (HDFS), or a full date-time whose first number
//!     has four digits (`2005-06-03-15.42.50.675872`, BGL);
//!   - `Date`: `yyyy.mm.dd` / `yyyy-mm-dd` / `yyyy/mm/dd`, `yymmdd` (HDFS), `yy/mm/dd`
//!     (Spark), `mm-dd` (Android), or the day of the month alone when a `Month` field names
//!     the month (`Jun 14`, syslog);
//!   - `Month`: an English month name or abbreviation; `Day`: the day of the month.
//!
//! A year the line does not give is taken as 1970: timestamps then only order lines within
//! the file, which is all windowing needs. Times are read as UTC; no time zone is applied.

use crate::format::LogFormat;

/// Where the time fields of a format are (indices into [`LogFormat::fields`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeFields {
    timestamp: Option<usize>,
    date: Option<usize>,
    time: Option<usize>,
    month: Option<usize>,
    day: Option<usize>,
    year: Option<usize>,
}

impl TimeFields {
    /// Finds the time fields of a format by name.
    pub fn of(format: &LogFormat) -> Self {
        let find = |name: &str| {
            format
                .fields()
                .iter()
                .position(|f| f.eq_ignore_ascii_case(name))
        };
        Self {
            timestamp: find("Timestamp"),
            date: find("Date"),
            time: find("Time"),
            month: find("Month"),
            day: find("Day"),
            year: find("Year"),
        }
    }

    /// Whether the format has any field a time can be read from.
    pub fn any(&self) -> bool {
        self.timestamp.is_some() || self.time.is_some() || self.date.is_some()
    }

    /// The time of a line split by the format ([`LogFormat::split`]), in ms since the Unix
    /// epoch; `None` when the fields do not hold a readable time.
    pub fn parse(&self, fields: &[&str]) -> Option<i64> {
        let get = |i: Option<usize>| i.and_then(|i| fields.get(i)).map(|s| s.trim());
        if let Some(ts) = get(self.timestamp)
            && let Some(ms) = parse_epoch(ts)
        {
            return Some(ms);
        }
        let time = get(self.time);
        if let Some(t) = time
            && self.date.is_none()
            && self.month.is_none()
            && let Some(ms) = parse_epoch(t)
        {
            return Some(ms);
        }
        let time_nums = time.map(numbers).unwrap_or_default();
        if time.is_some() && time_nums.is_empty() {
            return None;
        }
        // A full date-time in the Time field (BGL).
        if time_nums.len() >= 6 && time_nums[0].1 == 4 {
            let n = &time_nums;
            return civil_ms(
                n[0].0,
                n[1].0,
                n[2].0,
                n[3].0,
                n[4].0,
                n[5].0,
                n.get(6).copied(),
            );
        }
        let (h, mi, s, frac) = time_of_day(&time_nums)?;
        let (mut y, mut mo, mut d) = (1970, 0, 0);
        if let Some(m) = get(self.month) {
            mo = month_number(m)?;
        }
        if let Some(dt) = get(self.date) {
            let n = numbers(dt);
            match (n.len(), mo) {
                // Day of the month after a month name.
                (1, m) if m > 0 => d = n[0].0,
                (1, _) if n[0].1 == 6 => {
                    let v = n[0].0;
                    (y, mo, d) = (2000 + v / 10_000, (v / 100) % 100, v % 100);
                }
                (3, _) if n[0].1 == 4 => (y, mo, d) = (n[0].0, n[1].0, n[2].0),
                (3, _) if n[2].1 == 4 => (y, mo, d) = (n[2].0, n[0].0, n[1].0),
                (3, _) => (y, mo, d) = (2000 + n[0].0, n[1].0, n[2].0),
                (2, _) => (mo, d) = (n[0].0, n[1].0),
                _ => return None,
            }
        }
        if let Some(day) = get(self.day) {
            d = numbers(day).first()?.0;
        }
        if let Some(year) = get(self.year) {
            y = numbers(year).first()?.0;
        }
        if mo == 0 && d == 0 {
            // A time of day only: the first day of 1970.
            (mo, d) = (1, 1);
        }
        civil_ms(y, mo, d, h, mi, s, frac)
    }
}

/// Unix time from digits: seconds with an optional fraction, or ms with 13+ digits.
fn parse_epoch(s: &str) -> Option<i64> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    if !(9..=16).contains(&int.len()) || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: i64 = int.parse().ok()?;
    if int.len() >= 13 {
        return Some(v);
    }
    let mut ms = v.checked_mul(1000)?;
    if let Some(f) = frac {
        if !f.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        ms += frac_ms(f);
    }
    Some(ms)
}

/// Milliseconds of a fraction's digits (`675872` -> 675).
fn frac_ms(digits: &str) -> i64 {
    let mut ms = 0;
    for (i, b) in digits.bytes().take(3).enumerate() {
        ms += i64::from(b - b'0') * [100, 10, 1][i];
    }
    ms
}

/// The runs of digits of a text: (value, digit count). Values saturate.
fn numbers(s: &str) -> Vec<(i64, usize)> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        let mut v: i64 = 0;
        while i < b.len() && b[i].is_ascii_digit() {
            v = v.saturating_mul(10).saturating_add(i64::from(b[i] - b'0'));
            i += 1;
        }
        out.push((v, i - start));
    }
    out
}

/// A run of digits: (value, digit count).
type Digits = (i64, usize);

/// Hour, minute, second and the fraction of a time of day.
fn time_of_day(n: &[Digits]) -> Option<(i64, i64, i64, Option<Digits>)> {
    match n {
        [] => Some((0, 0, 0, None)),
        [(v, 6)] => Some((v / 10_000, (v / 100) % 100, v % 100, None)),
        [h, m, s] => Some((h.0, m.0, s.0, None)),
        [h, m, s, f] => Some((h.0, m.0, s.0, Some(*f))),
        _ => None,
    }
}

fn month_number(name: &str) -> Option<i64> {
    const NAMES: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let lower = name.get(..3)?.to_ascii_lowercase();
    NAMES.iter().position(|m| *m == lower).map(|i| i as i64 + 1)
}

/// Days from 1970-01-01 to a civil date (proleptic Gregorian; Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Milliseconds since the epoch of a civil date-time; `None` when a part is out of range.
fn civil_ms(
    y: i64,
    mo: i64,
    d: i64,
    h: i64,
    mi: i64,
    s: i64,
    frac: Option<(i64, usize)>,
) -> Option<i64> {
    if !(0..=9999).contains(&y)
        || !(1..=12).contains(&mo)
        || !(1..=31).contains(&d)
        || !(0..=23).contains(&h)
        || !(0..=59).contains(&mi)
        || !(0..=60).contains(&s)
    {
        return None;
    }
    let ms = match frac {
        Some((v, digits)) => {
            // Keep the first three digits of the fraction.
            let mut v = v;
            let mut digits = digits;
            while digits > 3 {
                v /= 10;
                digits -= 1;
            }
            while digits < 3 {
                v *= 10;
                digits += 1;
            }
            v
        }
        None => 0,
    };
    Some(((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60_000 + s * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(format: &str, line: &str) -> Option<i64> {
        let f = LogFormat::new(format).unwrap();
        let tf = TimeFields::of(&f);
        tf.parse(&f.split(line)?)
    }

    #[test]
    fn loghub_header_styles() {
        // 2005-06-03 15:42:50 UTC = 1117813370.
        let bgl =
            "<Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> <Level> <Content>";
        let line = "1117838570 2005.06.03 R02 2005-06-03-15.42.50.675872 R02 RAS KERNEL INFO x";
        assert_eq!(at(bgl, line), Some(1_117_838_570_000));
        // The same line without its Timestamp field: the date-time in Time.
        let no_ts = "<Date> <Node> <Time> <NodeRepeat> <Type> <Component> <Level> <Content>";
        let line = "2005.06.03 R02 2005-06-03-15.42.50.675872 R02 RAS KERNEL INFO x";
        assert_eq!(at(no_ts, line), Some(1_117_813_370_675));
        let hdfs = "<Date> <Time> <Pid> <Level> <Component>: <Content>";
        assert_eq!(
            at(hdfs, "081109 203615 148 INFO dfs.DataNode: x"),
            Some(1_226_262_975_000)
        );
        let zk = "<Date> <Time> - <Level>  \\[<Node>:<Component>@<Id>\\] - <Content>";
        assert_eq!(
            at(
                zk,
                "2015-07-29 17:41:44,747 - INFO  [main:QuorumPeer@913] - x"
            ),
            Some(1_438_191_704_747)
        );
        let spark = "<Date> <Time> <Level> <Component>: <Content>";
        assert_eq!(
            at(spark, "17/06/09 20:10:40 INFO executor.Executor: x"),
            Some(1_497_039_040_000)
        );
        let linux = "<Month> <Date> <Time> <Level> <Component>(\\[<PID>\\])?: <Content>";
        assert_eq!(
            at(linux, "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: x"),
            // 1970-06-14 15:16:01.
            Some(((days_from_civil(1970, 6, 14) * 24 + 15) * 60 + 16) * 60_000 + 1000)
        );
        let android = "<Date> <Time>  <Pid>  <Tid> <Level> <Component>: <Content>";
        assert_eq!(
            at(android, "03-17 16:13:38.811  1702  2395 D WindowManager: x"),
            Some(((days_from_civil(1970, 3, 17) * 24 + 16) * 60 + 13) * 60_000 + 38_811)
        );
        let hpc = "<LogId> <Node> <Component> <State> <Time> <Flag> <Content>";
        assert_eq!(
            at(
                hpc,
                "134681 node-246 unix.hw state_change.unavailable 1077804742 1 x"
            ),
            Some(1_077_804_742_000)
        );
    }

    #[test]
    fn unreadable_times_are_none() {
        let f = "<Date> <Time> <Content>";
        assert_eq!(at(f, "yesterday noon x"), None);
        assert_eq!(at(f, "2020-13-01 10:00:00 x"), None);
        assert_eq!(at(f, "2020-01-01 25:00:00 x"), None);
        assert_eq!(at(f, "2020-01-01 xx:yy:zz x"), None);
        assert_eq!(
            at("<Month> <Date> <Time> <Content>", "Foo 3 10:00:00 x"),
            None
        );
        let no_time = LogFormat::new("<Level> <Content>").unwrap();
        assert!(!TimeFields::of(&no_time).any());
        assert_eq!(parse_epoch("12345"), None);
        assert_eq!(parse_epoch("1117838570.5"), Some(1_117_838_570_500));
        assert_eq!(parse_epoch("1117838570123"), Some(1_117_838_570_123));
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }
}
