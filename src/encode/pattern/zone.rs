//! Java time zones by id, as `TimeZone.getTimeZone(id)` resolves them: EnhancedPatternLayout's
//! `%d{pattern}{zone}` (`UTC`, `GMT+2`, `GMT-05:00`, `Europe/Paris`, Java's old ids such as `PST`).
//!
//! Named zones are read once, when the pattern is built, from the system's zoneinfo
//! (`/usr/share/zoneinfo`, or `$TZDIR`): the same IANA data Java ships. An id Java does not know
//! is GMT, as in Java (the strict config kind refuses it instead).

use std::path::PathBuf;

use super::calendar::gmt_name;

/// A zone named by a `%d{…}{id}` option.
#[derive(Clone, Debug)]
pub(crate) enum JavaZone {
    /// `GMT`, and what Java falls back to for an id it does not know.
    Gmt,
    /// `UTC` (and `Etc/UTC`, …): Java names it `UTC`.
    Utc,
    /// `GMT±h[h][[:]mm]`: a fixed offset named `GMT±hh:mm`.
    Custom {
        /// Seconds east of UTC.
        offset: i32,
        /// `GMT-00:00` keeps its sign in the name.
        negative: bool,
    },
    /// A zone of the tz database, with the names of its standard and daylight time today.
    Named {
        /// Its transitions and rule.
        zone: Box<tz::TimeZone>,
        /// Its standard time's abbreviation (`CET`, `GMT`, `EST`).
        standard: String,
        /// Its daylight time's (`CEST`, `BST`, `EDT`), if it has one.
        daylight: Option<String>,
    },
}

impl PartialEq for JavaZone {
    fn eq(&self, other: &JavaZone) -> bool {
        match (self, other) {
            (JavaZone::Gmt, JavaZone::Gmt) | (JavaZone::Utc, JavaZone::Utc) => true,
            (
                JavaZone::Custom { offset, negative },
                JavaZone::Custom {
                    offset: o,
                    negative: n,
                },
            ) => (offset, negative) == (o, n),
            (JavaZone::Named { zone: a, .. }, JavaZone::Named { zone: b, .. }) => a == b,
            _ => false,
        }
    }
}

impl Eq for JavaZone {}

/// Java's old three-letter ids (`java.time.ZoneId.SHORT_IDS`) that the tz database does not
/// have under that name; `EST`, `MST` and `HST` it has (fixed offsets, as in Java).
const SHORT_IDS: &[(&str, &str)] = &[
    ("ACT", "Australia/Darwin"),
    ("AET", "Australia/Sydney"),
    ("AGT", "America/Argentina/Buenos_Aires"),
    ("ART", "Africa/Cairo"),
    ("AST", "America/Anchorage"),
    ("BET", "America/Sao_Paulo"),
    ("BST", "Asia/Dhaka"),
    ("CAT", "Africa/Harare"),
    ("CNT", "America/St_Johns"),
    ("CST", "America/Chicago"),
    ("CTT", "Asia/Shanghai"),
    ("EAT", "Africa/Addis_Ababa"),
    ("ECT", "Europe/Paris"),
    ("IET", "America/Indiana/Indianapolis"),
    ("IST", "Asia/Kolkata"),
    ("JST", "Asia/Tokyo"),
    ("MIT", "Pacific/Apia"),
    ("NET", "Asia/Yerevan"),
    ("NST", "Pacific/Auckland"),
    ("PLT", "Asia/Karachi"),
    ("PNT", "America/Phoenix"),
    ("PRT", "America/Puerto_Rico"),
    ("PST", "America/Los_Angeles"),
    ("SST", "Pacific/Guadalcanal"),
    ("VST", "Asia/Ho_Chi_Minh"),
];

impl JavaZone {
    /// The zone `TimeZone.getTimeZone(id)` returns; `None` where Java falls back to GMT.
    pub(crate) fn resolve(id: &str) -> Option<JavaZone> {
        match id {
            "GMT" => return Some(JavaZone::Gmt),
            "UTC" | "Etc/UTC" | "Etc/Universal" | "Etc/Zulu" | "Universal" | "Zulu" => {
                return Some(JavaZone::Utc)
            }
            _ => {}
        }
        let region = SHORT_IDS
            .iter()
            .find(|(short, _)| *short == id)
            .map_or(id, |(_, region)| region);
        if let Some(zone) = read_zoneinfo(region) {
            let (standard, daylight) = current_names(&zone);
            return Some(JavaZone::Named {
                zone: Box::new(zone),
                standard,
                daylight,
            });
        }
        parse_custom(id)
    }

