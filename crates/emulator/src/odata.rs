//! The checks Graph's OData reader makes on request bodies before any operation runs: property
//! types, enum members, undeclared properties of closed types, with the reader's own messages.
//! Which properties a resource has lives with the resource (meetings, events).

use serde_json::Value;

use super::wire;

/// An OData type, as far as request bodies are checked.
pub(crate) enum Ty {
    Bool,
    Str,
    /// `Edm.Int32`.
    Int,
    Date,
    /// An enum whose members are matched exactly.
    Enum(&'static str, &'static [&'static str]),
    /// An enum Outlook's endpoints match without regard to case (`"HTML"`, `"Required"` in
    /// Graph's own event examples).
    Word(&'static str, &'static [&'static str]),
    /// Complex type: name, open?, declared properties.
    Obj(&'static str, bool, &'static [(&'static str, Ty)]),
    Coll(&'static Ty),
}

/// Checks `v`, the value of property `name`, against `ty`; `Err` holds the reader's message.
/// `null` passes: nullability is each operation's business.
pub(crate) fn check(ty: &Ty, name: &str, v: &Value) -> Result<(), String> {
    let node = match v {
        Value::Object(_) => "StartObject",
        Value::Array(_) => "StartArray",
        _ => "PrimitiveValue",
    };
    let unexpected = |want: &str| {
        format!("An unexpected '{node}' node was found for property named '{name}' when reading from the JSON reader. A '{want}' node was expected.")
    };
    let primitive = |edm: &str, ok: bool| match (node, ok) {
        ("PrimitiveValue", true) => Ok(()),
        ("PrimitiveValue", false) => {
            let literal = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            Err(format!("Cannot convert the literal '{literal}' to the expected type '{edm}'."))
        }
        _ => Err(unexpected("PrimitiveValue")),
    };
    let int32 = v.as_i64().is_some_and(|i| i32::try_from(i).is_ok());
    match (ty, v) {
        (_, Value::Null) => Ok(()),
        (Ty::Bool, _) => primitive("Edm.Boolean", v.is_boolean()),
        (Ty::Str, _) => primitive("Edm.String", v.is_string()),
        (Ty::Int, _) => primitive("Edm.Int32", int32),
        (Ty::Date, _) => primitive("Edm.DateTimeOffset", v.as_str().and_then(wire::parse_datetime).is_some()),
        (Ty::Enum(t, members), _) => primitive(&format!("microsoft.graph.{t}"), v.as_str().is_some_and(|s| members.contains(&s))),
        (Ty::Word(t, members), _) => {
            let member = |s: &str| members.iter().any(|m| m.eq_ignore_ascii_case(s));
            primitive(&format!("microsoft.graph.{t}"), v.as_str().is_some_and(member))
        }
        (Ty::Obj(t, open, fields), Value::Object(map)) => map.iter().filter(|(k, _)| !k.starts_with('@')).try_for_each(|(k, fv)| {
            match fields.iter().find(|(n, _)| n == k) {
                Some((_, field)) => check(field, k, fv),
                None if *open => Ok(()),
                None => Err(format!("The property '{k}' does not exist on type 'microsoft.graph.{t}'. Make sure to only use property names that are defined by the type.")),
            }
        }),
        (Ty::Coll(item), Value::Array(items)) => items.iter().try_for_each(|i| check(item, name, i)),
        (Ty::Obj(..), _) => Err(unexpected("StartObject")),
        (Ty::Coll(_), _) => Err(unexpected("StartArray")),
    }
}
