//! What ties the `attempts` rows and the outbox payloads to the hash chain (finding 3 of the
//! protocol review): every event's detail carries `row_digest`, the core's
//! [`attempt_digest`] of the attempt row as it stands after that step, and a step that enqueues a
//! result also carries `outbox_digest`, the digest of the payload it wrote. The detail is part of
//! the chained record, so a row or payload edited with a SQLite shell no longer matches its last
//! chained event, and rewriting that event breaks the chain.
//!
//! Checks come in two sizes: [`Journal::verify`] looks at every row; [`Journal::check_attempt`]
//! and [`Journal::check_outbox`] look at the rows that recovery or the relay is about to act on,
//! and at the self-consistency of the event that seals them, in a few indexed reads. `apply`
//! runs the same check on the row it loads, so a step never launders an edited row into a new
//! digest.
//!
//! Journals written before schema version 3 have no digests: the migration to version 3 seals
//! every attempt with one chained `sealed` event carrying the digests of its row and payload as
//! found at the upgrade (an edit made before the upgrade cannot be told from the truth; the
//! old format never covered those rows). Deliberately absent: repair.

use std::path::Path;

use paydesk_core::record::{attempt_digest, sha256, EventRecord};
use paydesk_core::{Attempt, AttemptState, Timestamp};
use rusqlite::{Connection, OptionalExtension, Transaction};

use crate::error::{corrupt, db};
use crate::parked::OUTBOX_ARCHIVED_KIND;
use crate::rows::{attempt_from_row, ATTEMPT_COLUMNS};
use crate::verify::decode_hash;
use crate::{append_event, BreakKind, BrokenLink, Journal, JournalError};

/// The key of an event's detail holding the digest of its attempt's row after the step (hex).
pub const ROW_DIGEST_KEY: &str = "row_digest";
/// The key of an event's detail holding the digest of the outbox payload it wrote (hex).
pub const OUTBOX_DIGEST_KEY: &str = "outbox_digest";
/// The kind of the event that seals an attempt written before schema version 3.
pub const SEALED_KIND: &str = "sealed";

/// The digest of an outbox payload: SHA-256 of its canonical JSON (keys sorted, no spaces), with
/// `event_hash` blanked — the payload names the hash of the very event that carries this digest,
/// which cannot be known before the digest is. The relay ships the payload verbatim, so every
/// other byte of meaning is covered; `event_hash` is checked against the event row instead.
pub fn outbox_digest(payload: &serde_json::Value) -> [u8; 32] {
    let mut value = payload.clone();
    if let Some(map) = value.as_object_mut() {
        if map.contains_key("event_hash") {
            map.insert(
                "event_hash".into(),
                serde_json::Value::String(String::new()),
            );
        }
    }
    let mut out = Vec::with_capacity(512);
    canonical_json(&value, &mut out);
    sha256(&out)
}

/// Writes `value` as JSON with object keys sorted, whatever map type serde_json was built with.
fn canonical_json(value: &serde_json::Value, out: &mut Vec<u8>) {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(
                    serde_json::Value::String(key.clone())
                        .to_string()
                        .as_bytes(),
                );
                out.push(b':');
                canonical_json(&map[key], out);
            }
            out.push(b'}');
        }
        serde_json::Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical_json(item, out);
            }
            out.push(b']');
        }
        scalar => out.extend_from_slice(scalar.to_string().as_bytes()),
    }
}

/// The digest stored under `key` in an event's detail, if it is there and well formed.
fn detail_digest(detail: &str, key: &str) -> Option<[u8; 32]> {
    let value: serde_json::Value = serde_json::from_str(detail).ok()?;
    decode_hash(value.get(key)?.as_str()?)
}

/// One stored event, with its stored hashes, as read for a targeted check.
struct SealEvent {
    record: EventRecord,
    prev_hash: String,
    hash: String,
}

