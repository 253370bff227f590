//! The demo data set: twenty unpaid post-sale orders in EUR, USD and JPY whose saved payment
//! methods are the gateways' test cards, so a demo shows successes, declines and 3-D Secure; two
//! more that the embedded stack's demo seeds as exceptions for a manager; and four PayPal orders
//! (a wallet and cards vaulted at PayPal: paid, declined, payer action) that the embedded stack
//! charges through its sandbox's PayPal side.
//!
//! Deliberately absent: randomness — the same ids every time, so seeding twice changes nothing.

use paydesk_core::{Currency, Money, OrderId};
use paydesk_protocol::ImportOrder;

/// (order id, amount in minor units, currency, customer, payment method, description).
const DEMO: &[(&str, i64, &str, &str, &str, &str)] = &[
    (
        "demo-1001",
        12_900,
        "EUR",
        "cus_demo_anna",
        "pm_card_visa",
        "Phone order: espresso machine",
    ),
    (
        "demo-1002",
        4_550,
        "EUR",
        "cus_demo_bela",
        "pm_card_visa",
        "Invoice 2026-114 balance",
    ),
    (
        "demo-1003",
        89_000,
        "EUR",
        "cus_demo_chen",
        "pm_card_mastercard",
        "Deposit: kitchen refit",
    ),
    (
        "demo-1004",
        1_999,
        "EUR",
        "cus_demo_dora",
        "pm_card_chargeDeclined",
        "Replacement filter set",
    ),
    (
        "demo-1005",
        25_000,
        "EUR",
        "cus_demo_emil",
        "pm_card_authenticationRequired",
        "Balance due: sofa",
    ),
    (
        "demo-1006",
        7_300,
        "EUR",
        "cus_demo_fanni",
        "pm_card_visa",
        "Phone order: garden chairs",
    ),
    (
        "demo-1007",
        150_000,
        "EUR",
        "cus_demo_gabor",
        "pm_card_visa",
        "Deposit: conservatory",
    ),
    (
        "demo-2001",
        3_450,
        "USD",
        "cus_demo_hank",
        "pm_card_visa",
        "Phone order: headphones",
    ),
    (
        "demo-2002",
        12_000,
        "USD",
        "cus_demo_iris",
        "pm_card_mastercard",
        "Invoice 88-231",
    ),
    (
        "demo-2003",
        640,
        "USD",
        "cus_demo_jack",
        "pm_card_chargeDeclined",
        "Shipping surcharge",
    ),
    (
        "demo-2004",
        58_800,
        "USD",
        "cus_demo_kate",
        "pm_card_visa",
        "Balance due: e-bike",
    ),
    (
        "demo-2005",
        9_999,
        "USD",
        "cus_demo_liam",
        "pm_card_authenticationRequired",
        "Phone order: smart lock",
    ),
    (
        "demo-2006",
        2_500,
        "USD",
        "cus_demo_mia",
        "pm_card_visa",
        "Late fee, invoice 88-190",
    ),
    (
        "demo-2007",
        31_000,
        "USD",
        "cus_demo_noah",
        "pm_card_chargeDeclined",
        "Deposit: catering",
    ),
    (
        "demo-3001",
        4_800,
        "JPY",
        "cus_demo_oki",
        "pm_card_visa",
        "電話注文: 緑茶セット",
    ),
    (
        "demo-3002",
        128_000,
        "JPY",
        "cus_demo_pei",
        "pm_card_visa",
        "Balance due: road bike",
    ),
    (
        "demo-3003",
        9_900,
        "JPY",
        "cus_demo_ren",
        "pm_card_chargeDeclined",
        "Invoice 3-771",
    ),
    (
        "demo-3004",
        35_000,
        "JPY",
        "cus_demo_sora",
        "pm_card_authenticationRequired",
        "Deposit: tatami",
    ),
    (
        "demo-3005",
        1_200,
        "JPY",
        "cus_demo_taro",
        "pm_card_mastercard",
        "Phone order: chopsticks",
    ),
    (
        "demo-3006",
        76_500,
        "JPY",
        "cus_demo_umi",
        "pm_card_visa",
        "Balance due: camera",
    ),
];

/// The orders the embedded stack's demo seeds as exceptions for a manager (`paydesk_stack`'s
/// `demo_exceptions`), imported only by that demo, so the operator's queue stays the twenty.
const EXCEPTION_DEMO: &[(&str, i64, &str, &str, &str, &str)] = &[
    // Charged on another card by a terminal that never reported.
    (
        "demo-1008",
        21_500,
        "EUR",
        "cus_demo_vera",
        "pm_card_visa",
        "Phone order: bookshelf",
    ),
    // Charged and refunded in the gateway's dashboard.
    (
        "demo-2008",
        4_900,
        "USD",
        "cus_demo_walt",
        "pm_card_visa",
        "Phone order: desk lamp",
    ),
];

