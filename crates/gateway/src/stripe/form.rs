//! Stripe's request body encoding: `application/x-www-form-urlencoded` with bracket notation for
//! nested keys (`metadata[order_id]=ORD-1`, `payment_method_types[0]=card`).
//!
//! Brackets in keys are left literal, as Stripe's own libraries send them, so a request in a log
//! or a capture reads the way Stripe's documentation writes it; everything else is
//! percent-encoded.

/// An ordered list of form fields. Order is kept so the same request always encodes to the same
/// bytes (useful when comparing captures, and harmless to the gateway).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    pub(crate) fn new() -> Form {
        Form::default()
    }

    pub(crate) fn field(mut self, key: &str, value: impl Into<String>) -> Form {
        self.pairs.push((key.to_string(), value.into()));
        self
    }

    /// `parent[key]=value` for every pair.
    pub(crate) fn nested<'a>(
        mut self,
        parent: &str,
        pairs: impl IntoIterator<Item = (&'a str, String)>,
    ) -> Form {
        for (key, value) in pairs {
            self.pairs.push((format!("{parent}[{key}]"), value));
        }
        self
    }

    /// `parent[0]=a&parent[1]=b`: indexed, as Stripe's libraries encode arrays.
    pub(crate) fn list<'a>(
        mut self,
        parent: &str,
        values: impl IntoIterator<Item = &'a str>,
    ) -> Form {
        for (index, value) in values.into_iter().enumerate() {
            self.pairs
                .push((format!("{parent}[{index}]"), value.to_string()));
        }
        self
    }

    pub(crate) fn encode(&self) -> String {
        let mut out = String::new();
        for (index, (key, value)) in self.pairs.iter().enumerate() {
            if index > 0 {
                out.push('&');
            }
            encode_into(&mut out, key, true);
            out.push('=');
            encode_into(&mut out, value, false);
        }
        out
    }
}

/// Percent-encodes all but RFC 3986's unreserved characters (and, in keys, the brackets).
fn encode_into(out: &mut String, text: &str, keep_brackets: bool) {
    for byte in text.bytes() {
        let literal = byte.is_ascii_alphanumeric()
            || matches!(byte, b'-' | b'_' | b'.' | b'~')
            || (keep_brackets && matches!(byte, b'[' | b']'));
        if literal {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brackets_stay_literal_in_keys_and_values_are_escaped() {
        let form = Form::new()
            .field("amount", "1234")
            .nested("metadata", [("order_id", "ORD 1&x=y".to_string())])
            .list("payment_method_types", ["card"]);
        assert_eq!(
            form.encode(),
            "amount=1234&metadata[order_id]=ORD%201%26x%3Dy&payment_method_types[0]=card"
        );
        assert_eq!(
            Form::new().field("q", "é[]").encode(),
            "q=%C3%A9%5B%5D",
            "brackets in values are data and get escaped"
        );
    }
}
