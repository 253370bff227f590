//! Reading orders to import from JSON (`{"orders": [...]}`) or CSV (a header line, then
//! `order_id,amount_minor,currency,customer_id,payment_method_id,description[,gateway[,customer_name]]`), and the
//! checks every imported order passes, among them that its payment source is written in its
//! gateway's syntax (a Stripe `pm_…`, a PayPal `card:<vault id>` or `paypal:<vault id>`).
//!
//! Deliberately absent: writing anything. A file with one bad row is refused as a whole, with the
//! row named, so an import never half-happens.

use paydesk_core::{Currency, Money, OrderId};
use paydesk_protocol::{
    GatewayName, ImportOrder, ImportOrdersRequest, CUSTOMER_NAME_LEN_MAX, DESCRIPTION_LEN_MAX,
    IMPORT_ORDERS_MAX, REFERENCE_LEN_MAX,
};

/// The CSV columns, in order. A seventh, `gateway` (`stripe` or `paypal`), may follow; a file
/// without it is all Stripe orders, as before gateways were named per order.
pub const CSV_HEADER: [&str; 6] = [
    "order_id",
    "amount_minor",
    "currency",
    "customer_id",
    "payment_method_id",
    "description",
];
/// The optional seventh CSV column.
pub const CSV_GATEWAY_COLUMN: &str = "gateway";
/// The optional eighth CSV column, after `gateway`: the customer's name (issue 12, item 1).
pub const CSV_CUSTOMER_NAME_COLUMN: &str = "customer_name";

/// Parses a JSON import body.
pub fn from_json(body: &[u8]) -> Result<Vec<ImportOrder>, String> {
    let request: ImportOrdersRequest =
        serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
    check_all(request.orders)
}

/// Parses a CSV import body.
pub fn from_csv(body: &[u8]) -> Result<Vec<ImportOrder>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(body);
    let header = reader
        .headers()
        .map_err(|e| format!("invalid CSV header: {e}"))?
        .clone();
    let columns: Vec<&str> = header.iter().collect();
    let n = CSV_HEADER.len();
    let with_gateway = columns.len() > n
        && columns.len() <= n + 2
        && columns[..n] == CSV_HEADER
        && columns[n] == CSV_GATEWAY_COLUMN
        && columns
            .get(n + 1)
            .is_none_or(|c| *c == CSV_CUSTOMER_NAME_COLUMN);
    let with_name = with_gateway && columns.len() == n + 2;
    if columns != CSV_HEADER && !with_gateway {
        return Err(format!(
            "the CSV header must be exactly: {} (optionally followed by ,{CSV_GATEWAY_COLUMN} \
             and then ,{CSV_CUSTOMER_NAME_COLUMN})",
            CSV_HEADER.join(",")
        ));
    }
    let mut orders = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.map_err(|e| format!("line {line}: {e}"))?;
        let field = |n: usize| record.get(n).unwrap_or("").to_string();
        let order_id = OrderId::new(field(0)).map_err(|e| format!("line {line}: {e}"))?;
        let minor: i64 = field(1).parse().map_err(|_| {
            format!(
                "line {line}: amount_minor {:?} is not a whole number of minor units",
                field(1)
            )
        })?;
        let currency = Currency::from_code(&field(2)).map_err(|e| format!("line {line}: {e}"))?;
        let amount = Money::new(minor, currency).map_err(|e| format!("line {line}: {e}"))?;
        let gateway = if with_gateway {
            GatewayName::parse(&field(6)).ok_or_else(|| {
                format!(
                    "line {line}: gateway {:?} is neither stripe nor paypal",
                    field(6)
                )
            })?
        } else {
            GatewayName::Stripe
        };
        orders.push(ImportOrder {
            order_id,
            amount,
            customer_id: field(3),
            payment_method_id: field(4),
            description: field(5),
            gateway,
            customer_name: if with_name { field(7) } else { String::new() },
        });
    }
    check_all(orders)
}

fn check_all(orders: Vec<ImportOrder>) -> Result<Vec<ImportOrder>, String> {
    if orders.is_empty() {
        return Err("no orders to import".into());
    }
    if orders.len() > IMPORT_ORDERS_MAX {
        return Err(format!(
            "{} orders in one import; the limit is {IMPORT_ORDERS_MAX}: split the file",
            orders.len()
        ));
    }
    for o in &orders {
        check(o).map_err(|e| format!("order {}: {e}", o.order_id))?;
    }
    Ok(orders)
}