    /// Seconds east of UTC at `second` (since the epoch).
    pub(crate) fn offset_at(&self, second: i64) -> i32 {
        match self {
            JavaZone::Gmt | JavaZone::Utc => 0,
            JavaZone::Custom { offset, .. } => *offset,
            JavaZone::Named { zone, .. } => zone
                .find_local_time_type(second)
                .map_or(0, |t| t.ut_offset()),
        }
    }

    /// The (short, long) names Java prints for `z` and `zzzz` at `second`. For named zones the
    /// short name is, as in Java, the zone's name for standard or daylight time as it is today,
    /// whatever the zone was called then (London in 1970, on year-round BST, is `GMT`): the tz
    /// database's abbreviation (`CET`, `EST`: Java's for the common zones; `GMT±hh:mm` where it
    /// has only numbers, `+04`, where Java has a name). The long name is `GMT±hh:mm` (Java
    /// spells it out: `Central European Time`).
    pub(crate) fn names_at(&self, second: i64, offset: i32) -> (String, String) {
        match self {
            JavaZone::Gmt => ("GMT".to_owned(), "Greenwich Mean Time".to_owned()),
            JavaZone::Utc => ("UTC".to_owned(), "Coordinated Universal Time".to_owned()),
            JavaZone::Custom {
                offset: 0,
                negative: true,
            } => ("GMT-00:00".to_owned(), "GMT-00:00".to_owned()),
            JavaZone::Custom { offset, .. } => (gmt_name(*offset), gmt_name(*offset)),
            JavaZone::Named {
                zone,
                standard,
                daylight,
            } => {
                let designation = match zone.find_local_time_type(second) {
                    Ok(t) if t.is_dst() => daylight
                        .clone()
                        .unwrap_or_else(|| t.time_zone_designation().to_owned()),
                    Ok(_) => standard.clone(),
                    Err(_) => String::new(),
                };
                let short = if !designation.is_empty()
                    && designation.chars().all(|c| c.is_ascii_alphabetic())
                {
                    designation
                } else {
                    gmt_name(offset)
                };
                let long = match short.as_str() {
                    "UTC" => "Coordinated Universal Time".to_owned(),
                    "GMT" => "Greenwich Mean Time".to_owned(),
                    _ => gmt_name(offset),
                };
                (short, long)
            }
        }
    }
}

/// The abbreviations of `zone`'s standard and daylight time now: its rule for the future, or
/// else its latest local time types.
fn current_names(zone: &tz::TimeZone) -> (String, Option<String>) {
    let zone = zone.as_ref();
    match zone.extra_rule() {
        Some(tz::timezone::TransitionRule::Fixed(t)) => {
            (t.time_zone_designation().to_owned(), None)
        }
        Some(tz::timezone::TransitionRule::Alternate(a)) => (
            a.std().time_zone_designation().to_owned(),
            Some(a.dst().time_zone_designation().to_owned()),
        ),
        None => {
            let types = zone.local_time_types();
            let last = |dst: bool| {
                let mut in_use = zone
                    .transitions()
                    .iter()
                    .rev()
                    .map(|t| &types[t.local_time_type_index()])
                    .chain(types.first());
                in_use
                    .find(|t| t.is_dst() == dst)
                    .map(|t| t.time_zone_designation().to_owned())
            };
            (last(false).unwrap_or_default(), last(true))
        }
    }
}

/// The tz database's zone `id` from the system's zoneinfo, if `id` names one (a relative path
/// of letters, digits, `_`, `+`, `-`: nothing that leaves the folder).
fn read_zoneinfo(id: &str) -> Option<tz::TimeZone> {
    let valid_part = |part: &str| {
        !part.is_empty()
            && part != "."
            && part != ".."
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b))
    };
    if id.is_empty() || id.len() > 128 || !id.split('/').all(valid_part) {
        return None;
    }
    let dir = std::env::var_os("TZDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/zoneinfo"));
    let path = dir.join(id);
    // A zoneinfo file is a few KiB; anything else (a folder, a huge file) is not a zone.
    let meta = std::fs::metadata(&path).ok()?;
    if !meta.is_file() || meta.len() > 1 << 20 {
        return None;
    }
    let bytes = std::fs::read(&path).ok()?;
    tz::TimeZone::from_tz_data(&bytes).ok()
}