/// The PayPal demo orders: no customer (PayPal's vault id is the payer's), the source a vaulted
/// PayPal wallet (`paypal:`) or card (`card:`) among the sandbox's test sources.
const PAYPAL_DEMO: &[(&str, i64, &str, &str, &str, &str)] = &[
    (
        "demo-4001",
        5_900,
        "EUR",
        "",
        "paypal:vault_approve",
        "PayPal wallet: annual subscription",
    ),
    (
        "demo-4002",
        24_500,
        "USD",
        "",
        "card:vault_approve",
        "Phone order: standing desk (card at PayPal)",
    ),
    (
        "demo-4003",
        1_850,
        "EUR",
        "",
        "card:vault_instrument_declined",
        "Replacement cable (card at PayPal)",
    ),
    (
        "demo-4004",
        9_900,
        "USD",
        "",
        "paypal:vault_payer_action",
        "PayPal wallet: workshop ticket",
    ),
];

/// Each demo order's customer as the merchant's records name them (issue 12, item 1): the
/// gateways' test cards carry no holder name, and PayPal's orders name no customer id.
const CUSTOMER_NAMES: &[(&str, &str)] = &[
    ("demo-1001", "Anna Kovács"),
    ("demo-1002", "Béla Szabó"),
    ("demo-1003", "Chen Wei"),
    ("demo-1004", "Dóra Nagy"),
    ("demo-1005", "Emil Horváth"),
    ("demo-1006", "Fanni Tóth"),
    ("demo-1007", "Gábor Varga"),
    ("demo-1008", "Vera Molnár"),
    ("demo-2001", "Hank Miller"),
    ("demo-2002", "Iris Johnson"),
    ("demo-2003", "Jack Brown"),
    ("demo-2004", "Kate Wilson"),
    ("demo-2005", "Liam Davis"),
    ("demo-2006", "Mia Garcia"),
    ("demo-2007", "Noah Martinez"),
    ("demo-2008", "Walt Anderson"),
    ("demo-3001", "Oki Tanaka"),
    ("demo-3002", "Pei Lin"),
    ("demo-3003", "Ren Suzuki"),
    ("demo-3004", "Sora Watanabe"),
    ("demo-3005", "Taro Yamamoto"),
    ("demo-3006", "Umi Kobayashi"),
    ("demo-4001", "Ada Lovelace"),
    ("demo-4002", "Ada Lovelace"),
    ("demo-4003", "Carl Gauss"),
    ("demo-4004", "Emmy Noether"),
];

/// The demo orders.
pub fn demo_orders() -> Vec<ImportOrder> {
    orders(DEMO)
}

/// The PayPal demo orders (see [`PAYPAL_DEMO`]), imported by the embedded stack, whose sandbox
/// speaks PayPal.
pub fn paypal_demo_orders() -> Vec<ImportOrder> {
    orders(PAYPAL_DEMO)
}

/// The orders the embedded demo seeds as exceptions (see [`EXCEPTION_DEMO`]).
pub fn exception_orders() -> Vec<ImportOrder> {
    orders(EXCEPTION_DEMO)
}

fn orders(rows: &[(&str, i64, &str, &str, &str, &str)]) -> Vec<ImportOrder> {
    rows.iter()
        .map(
            |(id, minor, currency, customer, pm, description)| ImportOrder {
                order_id: OrderId::new(*id).expect("demo ids are valid"),
                amount: Money::new(
                    *minor,
                    Currency::from_code(currency).expect("known currency"),
                )
                .expect("demo amounts are valid"),
                customer_id: customer.to_string(),
                payment_method_id: pm.to_string(),
                description: description.to_string(),
                gateway: paydesk_protocol::GatewayName::of_payment_source(pm),
                customer_name: CUSTOMER_NAMES
                    .iter()
                    .find(|(order, _)| order == id)
                    .map(|(_, name)| name.to_string())
                    .unwrap_or_default(),
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_orders_pass_the_import_checks() {
        let orders = demo_orders();
        assert_eq!(orders.len(), 20);
        let mut extra = exception_orders();
        assert_eq!(extra.len(), 2);
        let paypal = paypal_demo_orders();
        assert_eq!(paypal.len(), 4);
        assert!(paypal
            .iter()
            .all(|o| o.gateway == paydesk_protocol::GatewayName::Paypal));
        assert!(orders
            .iter()
            .all(|o| o.gateway == paydesk_protocol::GatewayName::Stripe));
        extra.extend(paypal);
        for o in orders.iter().chain(&extra) {
            crate::import::check(o).unwrap();
            assert!(
                !o.customer_name.is_empty(),
                "{} names no customer",
                o.order_id
            );
            assert_eq!(
                orders
                    .iter()
                    .chain(&extra)
                    .filter(|p| p.order_id == o.order_id)
                    .count(),
                1,
                "{} twice",
                o.order_id
            );
        }
        assert!(orders
            .iter()
            .any(|o| o.payment_method_id == "pm_card_chargeDeclined"));
        assert!(orders
            .iter()
            .any(|o| o.payment_method_id == "pm_card_authenticationRequired"));
    }
}
