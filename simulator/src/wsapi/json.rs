//! Request-body validation in the WSAPI order (spec §1.8): JSON syntax, then unknown members
//! (top level and nested, checked together against a static [`Field`] tree), then member types,
//! ranges, lengths and characters, member by member in the order each handler asks for them.
//!
//! Design choice: bodies are read as `serde_json::Value` and checked by hand instead of derived
//! `Deserialize` structs, because the WSAPI distinguishes "unknown member" (checked first, across
//! the whole body) from "wrong type" and "missing", each with its own code, and serde would report
//! whichever it met first. The cost is explicit extraction code in each handler.

use serde_json::{Map, Value};

use super::error::{ApiError, ApiResult};
use crate::ErrorCode;
use crate::names::{NAME27, validate_name};

/// The shape of a member, for the unknown-member check.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Shape {
    /// Any value (its type is checked when it is read).
    Any,
    /// An object with these members.
    Object(&'static [Field]),
    /// An array of objects with these members.
    ObjectList(&'static [Field]),
}

/// A known member name and its shape.
pub(crate) type Field = (&'static str, Shape);

/// Parses a request body; an empty body is an empty object.
///
/// Errors: `INV_INPUT` (12) for malformed JSON.
pub(crate) fn parse(bytes: &[u8]) -> ApiResult<Value> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_slice(bytes).map_err(|e| ApiError::invalid(&format!("malformed JSON: {e}")))
}

/// Checks that `value` is an object whose members (recursively) are all in `fields`.
///
/// Errors: `INV_INPUT` (12) for a non-object body or an unknown member, with `ref` naming it.
pub(crate) fn object<'a>(value: &'a Value, fields: &'static [Field]) -> ApiResult<Obj<'a>> {
    let Value::Object(map) = value else {
        return Err(ApiError::invalid("the request body must be a JSON object"));
    };
    check_members(map, fields, "")?;
    Ok(Obj { map })
}

fn check_members(map: &Map<String, Value>, fields: &'static [Field], path: &str) -> ApiResult<()> {
    for (name, value) in map {
        let Some((_, shape)) = fields.iter().find(|(known, _)| known == name) else {
            let full = format!("{path}{name}");
            return Err(ApiError::member(ErrorCode::INV_INPUT, &full, &format!("unrecognized member '{full}'")));
        };
        match (shape, value) {
            (Shape::Object(inner), Value::Object(child)) => check_members(child, inner, &format!("{path}{name}."))?,
            (Shape::ObjectList(inner), Value::Array(items)) => {
                for item in items {
                    if let Value::Object(child) = item {
                        check_members(child, inner, &format!("{path}{name}[]."))?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// A validated JSON object; getters check types.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Obj<'a> {
    map: &'a Map<String, Value>,
}

/// `400 INV_INPUT_WRONG_TYPE` for `member`.
pub(crate) fn wrong_type(member: &str, expected: &str) -> ApiError {
    ApiError::member(ErrorCode::INV_INPUT_WRONG_TYPE, member, &format!("'{member}' must be {expected}"))
}

/// `400 INV_INPUT_MISSING_REQUIRED` for `member`.
pub(crate) fn missing(member: &str) -> ApiError {
    ApiError::member(ErrorCode::INV_INPUT_MISSING_REQUIRED, member, &format!("'{member}' is required"))
}

impl<'a> Obj<'a> {
    /// The raw member, `None` when absent or `null`.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// Whether the member is present and not `null`.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// An optional string.
    pub(crate) fn str(&self, key: &str) -> ApiResult<Option<&'a str>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(wrong_type(key, "a string")),
        }
    }

    /// A required string.
    pub(crate) fn req_str(&self, key: &str) -> ApiResult<&'a str> {
        self.str(key)?.ok_or_else(|| missing(key))
    }

    /// A required reference to a `what` (max length `max`) or, as `set:<name>`, to a set.
    pub(crate) fn req_reference(&self, key: &str, what: &str, max: usize) -> ApiResult<String> {
        let name = self.req_str(key)?;
        reference(what, name, max).map_err(|e| e.with_ref(key))?;
        Ok(name.to_owned())
    }

    /// An optional object name checked against the 3PAR name rules (max length `max`).
    pub(crate) fn name(&self, key: &str, what: &str, max: usize) -> ApiResult<Option<String>> {
        match self.str(key)? {
            None => Ok(None),
            Some(name) => {
                validate_name(what, name, max).map_err(|e| ApiError::from(e).with_ref(key))?;
                Ok(Some(name.to_owned()))
            }
        }
    }

    /// A required object name.
    pub(crate) fn req_name(&self, key: &str, what: &str, max: usize) -> ApiResult<String> {
        self.name(key, what, max)?.ok_or_else(|| missing(key))
    }

    /// An optional boolean.
    pub(crate) fn bool(&self, key: &str) -> ApiResult<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(wrong_type(key, "a boolean")),
        }
    }

    /// A boolean that defaults to false.
    pub(crate) fn flag(&self, key: &str) -> ApiResult<bool> {
        Ok(self.bool(key)?.unwrap_or(false))
    }

    /// An optional integer in `min..=max`: below → `INV_INPUT_BELOW_RANGE` (115), above →
    /// `too_large` (usually `INV_INPUT_EXCEEDS_RANGE`, 43), fractional or not a number → 39.
    pub(crate) fn int_in(&self, key: &str, min: i64, max: i64, too_large: ErrorCode) -> ApiResult<Option<i64>> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        let number = int_value(value).ok_or_else(|| wrong_type(key, "an integer"))?;
        if number < i128::from(min) {
            return Err(ApiError::member(ErrorCode::INV_INPUT_BELOW_RANGE, key, &format!("'{key}' is below {min}")));
        }
        if number > i128::from(max) {
            return Err(ApiError::member(too_large, key, &format!("'{key}' exceeds {max}")));
        }
        Ok(Some(number as i64))
    }

    /// An optional integer in `min..=max` (above → 43).
    pub(crate) fn int(&self, key: &str, min: i64, max: i64) -> ApiResult<Option<i64>> {
        self.int_in(key, min, max, ErrorCode::INV_INPUT_EXCEEDS_RANGE)
    }

    /// An optional non-negative integer as `u64` (up to `max`).
    pub(crate) fn uint(&self, key: &str, max: u64) -> ApiResult<Option<u64>> {
        Ok(self.int(key, 0, i64::try_from(max).unwrap_or(i64::MAX))?.map(|v| v as u64))
    }

    /// An optional enum value in `allowed` (else `INV_INPUT_BAD_ENUM_VALUE`, 46).
    pub(crate) fn enumeration(&self, key: &str, allowed: &[i64]) -> ApiResult<Option<u8>> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        let number = int_value(value).ok_or_else(|| wrong_type(key, "an integer"))?;
        match allowed.iter().find(|a| i128::from(**a) == number) {
            Some(v) => Ok(Some(*v as u8)),
            None => Err(ApiError::member(
                ErrorCode::INV_INPUT_BAD_ENUM_VALUE,
                key,
                &format!("'{key}' must be one of {allowed:?}"),
            )),
        }
    }

    /// An optional nested object (its members were checked by [`object`]).
    pub(crate) fn obj(&self, key: &str) -> ApiResult<Option<Obj<'a>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Obj { map })),
            Some(_) => Err(wrong_type(key, "an object")),
        }
    }

    /// An optional array.
    pub(crate) fn list(&self, key: &str) -> ApiResult<Option<&'a Vec<Value>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(_) => Err(wrong_type(key, "an array")),
        }
    }

    /// An optional array of strings.
    pub(crate) fn str_list(&self, key: &str) -> ApiResult<Option<Vec<String>>> {
        let Some(items) = self.list(key)? else {
            return Ok(None);
        };
        items
            .iter()
            .map(|item| item.as_str().map(str::to_owned).ok_or_else(|| wrong_type(key, "an array of strings")))
            .collect::<ApiResult<Vec<_>>>()
            .map(Some)
    }

    /// Each element of an array member as an object.
    pub(crate) fn obj_list(&self, key: &str) -> ApiResult<Option<Vec<Obj<'a>>>> {
        let Some(items) = self.list(key)? else {
            return Ok(None);
        };
        items
            .iter()
            .map(|item| match item {
                Value::Object(map) => Ok(Obj { map }),
                _ => Err(wrong_type(key, "an array of objects")),
            })
            .collect::<ApiResult<Vec<_>>>()
            .map(Some)
    }

    /// Every member as `(name, value)` (for free-form objects such as descriptors).
    pub(crate) fn members(&self) -> impl Iterator<Item = (&'a String, &'a Value)> {
        self.map.iter()
    }
}

