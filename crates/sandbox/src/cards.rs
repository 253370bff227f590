//! Stripe's test PaymentMethods and what confirming with each one does.
//!
//! The table is closed: an id not listed is `resource_missing`, as a made-up id is on Stripe.

/// What the issuer "says" when an intent is confirmed with this card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardBehavior {
    Succeed,
    Decline {
        code: &'static str,
        decline_code: &'static str,
        message: &'static str,
    },
    /// 3-D Secure required: on-session the intent goes to `requires_action`; off-session the
    /// confirm fails with 402 `authentication_required`.
    AuthenticationRequired,
}

/// A test card: its id, brand, last four digits and behaviour.
#[derive(Debug, Clone, Copy)]
pub struct TestCard {
    pub id: &'static str,
    pub brand: &'static str,
    pub last4: &'static str,
    pub behavior: CardBehavior,
}

const GENERIC_DECLINE: &str = "Your card was declined.";

pub const TEST_CARDS: &[TestCard] = &[
    TestCard {
        id: "pm_card_visa",
        brand: "visa",
        last4: "4242",
        behavior: CardBehavior::Succeed,
    },
    TestCard {
        id: "pm_card_mastercard",
        brand: "mastercard",
        last4: "4444",
        behavior: CardBehavior::Succeed,
    },
    TestCard {
        id: "pm_card_amex",
        brand: "amex",
        last4: "8431",
        behavior: CardBehavior::Succeed,
    },
    TestCard {
        id: "pm_card_chargeDeclined",
        brand: "visa",
        last4: "0002",
        behavior: CardBehavior::Decline {
            code: "card_declined",
            decline_code: "generic_decline",
            message: GENERIC_DECLINE,
        },
    },
    TestCard {
        id: "pm_card_chargeDeclinedInsufficientFunds",
        brand: "visa",
        last4: "9995",
        behavior: CardBehavior::Decline {
            code: "card_declined",
            decline_code: "insufficient_funds",
            message: "Your card has insufficient funds.",
        },
    },
    TestCard {
        id: "pm_card_chargeDeclinedExpiredCard",
        brand: "visa",
        last4: "0069",
        behavior: CardBehavior::Decline {
            code: "expired_card",
            decline_code: "expired_card",
            message: "Your card has expired.",
        },
    },
    TestCard {
        id: "pm_card_chargeDeclinedIncorrectCvc",
        brand: "visa",
        last4: "0127",
        behavior: CardBehavior::Decline {
            code: "incorrect_cvc",
            decline_code: "incorrect_cvc",
            message: "Your card's security code is incorrect.",
        },
    },
    TestCard {
        id: "pm_card_chargeDeclinedProcessingError",
        brand: "visa",
        last4: "0119",
        behavior: CardBehavior::Decline {
            code: "processing_error",
            decline_code: "processing_error",
            message: "An error occurred while processing your card. Try again in a little bit.",
        },
    },
    TestCard {
        id: "pm_card_chargeDeclinedFraudulent",
        brand: "visa",
        last4: "0019",
        behavior: CardBehavior::Decline {
            code: "card_declined",
            decline_code: "fraudulent",
            message: GENERIC_DECLINE,
        },
    },
    TestCard {
        id: "pm_card_chargeDeclinedStolenCard",
        brand: "visa",
        last4: "9979",
        behavior: CardBehavior::Decline {
            code: "card_declined",
            decline_code: "stolen_card",
            message: GENERIC_DECLINE,
        },
    },
    TestCard {
        id: "pm_card_authenticationRequired",
        brand: "visa",
        last4: "3184",
        behavior: CardBehavior::AuthenticationRequired,
    },
    TestCard {
        id: "pm_card_threeDSecure2Required",
        brand: "visa",
        last4: "3220",
        behavior: CardBehavior::AuthenticationRequired,
    },
];

/// The decline an off-session confirm gets when the card needs authentication.
pub const AUTHENTICATION_REQUIRED: CardBehavior = CardBehavior::Decline {
    code: "authentication_required",
    decline_code: "authentication_required",
    message: "Your card was declined. This transaction requires authentication.",
};

pub fn find(id: &str) -> Option<&'static TestCard> {
    TEST_CARDS.iter().find(|c| c.id == id)
}