/// Java's `TimeZone.parseCustomTimeZone`: `GMT`, a sign, then `h`, `hh`, `hmm`, `hhmm`,
/// `h:mm` or `hh:mm` (hours ≤ 23, minutes ≤ 59).
fn parse_custom(id: &str) -> Option<JavaZone> {
    let rest = id.strip_prefix("GMT")?;
    let (negative, digits) = match rest.as_bytes().first()? {
        b'+' => (false, &rest[1..]),
        b'-' => (true, &rest[1..]),
        _ => return None,
    };
    if digits.is_empty() {
        return None;
    }
    let (hours, minutes) = match digits.split_once(':') {
        Some((h, m)) => {
            if h.is_empty() || h.len() > 2 || m.len() != 2 {
                return None;
            }
            (number(h)?, number(m)?)
        }
        None => {
            let n = number(digits)?;
            if digits.len() <= 2 {
                (n, 0)
            } else {
                (n / 100, n % 100)
            }
        }
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    let offset = ((hours * 60 + minutes) * 60) as i32;
    Some(JavaZone::Custom {
        offset: if negative { -offset } else { offset },
        negative,
    })
}

/// ASCII decimal digits only (Java's `parseCustomTimeZone` takes nothing else).
fn number(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 6 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn custom(id: &str) -> Option<(i32, bool)> {
        match parse_custom(id)? {
            JavaZone::Custom { offset, negative } => Some((offset, negative)),
            _ => None,
        }
    }

    #[test]
    fn custom_ids_as_java_parses_them() {
        assert_eq!(custom("GMT+2"), Some((7200, false)));
        assert_eq!(custom("GMT+02"), Some((7200, false)));
        assert_eq!(custom("GMT+0200"), Some((7200, false)));
        assert_eq!(custom("GMT+200"), Some((7200, false)));
        assert_eq!(custom("GMT-05:00"), Some((-18000, true)));
        assert_eq!(custom("GMT-5:30"), Some((-19800, true)));
        assert_eq!(custom("GMT-00:00"), Some((0, true)));
        for bad in [
            "GMT",
            "GMT+",
            "GMT+24",
            "GMT+2:3",
            "GMT+123:00",
            "GMT+12345",
            "GMT+1:60",
            "gmt+2",
            "UTC+2",
            "GMT+2:00:00",
            "GMT++2",
            "GMT+２",
        ] {
            assert_eq!(custom(bad), None, "{bad}");
        }
    }

    #[test]
    fn names_and_offsets() {
        let z = JavaZone::resolve("GMT+2").unwrap();
        assert_eq!(z.offset_at(0), 7200);
        assert_eq!(z.names_at(0, 7200).0, "GMT+02:00");
        assert_eq!(
            JavaZone::resolve("GMT-00:00").unwrap().names_at(0, 0).0,
            "GMT-00:00"
        );
        assert_eq!(JavaZone::resolve("UTC").unwrap().names_at(0, 0).0, "UTC");
        assert_eq!(JavaZone::resolve("GMT").unwrap().names_at(0, 0).0, "GMT");
        for unknown in [
            "",
            "bad",
            "Mars/Olympus",
            "../etc/passwd",
            "/etc/passwd",
            "UTC+2",
        ] {
            assert!(JavaZone::resolve(unknown).is_none(), "{unknown}");
        }
    }

    #[test]
    fn named_zones_from_the_system_zoneinfo() {
        if !std::path::Path::new("/usr/share/zoneinfo/Europe/Paris").is_file() {
            return eprintln!("skipped: no /usr/share/zoneinfo");
        }
        let paris = JavaZone::resolve("Europe/Paris").unwrap();
        // 2020-02-19 15:05:02 UTC: CET; 2021-03-28 01:00:00 UTC: CEST.
        assert_eq!(paris.offset_at(1_582_124_702), 3600);
        assert_eq!(paris.names_at(1_582_124_702, 3600).0, "CET");
        assert_eq!(paris.offset_at(1_616_893_200), 7200);
        assert_eq!(paris.names_at(1_616_893_200, 7200).0, "CEST");
        // London was on BST all year in 1970: Java calls it GMT, its standard time's name.
        let london = JavaZone::resolve("Europe/London").unwrap();
        assert_eq!(london.offset_at(0), 3600);
        assert_eq!(london.names_at(0, 3600).0, "GMT");
        assert_eq!(london.names_at(1_595_000_000, 3600).0, "BST");
        let pst = JavaZone::resolve("PST").unwrap();
        assert_eq!(pst.offset_at(1_582_124_702), -8 * 3600);
        assert_eq!(pst.names_at(1_582_124_702, -8 * 3600).0, "PST");
    }
}
