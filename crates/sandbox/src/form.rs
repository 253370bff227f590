//! Stripe's form encoding: `application/x-www-form-urlencoded` bodies with bracket notation
//! (`metadata[order_id]=X`, `payment_method_types[]=card`, `expand[0]=x`) parsed into a tree.
//!
//! The tree is a `serde_json::Value` holding only strings, objects and arrays, because that is
//! what the wire carries: every leaf is text, and typing (integers, booleans) is the job of the
//! endpoint that reads the parameter. This module does not know any endpoint.

use serde_json::{Map, Value};

/// Why a body could not be read as Stripe form parameters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("invalid parameter name {0:?}: unbalanced brackets")]
    BadName(String),
    #[error("parameter {0:?} is given both as a value and as a nested object")]
    Conflict(String),
}

/// The nesting depth Stripe accepts is small; a bound keeps a hostile body from building a deep
/// tree that would make later recursion expensive.
const PARAM_DEPTH_MAX: usize = 8;

/// Parses a form-encoded body (or query string) into a tree of parameters.
pub fn parse(input: &[u8]) -> Result<Map<String, Value>, FormError> {
    let mut root = Map::new();
    for (name, value) in form_urlencoded::parse(input) {
        let path = split_name(&name)?;
        insert(&mut root, &name, &path, value.into_owned())?;
    }
    Ok(root)
}

/// `a[b][]` → `["a", "b", ""]`; an empty segment means "append to a list".
fn split_name(name: &str) -> Result<Vec<String>, FormError> {
    let bad = || FormError::BadName(name.to_string());
    let (head, mut rest) = match name.find('[') {
        Some(i) => (&name[..i], &name[i..]),
        None => (name, ""),
    };
    if head.is_empty() {
        return Err(bad());
    }
    let mut path = vec![head.to_string()];
    while !rest.is_empty() {
        if !rest.starts_with('[') {
            return Err(bad());
        }
        let close = rest.find(']').ok_or_else(bad)?;
        path.push(rest[1..close].to_string());
        rest = &rest[close + 1..];
        if path.len() > PARAM_DEPTH_MAX {
            return Err(bad());
        }
    }
    Ok(path)
}

fn insert(
    map: &mut Map<String, Value>,
    full: &str,
    path: &[String],
    value: String,
) -> Result<(), FormError> {
    let conflict = || FormError::Conflict(full.to_string());
    let (key, rest) = path
        .split_first()
        .expect("split_name never returns an empty path");
    if rest.is_empty() {
        map.insert(key.clone(), Value::String(value));
        return Ok(());
    }
    // `x[]=v` and `x[0]=v` both build a list; Stripe accepts either spelling for arrays.
    let is_list = rest[0].is_empty() || rest[0].bytes().all(|b| b.is_ascii_digit());
    let slot = map.entry(key.clone()).or_insert_with(|| {
        if is_list {
            Value::Array(Vec::new())
        } else {
            Value::Object(Map::new())
        }
    });
    match slot {
        Value::Array(items) if is_list => {
            if rest.len() == 1 {
                items.push(Value::String(value));
                Ok(())
            } else {
                // A list of objects (`items[0][price]=x`): index the element explicitly.
                let index: usize = rest[0].parse().map_err(|_| conflict())?;
                while items.len() <= index {
                    items.push(Value::Object(Map::new()));
                }
                match &mut items[index] {
                    Value::Object(inner) => insert(inner, full, &rest[1..], value),
                    _ => Err(conflict()),
                }
            }
        }
        Value::Object(inner) if !is_list || !rest[0].is_empty() => insert(inner, full, rest, value),
        _ => Err(conflict()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_brackets() {
        let got = parse(
            b"amount=1099&currency=eur&metadata[order_id]=O-1&metadata[note]=a%20b+c\
              &payment_method_types[]=card&payment_method_types[]=sepa&expand[0]=latest_charge",
        )
        .unwrap();
        assert_eq!(
            Value::Object(got),
            json!({
                "amount": "1099",
                "currency": "eur",
                "metadata": {"order_id": "O-1", "note": "a b c"},
                "payment_method_types": ["card", "sepa"],
                "expand": ["latest_charge"],
            })
        );
    }

    #[test]
    fn refuses_malformed_names() {
        assert!(parse(b"a[b=1").is_err());
        assert!(parse(b"[b]=1").is_err());
        assert!(parse(b"a=1&a[b]=2").is_err());
    }
}
