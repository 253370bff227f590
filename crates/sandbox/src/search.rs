//! The subset of Stripe's Search query language the sandbox understands, for PaymentIntents.
//!
//! Supported: clauses `metadata['key']:'value'`, `status:'succeeded'`, `currency:'eur'`,
//! `customer:'cus_x'`, `amount:1099`, joined by `AND`. Values may use single or double quotes.
//! `OR`, negation and the `~` operator are refused with a clear error rather than misread: a test
//! double that silently matched the wrong set would hide bugs.

/// One clause of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clause {
    Metadata { key: String, value: String },
    Status(String),
    Currency(String),
    Customer(String),
    Amount(i64),
}

/// Stripe caps query length; a bound keeps parsing cheap.
const QUERY_LEN_MAX: usize = 10_000;

/// Parses a query into clauses that must all hold.
pub fn parse(query: &str) -> Result<Vec<Clause>, String> {
    if query.len() > QUERY_LEN_MAX {
        return Err(format!("query is longer than {QUERY_LEN_MAX} characters"));
    }
    let mut p = Parser {
        s: query.as_bytes(),
        i: 0,
    };
    let mut clauses = vec![p.clause()?];
    loop {
        p.skip_ws();
        if p.i == p.s.len() {
            return Ok(clauses);
        }
        let word = p.word();
        match word.as_str() {
            "AND" => clauses.push(p.clause()?),
            "OR" => return Err("OR is not supported by the sandbox's search; use AND".into()),
            other => return Err(format!("expected AND between clauses, found {other:?}")),
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn word(&mut self) -> String {
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_')
        {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!(
                "expected {:?} at position {} of the query",
                c as char, self.i
            ))
        }
    }

    fn quoted(&mut self) -> Result<String, String> {
        let quote = match self.s.get(self.i) {
            Some(q @ (b'\'' | b'"')) => *q,
            _ => return Err(format!("expected a quoted value at position {}", self.i)),
        };
        self.i += 1;
        let mut out = Vec::new();
        while let Some(&c) = self.s.get(self.i) {
            self.i += 1;
            match c {
                b'\\' => {
                    if let Some(&next) = self.s.get(self.i) {
                        out.push(next);
                        self.i += 1;
                    }
                }
                c if c == quote => return String::from_utf8(out).map_err(|e| e.to_string()),
                c => out.push(c),
            }
        }
        Err("unterminated quoted value in query".into())
    }

    fn clause(&mut self) -> Result<Clause, String> {
        self.skip_ws();
        if self.s.get(self.i) == Some(&b'-') {
            return Err("negation is not supported by the sandbox's search".into());
        }
        let field = self.word();
        if field.is_empty() {
            return Err(format!("expected a field at position {}", self.i));
        }
        let key = if field == "metadata" {
            self.expect(b'[')?;
            let k = self.quoted()?;
            self.expect(b']')?;
            Some(k)
        } else {
            None
        };
        if self.s.get(self.i) == Some(&b'~') {
            return Err("the ~ (substring) operator is not supported by the sandbox".into());
        }
        self.expect(b':')?;
        Ok(match (field.as_str(), key) {
            ("metadata", Some(key)) => Clause::Metadata {
                key,
                value: self.quoted()?,
            },
            ("status", _) => Clause::Status(self.quoted()?),
            ("currency", _) => Clause::Currency(self.quoted()?.to_ascii_lowercase()),
            ("customer", _) => Clause::Customer(self.quoted()?),
            ("amount", _) => {
                let w = self.word();
                Clause::Amount(
                    w.parse()
                        .map_err(|_| format!("amount {w:?} is not an integer"))?,
                )
            }
            (other, _) => {
                return Err(format!(
                    "field {other:?} is not searchable in the sandbox: use metadata['key'], \
                     status, currency, customer or amount"
                ))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_clauses() {
        assert_eq!(
            parse("metadata['order_id']:'O-1 AND x' AND status:\"succeeded\"  AND amount:500")
                .unwrap(),
            vec![
                Clause::Metadata {
                    key: "order_id".into(),
                    value: "O-1 AND x".into()
                },
                Clause::Status("succeeded".into()),
                Clause::Amount(500),
            ]
        );
        for bad in [
            "",
            "status:'a' OR status:'b'",
            "metadata['a']:'b",
            "-status:'a'",
            "description~'x'",
            "created:'1'",
            "status:'a' status:'b'",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
