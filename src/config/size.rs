//! Byte sizes as ops write them: `100 MB`, `64KB`, `1 GiB`, `4096`.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};

/// A size in bytes. Units are binary, as in log4j's `MaxFileSize`: `KB` = 1024 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

/// A size that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid size `{0}` (expected a number with an optional unit: B, KB, MB, GB, TB)")]
pub struct InvalidSize(pub String);

impl FromStr for ByteSize {
    type Err = InvalidSize;

    fn from_str(s: &str) -> Result<ByteSize, InvalidSize> {
        let bad = || InvalidSize(s.to_owned());
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (digits, unit) = t.split_at(split);
        let n: u64 = digits.parse().map_err(|_| bad())?;
        let shift = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 0,
            "k" | "kb" | "kib" => 10,
            "m" | "mb" | "mib" => 20,
            "g" | "gb" | "gib" => 30,
            "t" | "tb" | "tib" => 40,
            _ => return Err(bad()),
        };
        n.checked_mul(1u64 << shift).map(ByteSize).ok_or_else(bad)
    }
}

/// The largest binary unit that divides the size exactly (`100MB`, `1536KB`, `10B`): what
/// [`FromStr`] reads back to the same size.
impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        for (shift, unit) in [(40, "TB"), (30, "GB"), (20, "MB"), (10, "KB")] {
            if n != 0 && n % (1u64 << shift) == 0 {
                return write!(f, "{}{unit}", n >> shift);
            }
        }
        write!(f, "{n}B")
    }
}

impl<'de> serde::Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ByteSize, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a size such as `100 MB` or a number of bytes")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom(format!("invalid size {v}")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_what_it_reads_back() {
        for (text, shown) in [
            ("100MB", "100MB"),
            ("1 GiB", "1GB"),
            ("1536KB", "1536KB"),
            ("2048 KB", "2MB"),
            ("10", "10B"),
            ("0", "0B"),
        ] {
            let size: ByteSize = text.parse().unwrap();
            assert_eq!(size.to_string(), shown);
            assert_eq!(shown.parse::<ByteSize>().unwrap(), size);
        }
    }

    proptest::proptest! {
        #[test]
        fn display_reads_back_to_the_same_size(n in proptest::num::u64::ANY) {
            let size = ByteSize(n);
            proptest::prop_assert_eq!(size.to_string().parse::<ByteSize>().unwrap(), size);
        }
    }

    #[test]
    fn parses_units() {
        assert_eq!("100 MB".parse::<ByteSize>().unwrap().0, 100 << 20);
        assert_eq!("64KB".parse::<ByteSize>().unwrap().0, 64 << 10);
        assert_eq!("1 GiB".parse::<ByteSize>().unwrap().0, 1 << 30);
        assert_eq!("4096".parse::<ByteSize>().unwrap().0, 4096);
        assert_eq!(" 7 b ".parse::<ByteSize>().unwrap().0, 7);
        for bad in ["", "MB", "1.5 MB", "10 XB", "-1", "99999999999999999999 TB"] {
            assert!(bad.parse::<ByteSize>().is_err(), "{bad}");
        }
        let v: ByteSize = serde_yaml::from_str("2048").unwrap();
        assert_eq!(v.0, 2048);
    }
}
