//! An in-memory double of the central for the engine's flow tests: one holder per order, growing
//! claim tokens, fenced registration, exactly-once results keyed by attempt id, and a switch that
//! makes it unreachable. Deliberately absent: HTTP, a database, leases that expire, and webhooks
//! (the real central is tested against the terminal in `crates/terminal/tests`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use paydesk_core::{
    AttemptState, ClaimToken, GatewayIntentId, Money, OperatorId, OrderId, PaymentMethodId,
    TerminalId, Timestamp,
};
use paydesk_engine::{
    Central, CentralError, Claim, ClaimRequest, DeliveryStatus, OrderSnapshot, OrderStatus,
};
use paydesk_journal::ResultMessage;

#[derive(Debug, Clone)]
struct Hold {
    token: ClaimToken,
    operator: OperatorId,
    terminal: TerminalId,
    since: Timestamp,
}

#[derive(Debug, Default)]
struct CentralState {
    orders: HashMap<OrderId, OrderSnapshot>,
    holds: HashMap<OrderId, Hold>,
    attempts: HashMap<OrderId, u32>,
    last_token: u64,
    registered: HashMap<OrderId, GatewayIntentId>,
    /// Intents registered under a hold that expired with no result: the next claim names them.
    open_intents: HashMap<OrderId, GatewayIntentId>,
    /// How many times a terminal asked to release a claim on each order.
    release_requests: HashMap<OrderId, usize>,
    results: HashMap<String, ResultMessage>,
    deliveries: usize,
}

/// The central's rules that matter to the engine: one holder per order, growing tokens, fenced
/// registration, exactly-once results keyed by attempt id. Can be switched "down".
#[derive(Debug, Default)]
pub struct MemCentral {
    state: Mutex<CentralState>,
    down: AtomicBool,
    /// Claims this many more times unreachable, then as `down` says.
    claims_down: std::sync::atomic::AtomicUsize,
    /// Claims are refused for want of a signed-in person's session.
    sessions_required: AtomicBool,
}

impl MemCentral {
    pub fn with_orders(orders: &[(&str, &str, &str)]) -> Arc<MemCentral> {
        let central = MemCentral::default();
        {
            let mut s = central.state.lock().unwrap();
            for (id, amount, pm) in orders {
                let id = OrderId::new(*id).unwrap();
                s.orders.insert(
                    id.clone(),
                    OrderSnapshot {
                        id,
                        amount: Money::parse(amount).unwrap(),
                        status: OrderStatus::Unpaid,
                        customer: None,
                        payment_method: PaymentMethodId::new(*pm).unwrap(),
                        paid_minor: 0,
                    },
                );
            }
        }
        Arc::new(central)
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// The next `claims` claims find the central unreachable (a claim, then a charge goes
    /// offline, then the central is back for the registration).
    pub fn claims_down(&self, claims: usize) {
        self.claims_down.store(claims, Ordering::SeqCst);
    }

    /// Claims need a session (nobody, or somebody else, is signed in).
    pub fn require_sessions(&self, required: bool) {
        self.sessions_required.store(required, Ordering::SeqCst);
    }

    fn check_up(&self) -> Result<(), CentralError> {
        if self.down.load(Ordering::SeqCst) {
            Err(CentralError::Unreachable {
                detail: "connection refused".into(),
            })
        } else {
            Ok(())
        }
    }

    pub fn status(&self, order: &str) -> OrderStatus {
        let s = self.state.lock().unwrap();
        s.orders[&OrderId::new(order).unwrap()].status
    }

    pub fn results(&self) -> usize {
        self.state.lock().unwrap().results.len()
    }

    /// The holder of `order` vanished and its lease ran out: the hold goes, and the intent it
    /// registered (if any) is named to the next claim, as the real central does.
    pub fn expire_hold(&self, order: &str) {
        let mut s = self.state.lock().unwrap();
        let order = OrderId::new(order).unwrap();
        s.holds.remove(&order);
        if let Some(intent) = s.registered.get(&order).cloned() {
            s.open_intents.insert(order, intent);
        }
    }

    /// How many times a terminal asked to release a claim on `order`.
    pub fn release_requests(&self, order: &str) -> usize {
        let s = self.state.lock().unwrap();
        s.release_requests
            .get(&OrderId::new(order).unwrap())
            .copied()
            .unwrap_or(0)
    }

    pub fn is_held(&self, order: &str) -> bool {
        let s = self.state.lock().unwrap();
        s.holds.contains_key(&OrderId::new(order).unwrap())
    }

    /// The order as the central holds it now (what a terminal's cached queue would show).
    pub fn order(&self, order: &str) -> OrderSnapshot {
        self.state.lock().unwrap().orders[&OrderId::new(order).unwrap()].clone()
    }
}

#[async_trait]
impl Central for MemCentral {
    async fn claim(&self, request: &ClaimRequest) -> Result<Claim, CentralError> {
        let down_once = self
            .claims_down
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if down_once {
            return Err(CentralError::Unreachable {
                detail: "connection refused".into(),
            });
        }
        self.check_up()?;
        if self.sessions_required.load(Ordering::SeqCst) {
            return Err(CentralError::SessionRequired);
        }
        let mut s = self.state.lock().unwrap();
        let order = s
            .orders
            .get(&request.order)
            .cloned()
            .ok_or_else(|| CentralError::UnknownOrder(request.order.clone()))?;
        if let Some(hold) = s.holds.get(&request.order) {
            return Err(CentralError::HeldBy {
                operator: hold.operator.clone(),
                terminal: hold.terminal.clone(),
                since: hold.since,
            });
        }
        s.last_token += 1;
        let token = ClaimToken::new(s.last_token).unwrap();
        let number = {
            let n = s.attempts.entry(request.order.clone()).or_insert(0);
            *n += 1;
            *n
        };
        s.holds.insert(
            request.order.clone(),
            Hold {
                token,
                operator: request.operator.clone(),
                terminal: request.terminal.clone(),
                since: Timestamp::from_unix_ms(0),
            },
        );
        Ok(Claim {
            token,
            attempt_number: paydesk_core::AttemptNumber::new(number).unwrap(),
            lease_expires_at: Timestamp::from_unix_ms(i64::MAX / 2),
            open_intent: s.open_intents.get(&order.id).cloned(),
            installment: paydesk_core::InstallmentNumber::FIRST,
            amount: order.amount,
            order,
        })
    }

