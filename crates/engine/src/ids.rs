//! Attempt ids: UUID v7 from the engine's clock and a random tail, so ids sort by creation time
//! across terminals. (The core only checks ids; making them needs randomness, which lives here.)

use paydesk_core::{AttemptId, Timestamp};

/// A fresh attempt id for `now`.
pub fn new_attempt_id(now: Timestamp) -> AttemptId {
    let mut random = [0u8; 10];
    fastrand::fill(&mut random);
    let millis = u64::try_from(now.unix_ms()).unwrap_or(0);
    let uuid = uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid();
    AttemptId::from_uuid(uuid).expect("the builder makes version 7 UUIDs")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_v7_distinct_and_time_ordered() {
        let a = new_attempt_id(Timestamp::from_unix_ms(1_000));
        let b = new_attempt_id(Timestamp::from_unix_ms(1_000));
        let c = new_attempt_id(Timestamp::from_unix_ms(2_000));
        assert_ne!(a, b);
        assert!(a < c && b < c);
    }
}
