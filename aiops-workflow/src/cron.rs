//! Cron schedules: five fields (minute, hour, day of month, month, day of week; UTC), each
//! `*`, a number, a range `a-b`, a step `*/n` or `a-b/n`, or a list of those (`0,30`). Day of
//! week runs 0-6 from Sunday (7 is Sunday too). As in cron, when both day fields are
//! restricted, a day matching either runs.

use aiops_core::TimestampMs;
use chrono::{DateTime, Datelike, Timelike};

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    days_any: bool,
    weekdays_any: bool,
}

fn field(text: &str, lo: u32, hi: u32, what: &str) -> Result<(u64, bool), String> {
    let mut bits = 0u64;
    let any = text == "*";
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<u32>()
                    .ok()
                    .filter(|&s| s > 0)
                    .ok_or_else(|| format!("{what}: bad step `{s}`"))?,
            ),
            None => (part, 1),
        };
        let num = |s: &str| {
            s.parse::<u32>()
                .ok()
                .filter(|n| (lo..=hi).contains(n))
                .ok_or_else(|| format!("{what}: `{s}` is not a number from {lo} to {hi}"))
        };
        let (a, b) = if range == "*" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            (num(a)?, num(b)?)
        } else {
            let a = num(range)?;
            (a, if part.contains('/') { hi } else { a })
        };
        if a > b {
            return Err(format!("{what}: range `{range}` runs backwards"));
        }
        let mut v = a;
        while v <= b {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok((bits, any))
}

impl Cron {
    /// Parses `0 */6 * * *`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let f: Vec<&str> = text.split_whitespace().collect();
        if f.len() != 5 {
            return Err(format!(
                "expected 5 fields (minute hour day month weekday), got {}",
                f.len()
            ));
        }
        let (minutes, _) = field(f[0], 0, 59, "minute")?;
        let (hours, _) = field(f[1], 0, 23, "hour")?;
        let (days, days_any) = field(f[2], 1, 31, "day of month")?;
        let (months, _) = field(f[3], 1, 12, "month")?;
        let (mut weekdays, weekdays_any) = field(f[4], 0, 7, "day of week")?;
        if weekdays & (1 << 7) != 0 {
            weekdays |= 1;
        }
        Ok(Self {
            minutes,
            hours,
            days,
            months,
            weekdays,
            days_any,
            weekdays_any,
        })
    }

    fn day_matches(&self, d: &DateTime<chrono::Utc>) -> bool {
        let dom = self.days & (1 << d.day()) != 0;
        let dow = self.weekdays & (1 << d.weekday().num_days_from_sunday()) != 0;
        match (self.days_any, self.weekdays_any) {
            (true, true) => true,
            (false, true) => dom,
            (true, false) => dow,
            (false, false) => dom || dow,
        }
    }

    /// The first time strictly after `after` (ms) the schedule fires; `None` within 5 years.
    pub fn next_after(&self, after: TimestampMs) -> Option<TimestampMs> {
        let mut t = DateTime::from_timestamp_millis(after - after.rem_euclid(60_000) + 60_000)?;
        let limit = after + 5 * 366 * 86_400_000;
        while t.timestamp_millis() <= limit {
            if self.months & (1 << t.month()) == 0 || !self.day_matches(&t) {
                // To the next day's midnight.
                let next = t.date_naive().succ_opt()?.and_hms_opt(0, 0, 0)?.and_utc();
                t = next;
                continue;
            }
            if self.hours & (1 << t.hour()) == 0 {
                t = t.with_minute(0)? + chrono::Duration::hours(1);
                continue;
            }
            if self.minutes & (1 << t.minute()) == 0 {
                t += chrono::Duration::minutes(1);
                continue;
            }
            return Some(t.timestamp_millis());
        }
        None
    }

    /// Whether it fires in the minute containing `at` (ms).
    pub fn fires_at(&self, at: TimestampMs) -> bool {
        self.next_after(at - at.rem_euclid(60_000) - 1) == Some(at - at.rem_euclid(60_000))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_six_hours() {
        let c = Cron::parse("0 */6 * * *").unwrap();
        let h = 3_600_000;
        assert_eq!(c.next_after(0), Some(6 * h));
        assert_eq!(c.next_after(6 * h), Some(12 * h));
        assert_eq!(c.next_after(23 * h + 1), Some(24 * h));
        assert!(c.fires_at(18 * h + 5_000));
        assert!(!c.fires_at(19 * h));
        assert!(Cron::parse("0 */6 * *").is_err());
        assert!(Cron::parse("61 * * * *").is_err());
    }

    #[test]
    fn weekdays_and_lists() {
        // 1970-01-01 was a Thursday.
        let c = Cron::parse("30 9 * * 1,5").unwrap();
        let day = 86_400_000;
        assert_eq!(c.next_after(0), Some(day + 9 * 3_600_000 + 30 * 60_000));
    }
}
