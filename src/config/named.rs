//! Per-field deserializers that name the option in a type error.

/// Per-field deserializers that put the option's name in front of a type error, so the message
/// names the option even when the config comes through log4rs's untyped value (which has no
/// path of its own).
macro_rules! named_fields {
    ($($field:ident: $ty:ty),* $(,)?) => {
        mod named {
            #[allow(unused_imports)]
            use super::*;
            use serde::de::{Deserializer, Error};

            fn with_name<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
                name: &str,
                d: D,
            ) -> Result<T, D::Error> {
                T::deserialize(d).map_err(|e| {
                    let text = e.to_string();
                    if text.starts_with(&format!("{name}: ")) {
                        D::Error::custom(text)
                    } else {
                        D::Error::custom(format_args!("{name}: {text}"))
                    }
                })
            }

            $(
                pub(super) fn $field<'de, D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                    with_name(stringify!($field), d)
                }
            )*
        }
    };
}
pub(crate) use named_fields;
