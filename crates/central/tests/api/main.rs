//! API tests: the central over HTTP on 127.0.0.1:0, each test against a fresh SQLite file and a
//! fresh PostgreSQL database; and the schema the two backends' migrations produce, compared.

mod helpers;

mod allowances;
mod audit;
mod bad_input;
mod claims;
mod connections;
mod contention;
mod customer_action;
mod day_close;
mod evidence;
mod exceptions;
mod fuzz;
mod guard_detail;
mod hostile_input;
mod installments;
mod late_results;
mod multi_central;
mod openapi;
mod orders;
mod paypal_webhook;
mod pulled_events;
mod reattempts;
mod refunds;
mod results;
mod reversals;
mod review_holds;
mod revocation;
mod roles;
mod sandbox;
mod saved_methods;
mod schema;
mod sessions;
mod settings;
mod sweeper;
mod tls;
mod untrusted;
mod webhooks;
