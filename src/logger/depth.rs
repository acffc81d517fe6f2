//! Measures how deeply a serde value nests without writing it, stopping at the limit: a value
//! nested thousands of levels deep is refused after [`MAX_EVENT_DEPTH`] calls down, so measuring
//! it cannot overflow the stack the way writing it would.

use std::fmt;

use serde::ser::{self, Serialize};

use crate::protocol::wire::MAX_EVENT_DEPTH;

/// Whether `value`, written as JSON inside the event object, nests deeper than
/// [`MAX_EVENT_DEPTH`] (the event object counted). A value serde refuses for another reason is
/// written as its text, so it does not nest.
pub(crate) fn too_deep(value: &impl Serialize) -> bool {
    let mut depth = Depth {
        current: 1,
        hit: false,
    };
    // Wrappers in between (log's `Value`) may turn the error into their own: the flag says.
    let _ = value.serialize(&mut depth);
    depth.hit
}

struct Depth {
    current: usize,
    hit: bool,
}

impl Depth {
    fn enter(&mut self) -> Result<&mut Self, Stop> {
        self.current += 1;
        if self.current > MAX_EVENT_DEPTH {
            self.hit = true;
            return Err(Stop::TooDeep);
        }
        Ok(self)
    }
    fn leave(&mut self) -> Result<(), Stop> {
        self.current -= 1;
        Ok(())
    }
}

#[derive(Debug)]
enum Stop {
    TooDeep,
    Other,
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stop::TooDeep => "nested too deep",
            Stop::Other => "not serializable",
        })
    }
}

impl std::error::Error for Stop {}

impl ser::Error for Stop {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Stop::Other
    }
}

macro_rules! scalars {
    ($($name:ident: $ty:ty),* $(,)?) => {
        $(fn $name(self, _: $ty) -> Result<(), Stop> { Ok(()) })*
    };
}

/// A type, variant or field name, never looked at.
type Name = &'static str;

impl ser::Serializer for &mut Depth {
    type Ok = ();
    type Error = Stop;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    scalars!(
        serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
        serialize_i64: i64, serialize_i128: i128, serialize_u8: u8, serialize_u16: u16,
        serialize_u32: u32, serialize_u64: u64, serialize_u128: u128, serialize_f32: f32,
        serialize_f64: f64, serialize_char: char, serialize_str: &str, serialize_bytes: &[u8],
        serialize_unit_struct: Name,
    );

    fn serialize_none(self) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<(), Stop> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_unit_variant(self, _: Name, _: u32, _: Name) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: Name,
        value: &T,
    ) -> Result<(), Stop> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: Name,
        _: u32,
        _: Name,
        value: &T,
    ) -> Result<(), Stop> {
        // Written as `{"Variant":value}`.
        value.serialize(&mut *self.enter()?)?;
        self.leave()
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self, Stop> {
        self.enter()
    }
    fn serialize_tuple(self, _: usize) -> Result<Self, Stop> {
        self.enter()
    }
    fn serialize_tuple_struct(self, _: Name, _: usize) -> Result<Self, Stop> {
        self.enter()
    }
    fn serialize_tuple_variant(self, _: Name, _: u32, _: Name, _: usize) -> Result<Self, Stop> {
        // Written as `{"Variant":[…]}`: two levels, left together at `end`.
        self.enter()?;
        self.enter()
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self, Stop> {
        self.enter()
    }
    fn serialize_struct(self, _: Name, _: usize) -> Result<Self, Stop> {
        self.enter()
    }
    fn serialize_struct_variant(self, _: Name, _: u32, _: Name, _: usize) -> Result<Self, Stop> {
        self.enter()?;
        self.enter()
    }
    fn collect_str<T: ?Sized + fmt::Display>(self, _: &T) -> Result<(), Stop> {
        // A string does not nest: no need to format it.
        Ok(())
    }
}

/// The compound serializers: each element or field one level down; `end` leaves the levels
/// its `serialize_*` entered (two for a variant, written `{"Variant":[…]}` or `{"Variant":{…}}`).
macro_rules! compound {
    ($($trait:ident :: $method:ident ($($name:ty)?) leaves $levels:literal),* $(,)?) => {
        $(impl ser::$trait for &mut Depth {
            type Ok = ();
            type Error = Stop;
            fn $method<T: ?Sized + Serialize>(
                &mut self,
                $(_: $name,)?
                value: &T,
            ) -> Result<(), Stop> {
                value.serialize(&mut **self)
            }
            fn end(self) -> Result<(), Stop> {
                self.current -= $levels;
                Ok(())
            }
        })*
    };
}

compound!(
    SerializeSeq::serialize_element() leaves 1,
    SerializeTuple::serialize_element() leaves 1,
    SerializeTupleStruct::serialize_field() leaves 1,
    SerializeTupleVariant::serialize_field() leaves 2,
    SerializeStruct::serialize_field(Name) leaves 1,
    SerializeStructVariant::serialize_field(Name) leaves 2,
);

impl ser::SerializeMap for &mut Depth {
    type Ok = ();
    type Error = Stop;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, _: &T) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Stop> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), Stop> {
        self.leave()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_the_written_json() {
        #[derive(serde::Serialize)]
        enum E {
            T(u8, Vec<u8>),
            S { a: Vec<u8> },
            N(Vec<u8>),
        }
        let mut v = serde_json::Value::Null;
        for levels in 1..=MAX_EVENT_DEPTH {
            v = serde_json::Value::Array(vec![v]);
            let written = crate::encode::json_depth(&serde_json::to_vec(&v).unwrap());
            assert_eq!(written, levels);
            assert_eq!(too_deep(&v), levels + 1 > MAX_EVENT_DEPTH, "{levels}");
        }
        for (e, levels) in [
            (E::T(1, vec![1]), 3),
            (E::S { a: vec![1] }, 3),
            (E::N(vec![1]), 2),
        ] {
            assert_eq!(
                crate::encode::json_depth(&serde_json::to_vec(&e).unwrap()),
                levels
            );
            let mut d = Depth {
                current: 0,
                hit: false,
            };
            e.serialize(&mut d).unwrap();
            assert_eq!(d.current, 0);
        }
    }
}