/// Checks the free-form fields the types do not, and that the payment source is written in the
/// order's gateway's syntax, so whatever charges it (the terminal's dispatching gateway) and the
/// central's lookups reach the order's own gateway.
pub fn check(o: &ImportOrder) -> Result<(), String> {
    check_source(o)?;
    let mut references = vec![("payment_method_id", &o.payment_method_id)];
    if o.gateway == GatewayName::Stripe {
        references.insert(0, ("customer_id", &o.customer_id));
    }
    for (name, value) in references {
        if value.is_empty() || value.len() > REFERENCE_LEN_MAX {
            return Err(format!(
                "{name} must be 1 to {REFERENCE_LEN_MAX} characters"
            ));
        }
        if !value.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '_' | '-' | '.')
                || (c == ':' && o.gateway == GatewayName::Paypal)
        }) {
            return Err(format!(
                "{name} {value:?} may contain only letters, digits and _ - ."
            ));
        }
    }
    if o.description.chars().count() > DESCRIPTION_LEN_MAX {
        return Err(format!(
            "description is longer than {DESCRIPTION_LEN_MAX} characters"
        ));
    }
    if o.description.chars().any(char::is_control) {
        return Err("description contains control characters".into());
    }
    // Bidi embeddings, overrides and isolates reorder how the text is shown, and zero-width
    // characters hide in it (a description could display as something it is not, L8); no order
    // description needs them. `char::is_control` lets these format characters (Cf) through.
    if o.description.chars().any(is_invisible_format) {
        return Err(
            "description contains a bidirectional or zero-width character (U+200B-U+200F, \
             U+202A-U+202E, U+2066-U+2069, U+FEFF): remove it and import again"
                .into(),
        );
    }
    if o.customer_name.chars().count() > CUSTOMER_NAME_LEN_MAX {
        return Err(format!(
            "customer_name is longer than {CUSTOMER_NAME_LEN_MAX} characters"
        ));
    }
    if o.customer_name
        .chars()
        .any(|c| c.is_control() || is_invisible_format(c))
    {
        return Err(
            "customer_name contains a control, bidirectional or zero-width character: remove it \
             and import again"
                .into(),
        );
    }
    if o.amount.is_zero() {
        return Err("amount is zero: there is nothing to charge".into());
    }
    Ok(())
}

/// A PayPal order's source is `card:<vault id>` or `paypal:<vault id>` and it names no customer
/// (PayPal shows none on its order to check a success against: the vault id is the payer's); a
/// Stripe order's source is not written as a PayPal one.
fn check_source(o: &ImportOrder) -> Result<(), String> {
    let source = &o.payment_method_id;
    match o.gateway {
        GatewayName::Paypal => {
            let vault = match source.split_once(':') {
                Some(("card" | "paypal", vault)) => vault,
                _ => {
                    return Err(format!(
                        "payment_method_id {source:?} is not a PayPal source: write \
                         card:<vault id> or paypal:<vault id>"
                    ))
                }
            };
            if vault.is_empty()
                || !vault
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
            {
                return Err(format!(
                    "payment_method_id {source:?}: a PayPal vault id is letters, digits, _ and -"
                ));
            }
            if !o.customer_id.is_empty() {
                return Err(format!(
                    "customer_id {:?} must be empty for a PayPal order: PayPal shows no \
                     customer on its order to check a payment against (the vault id is the payer's)",
                    o.customer_id
                ));
            }
        }
        GatewayName::Stripe => {
            if GatewayName::of_payment_source(source) == GatewayName::Paypal {
                return Err(format!(
                    "payment_method_id {source:?} is a PayPal source but the order's gateway is \
                     stripe: add gateway paypal"
                ));
            }
        }
    }
    Ok(())
}

