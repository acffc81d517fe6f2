//! English month and weekday names, as Java's `SimpleDateFormat` and strftime print them: the one
//! table the pattern layout's `%d`, the roll suffixes (`%b`, `%A`) and the reading of rolled
//! file names share.

/// `January` … `December`.
pub(crate) const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// `Jan` … `Dec`.
pub(crate) const MONTHS_SHORT: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `Sunday` … `Saturday` (Sunday is 0).
pub(crate) const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// `Sun` … `Sat`.
pub(crate) const WEEKDAYS_SHORT: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/// `AM`, `PM`.
pub(crate) const AM_PM: [&str; 2] = ["AM", "PM"];

/// `am`, `pm`.
pub(crate) const AM_PM_LOWER: [&str; 2] = ["am", "pm"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_the_long_ones_cut() {
        for (long, short) in MONTHS.iter().zip(MONTHS_SHORT) {
            assert_eq!(&long[..3], short);
        }
        for (long, short) in WEEKDAYS.iter().zip(WEEKDAYS_SHORT) {
            assert_eq!(&long[..3], short);
        }
    }
}
