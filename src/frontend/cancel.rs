//! Cancel keys: each client gets the proxy's own BackendKeyData, and a CancelRequest with it
//! cancels only what that client runs right now, on the backend it holds right now.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::auth::constant_time_eq;
use crate::backend::CancelKey;

type Slot = Arc<Mutex<Option<CancelKey>>>;

#[derive(Debug, Default)]
pub struct CancelRegistry {
    sessions: Mutex<HashMap<i32, (Vec<u8>, Slot)>>,
}

/// The backend a session holds at the moment, if any.
#[derive(Debug)]
pub struct CancelSlot {
    slot: Slot,
    registry: Arc<CancelRegistry>,
    pid: i32,
}

impl CancelRegistry {
    /// Registers a session's key; the returned slot unregisters it on drop.
    pub fn register(self: &Arc<Self>, pid: i32, secret: Vec<u8>) -> CancelSlot {
        let slot: Slot = Arc::default();
        self.sessions
            .lock()
            .expect("cancel registry lock")
            .insert(pid, (secret, slot.clone()));
        CancelSlot {
            slot,
            registry: self.clone(),
            pid,
        }
    }

    /// Forwards a cancel to the backend the session holds; unknown keys are dropped silently,
    /// as Postgres does.
    pub async fn cancel(&self, pid: i32, secret: &[u8]) {
        let target = {
            let sessions = self.sessions.lock().expect("cancel registry lock");
            sessions
                .get(&pid)
                .filter(|(known, _)| constant_time_eq(known, secret))
                .and_then(|(_, slot)| slot.lock().expect("cancel slot lock").clone())
        };
        match target {
            Some(key) => key.cancel().await,
            None => tracing::debug!(pid, "cancel request for no running query"),
        }
    }
}

impl CancelSlot {
    pub fn set(&self, key: CancelKey) {
        *self.slot.lock().expect("cancel slot lock") = Some(key);
    }

    /// Called before the backend goes back to the pool, so a late cancel cannot reach the
    /// connection's next user.
    pub fn clear(&self) {
        *self.slot.lock().expect("cancel slot lock") = None;
    }
}

impl Drop for CancelSlot {
    fn drop(&mut self) {
        self.registry
            .sessions
            .lock()
            .expect("cancel registry lock")
            .remove(&self.pid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_compare_in_full() {
        assert!(constant_time_eq(b"abcd", b"abcd"));
        assert!(!constant_time_eq(b"abcd", b"abce"));
        assert!(!constant_time_eq(b"abcd", b"abc"));
    }

    #[test]
    fn dropping_the_slot_unregisters() {
        let r = Arc::new(CancelRegistry::default());
        let slot = r.register(7, vec![1, 2, 3, 4]);
        assert_eq!(r.sessions.lock().unwrap().len(), 1);
        drop(slot);
        assert!(r.sessions.lock().unwrap().is_empty());
    }
}