    async fn register_intent(
        &self,
        order: &OrderId,
        token: ClaimToken,
        _attempt_number: paydesk_core::AttemptNumber,
        intent: &GatewayIntentId,
    ) -> Result<(), CentralError> {
        self.check_up()?;
        let mut s = self.state.lock().unwrap();
        match s.holds.get(order) {
            Some(hold) if hold.token == token => {
                s.registered.insert(order.clone(), intent.clone());
                s.open_intents.remove(order);
                Ok(())
            }
            _ => Err(CentralError::StaleClaim),
        }
    }

    async fn release(&self, order: &OrderId, token: ClaimToken) -> Result<(), CentralError> {
        self.check_up()?;
        let mut s = self.state.lock().unwrap();
        *s.release_requests.entry(order.clone()).or_default() += 1;
        if s.holds.get(order).map(|h| h.token) == Some(token) {
            s.holds.remove(order);
        }
        Ok(())
    }

    async fn deliver(
        &self,
        results: &[ResultMessage],
        _journal_head: (i64, String),
    ) -> Result<Vec<DeliveryStatus>, CentralError> {
        self.check_up()?;
        let mut s = self.state.lock().unwrap();
        s.deliveries += 1;
        let mut statuses = Vec::new();
        for r in results {
            let key = r.attempt_id.to_string();
            if s.results.contains_key(&key) {
                statuses.push(DeliveryStatus::Duplicate);
                continue;
            }
            s.results.insert(key, r.clone());
            let status = match r.state {
                AttemptState::Succeeded => OrderStatus::Paid,
                AttemptState::Declined => OrderStatus::Failed,
                AttemptState::RequiresAction => OrderStatus::NeedsAction,
                AttemptState::NeedsReview => OrderStatus::NeedsReview,
                _ => OrderStatus::Unpaid,
            };
            if let Some(order) = s.orders.get_mut(&r.order) {
                order.status = status;
            }
            if s.holds.get(&r.order).map(|h| h.token) == Some(r.claim_token) {
                s.holds.remove(&r.order);
            }
            statuses.push(DeliveryStatus::Applied);
        }
        Ok(statuses)
    }
}
