//! Partial updates: a field absent from a patch is left alone, a `null` clears it.

use serde::{Deserialize, Deserializer};

/// `Option<Option<T>>` for patch fields: absent → `None`, `null` → `Some(None)`.
pub fn double_option<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}
