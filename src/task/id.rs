//! Identifiers from the spec: `task_{unix_ms}_{base36 counter}` and `{taskId}_cmd_{index}`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static TASK_COUNTER: AtomicU64 = AtomicU64::new(1);
/// This runner's number in its store (see `store::Node`): the high bits of every id's counter,
/// so two runners sharing a database, or two runs of one, never mint the same id.
static NODE_NUMBER: AtomicU64 = AtomicU64::new(0);

/// Set once the runner has joined its store.
pub fn set_node_number(n: u64) {
    NODE_NUMBER.store(n, Ordering::Relaxed);
}

/// Milliseconds since the Unix epoch: the spec's timestamps are numbers in ms.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A fresh task id: unique within this process, and across the runners and runs of a store.
pub fn new_task_id() -> String {
    let counter = TASK_COUNTER.fetch_add(1, Ordering::Relaxed) & ((1 << 40) - 1);
    let node = NODE_NUMBER.load(Ordering::Relaxed);
    format!("task_{}_{}", now_ms(), base36((node << 40) | counter))
}

pub fn command_id(task_id: &str, index: usize) -> String {
    format!("{task_id}_cmd_{index}")
}

/// Lower-case base 36, as JavaScript's `n.toString(36)` writes it.
pub fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    if n == 0 {
        return "0".into();
    }
    let mut out = Vec::new();
    while n > 0 {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
    }
    out.reverse();
    String::from_utf8(out).expect("base36 digits are ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base36_matches_javascript() {
        assert_eq!(base36(0), "0");
        assert_eq!(base36(1), "1");
        assert_eq!(base36(35), "z");
        assert_eq!(base36(36), "10");
        assert_eq!(base36(90), "2i");
        assert_eq!(base36(u64::MAX), "3w5e11264sgsf");
    }

    #[test]
    fn task_ids_have_the_spec_shape_and_are_unique() {
        let a = new_task_id();
        let b = new_task_id();
        assert_ne!(a, b);
        for id in [&a, &b] {
            let parts: Vec<&str> = id.split('_').collect();
            assert_eq!(parts.len(), 3, "{id}");
            assert_eq!(parts[0], "task");
            let ms: u64 = parts[1].parse().expect("timestamp is decimal ms");
            assert!(ms > 1_600_000_000_000, "{id} timestamp looks like ms");
            assert!(parts[2]
                .chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase()));
        }
    }

    #[test]
    fn command_ids_derive_from_the_task_id() {
        assert_eq!(
            command_id("task_1234567890123_1", 0),
            "task_1234567890123_1_cmd_0"
        );
        assert_eq!(command_id("task_1_2a", 11), "task_1_2a_cmd_11");
    }
}