const EVENT_COLUMNS: &str =
    "seq, attempt_id, at, kind, from_state, to_state, detail, prev_hash, hash";

fn read_event(row: &rusqlite::Row<'_>) -> rusqlite::Result<SealEvent> {
    Ok(SealEvent {
        record: EventRecord {
            seq: row.get(0)?,
            attempt_id: row.get(1)?,
            at: Timestamp::from_unix_ms(row.get(2)?),
            kind: row.get(3)?,
            from_state: row.get(4)?,
            to_state: row.get(5)?,
            detail: row.get(6)?,
        },
        prev_hash: row.get(7)?,
        hash: row.get(8)?,
    })
}

/// True when the event's stored hash is the hash of its contents after its stored predecessor.
/// (Whether the predecessor is really the previous event is the full chain walk's business.)
fn self_consistent(event: &SealEvent) -> bool {
    match (decode_hash(&event.prev_hash), decode_hash(&event.hash)) {
        (Some(prev), Some(hash)) => event.record.chain_hash(&prev) == hash,
        _ => false,
    }
}

/// The attempt's last event.
fn last_event(conn: &Connection, path: &Path, id: &str) -> Result<Option<SealEvent>, JournalError> {
    conn.prepare_cached(&format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE attempt_id = ?1 ORDER BY seq DESC LIMIT 1"
    ))
    .and_then(|mut s| s.query_row([id], read_event).optional())
    .map_err(db(path, "checking an attempt"))
}

/// The first disagreement between an attempt row and the digest its last event carries, or
/// `None`. `last_detail` is that event's detail (`None`: the attempt has no events).
pub(crate) fn row_link(
    attempt: &Attempt,
    last_seq: Option<i64>,
    last_detail: Option<&str>,
) -> Option<BrokenLink> {
    let id = attempt.id.to_string();
    let tampered = |message: String| BrokenLink {
        kind: BreakKind::AttemptTampered,
        seq: last_seq,
        attempt_id: Some(id.clone()),
        message,
    };
    let Some(detail) = last_detail else {
        return Some(BrokenLink {
            kind: BreakKind::MissingHistory,
            seq: None,
            attempt_id: Some(id.clone()),
            message: format!("attempt {id} has no events"),
        });
    };
    match detail_digest(detail, ROW_DIGEST_KEY) {
        None => Some(tampered(format!(
            "attempt {id}: its last event (seq {}) carries no digest of the attempt row",
            last_seq.unwrap_or_default()
        ))),
        Some(sealed) if sealed != attempt_digest(attempt) => Some(tampered(format!(
            "attempt {id} was changed outside Paydesk: its row (intent, amount, offline flag, \
             times, claim token, …) no longer matches the digest of its last event (seq {})",
            last_seq.unwrap_or_default()
        ))),
        Some(_) => None,
    }
}

/// Checks a loaded attempt against its last event, including that event's own hash. Used by
/// `apply` before every step and by [`Journal::check_attempt`].
pub(crate) fn check_loaded(
    conn: &Connection,
    path: &Path,
    attempt: &Attempt,
) -> Result<Option<BrokenLink>, JournalError> {
    let last = last_event(conn, path, &attempt.id.to_string())?;
    if let Some(event) = &last {
        if !self_consistent(event) {
            return Ok(Some(BrokenLink {
                kind: BreakKind::HashMismatch,
                seq: Some(event.record.seq),
                attempt_id: Some(event.record.attempt_id.clone()),
                message: format!(
                    "event {} was changed after it was written: its hash no longer matches",
                    event.record.seq
                ),
            }));
        }
    }
    Ok(row_link(
        attempt,
        last.as_ref().map(|e| e.record.seq),
        last.as_ref().map(|e| e.record.detail.as_str()),
    ))
}

/// One outbox row as the checks read it.
pub(crate) struct OutboxRow {
    pub id: i64,
    pub attempt_id: String,
    pub payload: String,
    /// Set when a manager archived it: a chained `outbox_archived` event must say so.
    pub archived: bool,
}