/// Zero-width characters, bidi marks, embeddings, overrides and isolates, and the byte-order
/// mark: characters that change how text displays without showing themselves.
pub(crate) fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_imports_and_names_the_bad_line() {
        let good = "order_id,amount_minor,currency,customer_id,payment_method_id,description\n\
                    o-1,1250,EUR,cus_1,pm_card_visa,Invoice 1\n\
                    o-2,900,JPY,cus_2,pm_card_visa,\n";
        let orders = from_csv(good.as_bytes()).unwrap();
        assert_eq!(orders.len(), 2);
        assert_eq!(orders[1].amount.to_string(), "900 JPY");
        let bad = "order_id,amount_minor,currency,customer_id,payment_method_id,description\n\
                   o-1,-5,EUR,cus_1,pm_card_visa,x\n";
        let err = from_csv(bad.as_bytes()).unwrap_err();
        assert!(err.contains("line 2") && err.contains("negative"), "{err}");
        let err = from_csv(b"a,b\n1,2\n").unwrap_err();
        assert!(err.contains("header"), "{err}");
    }

    #[test]
    fn json_refuses_unknown_currency_and_fields() {
        let err = from_json(
            br#"{"orders":[{"order_id":"o","amount":{"minor":1,"currency":"ABC"},"customer_id":"c","payment_method_id":"p"}]}"#,
        )
        .unwrap_err();
        assert!(err.contains("unknown currency"), "{err}");
        let err = from_json(
            br#"{"orders":[{"order_id":"o","amount":{"minor":1,"currency":"EUR"},"customer_id":"c","payment_method_id":"p","x":1}]}"#,
        )
        .unwrap_err();
        assert!(err.contains("unknown field"), "{err}");
    }

    /// Issue 13: the gateway column is optional, and each order's source must be in its
    /// gateway's syntax.
    #[test]
    fn csv_names_the_gateway_and_checks_the_source_against_it() {
        let csv =
            "order_id,amount_minor,currency,customer_id,payment_method_id,description,gateway\n\
                   o-1,1250,EUR,cus_1,pm_card_visa,Invoice 1,stripe\n\
                   o-2,900,USD,,paypal:vault_approve,Invoice 2,paypal\n\
                   o-3,900,USD,,card:vault_approve,Invoice 3,paypal\n";
        let orders = from_csv(csv.as_bytes()).unwrap();
        let gateways: Vec<_> = orders.iter().map(|o| o.gateway).collect();
        assert_eq!(
            gateways,
            [
                GatewayName::Stripe,
                GatewayName::Paypal,
                GatewayName::Paypal
            ]
        );
        let one = |row: &str| {
            from_csv(
                format!(
                    "order_id,amount_minor,currency,customer_id,payment_method_id,description,gateway\n{row}\n"
                )
                .as_bytes(),
            )
        };
        let err = one("o-1,100,EUR,,pm_card_visa,x,paypal").unwrap_err();
        assert!(err.contains("not a PayPal source"), "{err}");
        let err = one("o-1,100,EUR,cus_1,card:vault_approve,x,paypal").unwrap_err();
        assert!(err.contains("must be empty for a PayPal order"), "{err}");
        let err = one("o-1,100,EUR,cus_1,card:vault_approve,x,stripe").unwrap_err();
        assert!(err.contains("add gateway paypal"), "{err}");
        let err = one("o-1,100,EUR,,card:vault:x,x,paypal").unwrap_err();
        assert!(err.contains("vault id"), "{err}");
        let err = one("o-1,100,EUR,cus_1,pm_1,x,adyen").unwrap_err();
        assert!(err.contains("neither stripe nor paypal"), "{err}");
        // JSON without a gateway is Stripe, as before.
        let orders = from_json(
            br#"{"orders":[{"order_id":"o","amount":{"minor":1,"currency":"EUR"},"customer_id":"c","payment_method_id":"p"}]}"#,
        )
        .unwrap();
        assert_eq!(orders[0].gateway, GatewayName::Stripe);
    }

    /// Issue 12, item 1: an eighth column names the customer; a name with a control or bidi
    /// character, or too long, is refused with the line.
    #[test]
    fn csv_customer_name_column_is_read_and_checked() {
        let header =
            "order_id,amount_minor,currency,customer_id,payment_method_id,description,gateway,customer_name";
        let orders = from_csv(
            format!("{header}\no-1,1250,EUR,cus_1,pm_card_visa,x,stripe,Anna Kovács\n").as_bytes(),
        )
        .unwrap();
        assert_eq!(orders[0].customer_name, "Anna Kovács");
        let err = from_csv(
            format!("{header}\no-1,1250,EUR,cus_1,pm_card_visa,x,stripe,Anna\u{202E}x\n")
                .as_bytes(),
        )
        .unwrap_err();
        assert!(
            err.contains("order o-1") && err.contains("customer_name"),
            "{err}"
        );
        let long = "n".repeat(CUSTOMER_NAME_LEN_MAX + 1);
        let err = from_csv(
            format!("{header}\no-1,1250,EUR,cus_1,pm_card_visa,x,stripe,{long}\n").as_bytes(),
        )
        .unwrap_err();
        assert!(err.contains("longer than"), "{err}");
        let err = from_csv(b"order_id,amount_minor,currency,customer_id,payment_method_id,description,customer_name\n")
            .unwrap_err();
        assert!(err.contains("header"), "{err}");
    }

    /// L8: descriptions with invisible format characters are refused; ordinary text is not.
    #[test]
    fn bidi_and_zero_width_characters_are_refused() {
        let import = |description: &str| {
            let csv = format!(
                "order_id,amount_minor,currency,customer_id,payment_method_id,description\n\
                 o-1,1250,EUR,cus_1,pm_card_visa,{description}\n"
            );
            from_csv(csv.as_bytes())
        };
        for c in [
            '\u{200B}', '\u{200D}', '\u{200F}', '\u{202A}', '\u{202E}', '\u{2066}', '\u{2069}',
            '\u{FEFF}',
        ] {
            let err = import(&format!("Invoice {c}1")).unwrap_err();
            assert!(err.contains("zero-width"), "U+{:04X}: {err}", c as u32);
        }
        assert!(import("Facture n\u{00B0} 1 \u{2013} caf\u{00E9}").is_ok());
        assert!(import("\u{05D7}\u{05E9}\u{05D1}\u{05D5}\u{05E0}\u{05D9}\u{05EA} 7").is_ok());
    }
}
