//! The one text form of times in the IR, in stored rows and in every answer: a datetime is UTC
//! with milliseconds (`2026-11-22T22:13:08.123Z`), so that text order is time order on SQLite,
//! and a date is `YYYY-MM-DD`. The compiler writes literals, the runtime stamps audit columns,
//! normalises bodies and reads Postgres cells through these functions, so the forms cannot drift.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

/// `t` as UTC with milliseconds. chrono writes RFC 3339 digit by digit; a `format` string would
/// be parsed again on every call (a read by id formats three of these).
pub fn datetime_text(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// RFC 3339 text in any offset, normalised to [`datetime_text`]; `None` when it is not RFC 3339.
pub fn normalize_datetime(s: &str) -> Option<String> {
    let t = DateTime::parse_from_rfc3339(s).ok()?;
    Some(datetime_text(&t.with_timezone(&Utc)))
}

/// `d` as `YYYY-MM-DD` (chrono's `Display` for dates).
pub fn date_text(d: NaiveDate) -> String {
    d.to_string()
}

/// A `YYYY-MM-DD` date; `None` for anything else.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// A limit's duration as the project's `server { … }` and `ward serve`'s flags write it: `500ms`,
/// `30s` or `2m`, from 1 ms to 60 min, in milliseconds; `None` for anything else.
pub fn duration_ms(text: &str) -> Option<u64> {
    let (digits, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map_or((text, ""), |i| text.split_at(i));
    let n: u64 = digits.parse().ok()?;
    let ms = match unit {
        "ms" => Some(n),
        "s" => n.checked_mul(1_000),
        "m" => n.checked_mul(60_000),
        _ => None,
    };
    ms.filter(|ms| (1..=3_600_000).contains(ms))
}

/// What [`duration_ms`] takes, for error messages.
pub const DURATION_FORM: &str = "a duration such as `500ms`, `30s` or `2m`, from 1ms to 60m";

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Datelike, NaiveDate, Utc};
    use proptest::prelude::*;

    use super::*;

    /// The strftime forms these replace, byte for byte, over chrono's whole range (years past
    /// 9999 and before 0 carry a sign in both).
    const DATETIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.3fZ";
    const DATE_FORMAT: &str = "%Y-%m-%d";

    proptest! {
        #[test]
        fn datetimes_are_written_as_the_strftime_form(
            secs in DateTime::<Utc>::MIN_UTC.timestamp()..=DateTime::<Utc>::MAX_UTC.timestamp(),
            nanos in 0u32..1_000_000_000,
        ) {
            let t = DateTime::<Utc>::from_timestamp(secs, nanos).expect("in range");
            prop_assert_eq!(datetime_text(&t), t.format(DATETIME_FORMAT).to_string());
        }

        #[test]
        fn common_era_datetimes_are_written_as_the_strftime_form(
            secs in 0i64..253_402_300_800,
            millis in 0u32..1000,
        ) {
            let t = DateTime::<Utc>::from_timestamp(secs, millis * 1_000_000).expect("in range");
            let text = datetime_text(&t);
            prop_assert_eq!(&text, &t.format(DATETIME_FORMAT).to_string());
            prop_assert_eq!(text.len(), 24);
            prop_assert_eq!(normalize_datetime(&text), Some(text));
        }

        #[test]
        fn dates_are_written_as_the_strftime_form(
            days in NaiveDate::MIN.num_days_from_ce()..=NaiveDate::MAX.num_days_from_ce(),
        ) {
            let d = NaiveDate::from_num_days_from_ce_opt(days).expect("in range");
            prop_assert_eq!(date_text(d), d.format(DATE_FORMAT).to_string());
        }
    }

    #[test]
    fn offsets_are_normalised_to_utc_with_milliseconds() {
        assert_eq!(
            normalize_datetime("2026-11-22T23:13:08.1234+01:00").as_deref(),
            Some("2026-11-22T22:13:08.123Z")
        );
        assert_eq!(
            normalize_datetime("2026-11-22T22:13:08Z").as_deref(),
            Some("2026-11-22T22:13:08.000Z")
        );
        assert_eq!(normalize_datetime("2026-11-22 22:13"), None);
        assert_eq!(parse_date("2026-02-30"), None);
        assert_eq!(
            parse_date("2026-02-28").map(date_text).as_deref(),
            Some("2026-02-28")
        );
    }

    #[test]
    fn limit_durations_are_ms_s_or_m_within_an_hour() {
        assert_eq!(duration_ms("500ms"), Some(500));
        assert_eq!(duration_ms("30s"), Some(30_000));
        assert_eq!(duration_ms("60m"), Some(3_600_000));
        for bad in [
            "",
            "30",
            "0ms",
            "61m",
            "2h",
            "1.5s",
            "s",
            "-1s",
            "99999999999999999999s",
        ] {
            assert_eq!(duration_ms(bad), None, "{bad:?}");
        }
    }
}
