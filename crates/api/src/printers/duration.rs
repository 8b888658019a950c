//! Ages as kubectl prints them: two or three significant figures ("5s", "3m2s",
//! "2d3h"), following upstream's `duration.HumanDuration`.

use chrono::TimeDelta;

/// Formats an elapsed time. Up to a second into the future counts as "0s" to
/// tolerate clock skew; further is "<invalid>".
pub fn human_duration(elapsed: TimeDelta) -> String {
    // Whole units, truncated toward zero like Go's integer conversions.
    let seconds = elapsed.num_milliseconds() / 1000;
    if seconds < -1 {
        return "<invalid>".to_string();
    }
    if seconds < 0 {
        return "0s".to_string();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return with_remainder(minutes, "m", seconds % 60, "s");
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    long_duration(hours, minutes % 60)
}

/// Durations of three hours or more.
fn long_duration(hours: i64, minutes_past: i64) -> String {
    let days = hours / 24;
    let years = days / 365;
    if hours < 8 {
        with_remainder(hours, "h", minutes_past, "m")
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        with_remainder(days, "d", hours % 24, "h")
    } else if hours < 24 * 365 * 2 {
        format!("{days}d")
    } else if hours < 24 * 365 * 8 {
        with_remainder(years, "y", days % 365, "d")
    } else {
        format!("{years}y")
    }
}

/// "3m" or "3m2s": the remainder is left out when it is zero.
fn with_remainder(major: i64, major_unit: &str, minor: i64, minor_unit: &str) -> String {
    if minor == 0 {
        format!("{major}{major_unit}")
    } else {
        format!("{major}{major_unit}{minor}{minor_unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: i64) -> String {
        human_duration(TimeDelta::seconds(s))
    }

    #[test]
    fn seconds_are_shown_up_to_two_minutes() {
        assert_eq!(secs(0), "0s");
        assert_eq!(secs(5), "5s");
        assert_eq!(secs(119), "119s");
    }

    #[test]
    fn minutes_keep_seconds_below_ten_minutes() {
        assert_eq!(secs(120), "2m");
        assert_eq!(secs(182), "3m2s");
        assert_eq!(secs(599), "9m59s");
        assert_eq!(secs(600), "10m");
        assert_eq!(secs(60 * 179 + 59), "179m");
    }

    #[test]
    fn hours_keep_minutes_below_eight_hours() {
        assert_eq!(secs(3 * 3600), "3h");
        assert_eq!(secs(3 * 3600 + 25 * 60 + 7), "3h25m");
        assert_eq!(secs(8 * 3600 + 59 * 60), "8h");
        assert_eq!(secs(47 * 3600), "47h");
    }

    #[test]
    fn days_keep_hours_below_eight_days() {
        assert_eq!(secs(48 * 3600), "2d");
        assert_eq!(secs(51 * 3600), "2d3h");
        assert_eq!(secs(8 * 86400 + 5 * 3600), "8d");
        assert_eq!(secs(729 * 86400), "729d");
    }

    #[test]
    fn years_keep_days_below_eight_years() {
        assert_eq!(secs(730 * 86400), "2y");
        assert_eq!(secs(733 * 86400), "2y3d");
        assert_eq!(secs(8 * 365 * 86400), "8y");
        assert_eq!(secs(20 * 365 * 86400 + 100 * 86400), "20y");
    }

    #[test]
    fn small_clock_skew_reads_as_zero_and_larger_as_invalid() {
        assert_eq!(human_duration(TimeDelta::milliseconds(-1500)), "0s");
        assert_eq!(secs(-1), "0s");
        assert_eq!(secs(-2), "<invalid>");
    }

    #[test]
    fn fractions_of_a_second_are_truncated() {
        assert_eq!(human_duration(TimeDelta::milliseconds(5999)), "5s");
    }
}
