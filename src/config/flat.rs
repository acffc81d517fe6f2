//! Options shared between kinds, written flat among each kind's own.
//!
//! serde's `flatten` and `deny_unknown_fields` do not mix, so a kind that takes a shared group
//! ([`crate::spool::config::SpooledConfig`], the `async` queue's
//! [`QueueConfig`](crate::append::async_appender::QueueConfig)) reads its options with [`split`]:
//! the group's names go to the group, every other to the kind's own struct, whose
//! `deny_unknown_fields` still refuses a typo.

use serde::de::{DeserializeOwned, Deserializer};
use serde::Deserialize;
use serde_value::{Value, ValueDeserializer};

/// Declares a kind's config: its own options beside one shared group, written flat in the YAML
/// and read with [`split`]. The doc comments and attributes given go on the struct.
macro_rules! flat_config {
    ($(#[$attr:meta])* $vis:vis struct $name:ident { own: $own:ty, $group:ident: $shared:ty $(,)? }) => {
        $(#[$attr])*
        #[derive(Clone, Debug)]
        $vis struct $name {
            own: $own,
            $group: $shared,
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let (own, $group) = $crate::config::flat::split(d)?;
                Ok($name { own, $group })
            }
        }
    };
}
pub(crate) use flat_config;

/// A group of options several kinds take.
pub(crate) trait SharedOptions: DeserializeOwned {
    /// The option names of the group.
    const NAMES: &'static [&'static str];
}

/// Reads flat options: `S`'s names into `S`, the rest into the kind's own `T`. Both are read
/// with the caller's error type, so messages keep its wording (serde_yaml's `unknown field
/// `x`, expected one of …`).
pub(crate) fn split<'de, D, T, S>(d: D) -> Result<(T, S), D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
    S: SharedOptions,
{
    let mut value = Value::deserialize(d)?;
    let mut shared = std::collections::BTreeMap::new();
    if let Value::Map(map) = &mut value {
        for name in S::NAMES {
            let key = Value::String((*name).to_owned());
            if let Some(v) = map.remove(&key) {
                shared.insert(key, v);
            }
        }
    }
    let own = T::deserialize(ValueDeserializer::<D::Error>::new(value))?;
    let shared = S::deserialize(ValueDeserializer::<D::Error>::new(Value::Map(shared)))?;
    Ok((own, shared))
}