/// An integral JSON number as `i128` (floats with no fraction count; huge floats saturate so
/// range checks still reject them).
fn int_value(value: &Value) -> Option<i128> {
    let Value::Number(number) = value else {
        return None;
    };
    if let Some(i) = number.as_i64() {
        return Some(i128::from(i));
    }
    if let Some(u) = number.as_u64() {
        return Some(i128::from(u));
    }
    let f = number.as_f64()?;
    if f.fract() != 0.0 || !f.is_finite() {
        return None;
    }
    Some(if f > 1e30 {
        i128::MAX
    } else if f < -1e30 {
        i128::MIN
    } else {
        f as i128
    })
}

/// Checks a reference to a `what` (max length `max`) or, as `set:<name>`, to a set, against the
/// 3PAR name rules.
pub(crate) fn reference(what: &str, name: &str, max: usize) -> ApiResult<()> {
    let (what, bare, max) = match name.strip_prefix("set:") {
        Some(set) => ("set", set, NAME27),
        None => (what, name, max),
    };
    validate_name(what, bare, max).map_err(ApiError::from)
}

/// Checks an object name taken from a request path (spec §1.7, §1.8): empty or an illegal
/// character is 400 before any lookup. Length is left to the lookup (404): a name too long to
/// exist cannot be found, and spec §1.8 asks 404 for too-long set names.
pub(crate) fn path_name(what: &str, name: &str) -> ApiResult<()> {
    validate_name(what, name, usize::MAX).map_err(ApiError::from)
}