/// The first disagreement between an outbox row and the chain: its payload must match the
/// `outbox_digest` of the attempt's latest event that wrote one (which must be intact), and the
/// event it names (`event_seq`, `event_hash`) must be an event of the same attempt.
pub(crate) fn outbox_link(
    conn: &Connection,
    path: &Path,
    row: &OutboxRow,
) -> Result<Option<BrokenLink>, JournalError> {
    let tampered = |seq: Option<i64>, what: &str| BrokenLink {
        kind: BreakKind::OutboxTampered,
        seq,
        attempt_id: Some(row.attempt_id.clone()),
        message: format!(
            "the outbox result {} of attempt {} was changed outside Paydesk: {what}",
            row.id, row.attempt_id
        ),
    };
    let Ok(payload) = serde_json::from_str::<serde_json::Value>(&row.payload) else {
        return Ok(Some(tampered(None, "its payload is not JSON")));
    };
    if payload.get("attempt_id").and_then(|v| v.as_str()) != Some(row.attempt_id.as_str()) {
        return Ok(Some(tampered(None, "its payload names another attempt")));
    }
    let sealing = conn
        .prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE attempt_id = ?1 \
             AND json_extract(detail, '$.{OUTBOX_DIGEST_KEY}') IS NOT NULL \
             ORDER BY seq DESC LIMIT 1"
        ))
        .and_then(|mut s| s.query_row([&row.attempt_id], read_event).optional())
        .map_err(db(path, "checking the outbox"))?;
    let Some(sealing) = sealing else {
        return Ok(Some(tampered(
            None,
            "no event of the attempt wrote a result (the row was added by hand)",
        )));
    };
    let seq = Some(sealing.record.seq);
    if !self_consistent(&sealing) {
        return Ok(Some(tampered(
            seq,
            "the event that wrote it was changed too",
        )));
    }
    if detail_digest(&sealing.record.detail, OUTBOX_DIGEST_KEY) != Some(outbox_digest(&payload)) {
        return Ok(Some(tampered(
            seq,
            "its payload no longer matches the digest the chain holds",
        )));
    }
    let named = (
        payload.get("event_seq").and_then(|v| v.as_i64()),
        payload.get("event_hash").and_then(|v| v.as_str()),
    );
    let (Some(event_seq), Some(event_hash)) = named else {
        return Ok(Some(tampered(seq, "its payload names no event")));
    };
    let event: Option<(String, String)> = conn
        .prepare_cached("SELECT attempt_id, hash FROM events WHERE seq = ?1")
        .and_then(|mut s| {
            s.query_row([event_seq], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(db(path, "checking the outbox"))?;
    if event.as_ref().map(|(a, h)| (a.as_str(), h.as_str()))
        != Some((row.attempt_id.as_str(), event_hash))
    {
        return Ok(Some(tampered(
            seq,
            "the event it names is not the attempt's event with that hash",
        )));
    }
    if row.archived {
        let recorded = conn
            .prepare_cached(
                "SELECT 1 FROM events WHERE attempt_id = ?1 AND kind = ?2 \
                 AND json_extract(detail, '$.outbox_id') = ?3",
            )
            .and_then(|mut s| {
                s.exists(rusqlite::params![
                    row.attempt_id,
                    OUTBOX_ARCHIVED_KIND,
                    row.id
                ])
            })
            .map_err(db(path, "checking the outbox"))?;
        if !recorded {
            return Ok(Some(tampered(
                seq,
                "it is marked archived, but no manager's archive is in the history",
            )));
        }
    }
    Ok(None)
}

impl Journal {
    /// Checks one attempt before acting on it: its row against the digest of its last event,
    /// and that event against its own hash. A few indexed reads; `None` means it agrees.
    pub fn check_attempt(
        &self,
        id: &paydesk_core::AttemptId,
    ) -> Result<Option<BrokenLink>, JournalError> {
        let attempt = match crate::load_attempt(&self.conn, &self.path, id) {
            Ok(Some(a)) => a,
            Ok(None) => return Err(crate::not_found(id)),
            Err(JournalError::Corrupt { detail, .. }) => {
                return Ok(Some(BrokenLink {
                    kind: BreakKind::BadAttempt,
                    seq: None,
                    attempt_id: Some(id.to_string()),
                    message: detail,
                }))
            }
            Err(e) => return Err(e),
        };
        check_loaded(&self.conn, &self.path, &attempt)
    }

    /// Checks outbox messages before they are delivered: each payload against the digest the
    /// chain holds for it. `None` means all agree.
    pub fn check_outbox(&self, ids: &[i64]) -> Result<Option<BrokenLink>, JournalError> {
        for &id in ids {
            let row = self
                .conn
                .prepare_cached(
                    "SELECT id, attempt_id, payload, archived_at IS NOT NULL FROM outbox \
                     WHERE id = ?1",
                )
                .and_then(|mut s| {
                    s.query_row([id], |r| {
                        Ok(OutboxRow {
                            id: r.get(0)?,
                            attempt_id: r.get(1)?,
                            payload: r.get(2)?,
                            archived: r.get(3)?,
                        })
                    })
                    .optional()
                })
                .map_err(db(&self.path, "checking the outbox"))?
                .ok_or_else(|| JournalError::NotFound {
                    what: format!("outbox message {id}"),
                })?;
            if let Some(link) = outbox_link(&self.conn, &self.path, &row)? {
                return Ok(Some(link));
            }
        }
        Ok(None)
    }
}

/// The migration to schema version 3: one chained `sealed` event per attempt, carrying the
/// digests of its row and of its outbox payload as they stand at the upgrade. Rows edited
/// before the upgrade are taken as found: the old format never covered them. An attempt whose
/// row cannot be read is left unsealed, and `verify` reports it.
pub(crate) fn seal_existing(tx: &Transaction<'_>, path: &Path) -> Result<(), JournalError> {
    // Version 3 comes before the installment column (version 4): every attempt then was its
    // order's first installment, which is what the row reads as.
    let columns = ATTEMPT_COLUMNS.replace("installment", "1 AS installment");
    let mut stmt = tx
        .prepare(&format!(
            "SELECT {columns} FROM attempts ORDER BY created_at, id"
        ))
        .map_err(db(path, "sealing attempts"))?;
    let attempts: Vec<Attempt> = stmt
        .query_map([], |r| Ok(attempt_from_row(r)))
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(db(path, "sealing attempts"))?
        .into_iter()
        .filter_map(Result::ok)
        .collect();
    drop(stmt);
    for attempt in attempts {
        let id = attempt.id.to_string();
        let Some(last) = last_event(tx, path, &id)? else {
            continue;
        };
        let payload: Option<String> = tx
            .query_row(
                "SELECT payload FROM outbox WHERE attempt_id = ?1",
                [&id],
                |r| r.get(0),
            )
            .optional()
            .map_err(db(path, "sealing attempts"))?;
        let mut detail = serde_json::json!({
            "sealed": "schema version 3: the digests of the attempt row and its outbox result \
                       as found at the upgrade",
            ROW_DIGEST_KEY: hex::encode(attempt_digest(&attempt)),
        });
        if let Some(payload) = payload {
            let value: serde_json::Value = serde_json::from_str(&payload)
                .map_err(|e| corrupt(path, format!("outbox payload of {id}: {e}")))?;
            detail[OUTBOX_DIGEST_KEY] = hex::encode(outbox_digest(&value)).into();
        }
        let state = AttemptState::parse(&last.record.to_state).unwrap_or(attempt.state);
        append_event(
            tx,
            path,
            &attempt.id,
            last.record.at,
            SEALED_KIND,
            Some(state),
            state,
            &detail,
        )?;
    }
    Ok(())
}
