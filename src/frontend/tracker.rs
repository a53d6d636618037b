//! Matches backend responses to the requests that caused them.
//!
//! Every message written to a backend that Postgres answers gets an entry, in order. The
//! relay asks, for each response message, whether to forward it to the client or swallow it
//! (answers to the proxy's own preamble and injected messages), and learns when the backend
//! is idle again. This is what lets the proxy mix its own messages into a client's stream
//! without a round trip and without the client noticing.

use std::collections::VecDeque;

use crate::isolation::SettingChange;
use crate::protocol::TransactionStatus;

/// A request whose response is still to come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Simple query: everything up to and including ReadyForQuery.
    Query,
    /// Extended protocol: ends at ParseComplete, BindComplete, CloseComplete, ...
    /// A Parse of a pooled named statement carries its id (see `prepared`).
    Parse(Option<u64>),
    Bind,
    Describe,
    Execute,
    Close,
    /// Ends at ReadyForQuery.
    Sync,
}

/// Who sent a request, which decides what happens to its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The client: every answer is forwarded.
    Client,
    /// The proxy's context setup: answers are swallowed, and an error means the connection
    /// cannot be trusted for the tenant.
    Setup,
    /// The proxy's setup after a client's `DISCARD ALL`: the client sees where its settings
    /// end up (ParameterStatus), nothing else; an error means the connection cannot be
    /// trusted for the tenant.
    Restore,
    /// The proxy's own message on the client's behalf (a refusal's stand-in, a statement
    /// prepared again on another connection): only its error reaches the client.
    Injected,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    request: Request,
    origin: Origin,
    /// How many COPY-ins the client had ended when it sent this request.
    copy_epoch: u32,
    /// A client Query that is one `SET`/`RESET`, or an Execute of a portal that is one: its
    /// change holds if it succeeds.
    setting: bool,
    /// An ErrorResponse answered this Query.
    failed: bool,
    /// For a Query the proxy put statements into: which statements' completions
    /// (CommandComplete, EmptyQueryResponse) are the proxy's, to swallow.
    inserted: Option<Inserted>,
}

/// `count` statements of the proxy's, after the client's first `after` in one Query text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inserted {
    pub after: usize,
    pub count: usize,
}

impl Entry {
    fn disposition(self, tag: u8) -> Disposition {
        match (self.origin, tag) {
            (Origin::Client, _) | (Origin::Injected, b'E') => Disposition::Forward,
            (Origin::Setup | Origin::Restore, b'E') => Disposition::PreambleFailed,
            _ => Disposition::Swallow,
        }
    }
}

/// What to do with one backend message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    Forward,
    Swallow,
    /// An error answered one of the proxy's own messages: the connection's context is unknown.
    PreambleFailed,
}

#[derive(Debug, Default)]
pub struct Tracker {
    pending: VecDeque<Entry>,
    /// Last transaction status the backend reported.
    status: Option<TransactionStatus>,
    /// Pooled statements whose Parse failed or was skipped: the backend does not have them.
    lost: Vec<u64>,
    /// CopyDone/CopyFail messages the client has sent.
    copy_ends: u32,
    /// Set while an extended-protocol COPY FROM STDIN runs: Postgres ignores Sync until the
    /// client ends the copy, so such a Sync will get no ReadyForQuery.
    copy_in: Option<u32>,
    /// Changes of the pending `setting` queries, in order.
    settings: VecDeque<SettingChange>,
    /// Setting changes Postgres ran, since the last call to `take_confirmed`.
    confirmed: Vec<SettingChange>,
    /// Setting changes made inside a transaction block: they hold only if it commits.
    provisional: Vec<SettingChange>,
    /// How the block's last COMMIT or ROLLBACK ended, by its command tag, since the last
    /// ReadyForQuery.
    block_end: Option<BlockEnd>,
    /// An error answered something since the last ReadyForQuery.
    failed_since_ready: bool,
    /// The client changed session settings the proxy cannot follow.
    untracked: bool,
}

/// What ended (part of) a transaction block, as its CommandComplete tag says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockEnd {
    /// `COMMIT` (also `END`, `COMMIT AND CHAIN`).
    Commit,
    /// `ROLLBACK` (also `ABORT`, a COMMIT of a failed block, `ROLLBACK TO SAVEPOINT`).
    Rollback,
}

#[derive(Debug, thiserror::Error)]
#[error("the server sent {0:?} when no request was waiting for it")]
pub struct Desync(pub char);

impl Tracker {
    pub fn push(&mut self, request: Request, origin: Origin) {
        if request == Request::Sync && self.copy_in == Some(self.copy_ends) {
            return;
        }
        self.pending.push_back(Entry {
            request,
            origin,
            copy_epoch: self.copy_ends,
            setting: false,
            failed: false,
            inserted: None,
        });
    }

    /// The last Query holds statements of the proxy's among the client's, whose completions
    /// the client must not see.
    pub fn inserted(&mut self, inserted: Inserted) {
        if let Some(e) = self.pending.back_mut() {
            e.inserted = Some(inserted);
        }
    }

    /// A client Execute of a portal whose statement is exactly this setting change. It holds
    /// once the transaction it ran in commits (an extended batch runs in one until its Sync).
    pub fn push_execute_setting(&mut self, change: SettingChange) {
        self.push(Request::Execute, Origin::Client);
        if let Some(e) = self.pending.back_mut() {
            e.setting = true;
        }
        self.settings.push_back(change);
    }

    /// A client Query that is exactly this setting change.
    pub fn push_setting(&mut self, change: SettingChange) {
        self.push(Request::Query, Origin::Client);
        if let Some(e) = self.pending.back_mut() {
            e.setting = true;
        }
        self.settings.push_back(change);
    }

    /// The client's SQL changes session settings in a way the proxy does not follow.
    pub fn untracked_change(&mut self) {
        self.untracked = true;
    }

    /// Whether the connection's settings are no longer known (see `untracked_change`).
    pub fn changed_untracked(&self) -> bool {
        self.untracked
    }

    /// Setting changes that succeeded, since the last call.
    pub fn take_confirmed(&mut self) -> Vec<SettingChange> {
        std::mem::take(&mut self.confirmed)
    }

    /// The client sent CopyDone or CopyFail.
    pub fn copy_ended(&mut self) {
        self.copy_ends += 1;
        self.copy_in = None;
    }

    /// CopyInResponse to an Execute: drop the Syncs the client sent before ending the copy.
    fn copy_in_started(&mut self, head: Entry) {
        let mut i = 1;
        while i < self.pending.len() {
            let e = self.pending[i];
            if e.request == Request::Sync && e.copy_epoch == head.copy_epoch {
                self.pending.remove(i);
            } else {
                i += 1;
            }
        }
        if self.copy_ends == head.copy_epoch {
            self.copy_in = Some(head.copy_epoch);
        }
    }

    /// Whether the last pending request closes an extended-protocol batch.
    pub fn ends_with_sync(&self) -> bool {
        self.pending
            .back()
            .is_none_or(|e| matches!(e.request, Request::Sync | Request::Query))
    }

    pub fn is_idle(&self) -> bool {
        self.pending.is_empty()
    }

    /// Whether the client is surely outside a transaction block: nothing of its own is
    /// pending, and the backend last said so (or has said nothing since it was checked out
    /// idle).
    pub fn client_idle(&self) -> bool {
        self.pending.iter().all(|e| e.origin == Origin::Setup)
            && matches!(self.status, None | Some(TransactionStatus::Idle))
    }

    /// How many ReadyForQuery messages are still to come.
    pub fn ready_expected(&self) -> usize {
        self.pending
            .iter()
            .filter(|e| matches!(e.request, Request::Query | Request::Sync))
            .count()
    }

    pub fn status(&self) -> Option<TransactionStatus> {
        self.status
    }

    /// Whether the relay should pass on CommandComplete tags (see `command_complete`): only
    /// while changes made in a transaction block wait for its end.
    pub fn wants_command_tags(&self) -> bool {
        !self.provisional.is_empty()
    }

    /// The tag of a CommandComplete, read before `on_message` sees it.
    pub fn command_complete(&mut self, tag: &[u8]) {
        match tag {
            b"COMMIT" => self.block_end = Some(BlockEnd::Commit),
            b"ROLLBACK" => self.block_end = Some(BlockEnd::Rollback),
            _ => {}
        }
    }

    /// Settles provisional changes at a ReadyForQuery: a commit keeps them (also the implicit
    /// one that ends an extended batch, or PREPARE TRANSACTION), a rollback out of the block
    /// or a failed implicit transaction drops them. A rollback that stays in the block (to a
    /// savepoint) leaves them unknown.
    fn settle(&mut self) {
        let end = self.block_end.take();
        let failed = std::mem::take(&mut self.failed_since_ready);
        if self.provisional.is_empty() {
            return;
        }
        let idle = self.status == Some(TransactionStatus::Idle);
        match end {
            Some(BlockEnd::Commit) => self.confirmed.append(&mut self.provisional),
            Some(BlockEnd::Rollback) if idle => self.provisional.clear(),
            None if !idle => {}
            None if failed => self.provisional.clear(),
            None => self.confirmed.append(&mut self.provisional),
            Some(BlockEnd::Rollback) => {
                self.provisional.clear();
                self.untracked = true;
            }
        }
    }

    /// Statements the backend turned out not to have prepared, since the last call.
    pub fn take_lost(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.lost)
    }

    fn pop(&mut self) {
        match self.pending.pop_front() {
            Some(Entry {
                request: Request::Parse(Some(id)),
                ..
            }) => self.lost.push(id),
            // Skipped or failed: its change never happened.
            Some(Entry { setting: true, .. }) => {
                self.settings.pop_front();
            }
            _ => {}
        }
    }

    /// Decides the fate of a backend message with this tag; `ready` carries ReadyForQuery's
    /// status byte.
    pub fn on_message(
        &mut self,
        tag: u8,
        ready: Option<TransactionStatus>,
    ) -> Result<Disposition, Desync> {
        // Notices, parameter changes and notifications may come at any time.
        if matches!(tag, b'N' | b'S' | b'A') {
            let client = self
                .pending
                .front()
                .is_none_or(|e| matches!(e.origin, Origin::Client | Origin::Restore));
            return Ok(if client {
                Disposition::Forward
            } else {
                Disposition::Swallow
            });
        }
        let Some(head) = self.pending.front().copied() else {
            return Err(Desync(tag as char));
        };
        if head.request == Request::Query
            && matches!(tag, b'C' | b'I')
            && let Some(Inserted { after, count }) = head.inserted
            && let Some(e) = self.pending.front_mut()
        {
            let (after, count, swallow) = match (after, count) {
                (0, 0) => (0, 0, false),
                (0, n) => (0, n - 1, true),
                (n, count) => (n - 1, count, false),
            };
            e.inserted = Some(Inserted { after, count });
            if swallow {
                return Ok(Disposition::Swallow);
            }
        }
        let completes = match (head.request, tag) {
            (_, b'Z') => {
                if !matches!(head.request, Request::Query | Request::Sync) {
                    return Err(Desync('Z'));
                }
                self.status = ready;
                self.settle();
                true
            }
            (Request::Query, b'E') => {
                self.failed_since_ready = true;
                if let Some(e) = self.pending.front_mut() {
                    e.failed = true;
                }
                false
            }
            (Request::Query, _) => false,
            (_, b'E') => {
                self.failed_since_ready = true;
                // Postgres skips every extended message up to the next Sync after an error.
                self.pop();
                while self
                    .pending
                    .front()
                    .is_some_and(|e| e.request != Request::Sync)
                {
                    self.pop();
                }
                return Ok(head.disposition(tag));
            }
            (Request::Parse(_), b'1') | (Request::Bind, b'2') | (Request::Close, b'3') => true,
            (Request::Describe, b'T' | b'n') => true,
            (Request::Describe, b't') => false,
            (Request::Execute, b'C' | b'I' | b's') => true,
            (Request::Execute, b'G') => {
                self.copy_in_started(head);
                false
            }
            (Request::Execute, b'D' | b'H' | b'W' | b'd' | b'c') => false,
            _ => return Err(Desync(tag as char)),
        };
        if completes
            && let Some(done) = self.pending.pop_front()
            && done.setting
            && let Some(change) = self.settings.pop_front()
            && !done.failed
        {
            // An Execute's change waits for its transaction: the batch's, or a block's.
            if self.status == Some(TransactionStatus::Idle) && done.request == Request::Query {
                self.confirmed.push(change);
            } else {
                self.provisional.push(change);
            }
        }
        Ok(head.disposition(tag))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Disposition::*;

    fn run(t: &mut Tracker, tags: &str) -> Vec<Disposition> {
        tags.bytes()
            .map(|tag| {
                let ready = (tag == b'Z').then_some(TransactionStatus::Idle);
                t.on_message(tag, ready).unwrap()
            })
            .collect()
    }

    #[test]
    fn swallows_the_preamble_and_forwards_the_client_query() {
        let mut t = Tracker::default();
        t.push(Request::Query, Origin::Setup);
        t.push(Request::Query, Origin::Client);
        assert_eq!(run(&mut t, "CCZ"), vec![Swallow; 3]);
        assert_eq!(run(&mut t, "TDDCZ"), vec![Forward; 5]);
        assert!(t.is_idle());
    }

    #[test]
    fn a_restore_shows_its_parameter_changes_only_and_must_not_fail() {
        let mut t = Tracker::default();
        assert!(t.client_idle());
        t.push(Request::Query, Origin::Setup);
        assert!(
            t.client_idle(),
            "the proxy's setup is no client transaction"
        );
        t.push(Request::Query, Origin::Client);
        t.push(Request::Query, Origin::Restore);
        assert!(!t.client_idle());
        assert_eq!(run(&mut t, "CZ"), vec![Swallow; 2]);
        assert_eq!(run(&mut t, "SCZ"), vec![Forward; 3]);
        assert_eq!(
            run(&mut t, "SCCZ"),
            vec![Forward, Swallow, Swallow, Swallow]
        );
        assert!(t.client_idle());
        t.push(Request::Query, Origin::Restore);
        assert_eq!(t.on_message(b'E', None).unwrap(), PreambleFailed);
        // Inside a block the client is not idle.
        t = Tracker::default();
        t.push(Request::Query, Origin::Client);
        assert_eq!(t.on_message(b'C', None).unwrap(), Forward);
        let in_block = Some(TransactionStatus::InTransaction);
        assert_eq!(t.on_message(b'Z', in_block).unwrap(), Forward);
        assert!(!t.client_idle());
    }

    #[test]
    fn extended_batch_with_injected_messages() {
        let mut t = Tracker::default();
        for r in [Request::Parse(None), Request::Bind, Request::Execute] {
            t.push(r, Origin::Injected);
        }
        t.push(Request::Sync, Origin::Client);
        assert_eq!(
            run(&mut t, "12EZ"),
            vec![Swallow, Swallow, Forward, Forward]
        );
        assert!(t.is_idle());
    }

    #[test]
    fn an_error_skips_to_sync() {
        let mut t = Tracker::default();
        for r in [
            Request::Parse(None),
            Request::Bind,
            Request::Describe,
            Request::Execute,
            Request::Sync,
        ] {
            t.push(r, Origin::Client);
        }
        assert_eq!(run(&mut t, "EZ"), vec![Forward, Forward]);
        assert!(t.is_idle());
    }

    #[test]
    fn a_setting_holds_only_if_its_query_succeeds() {
        use crate::isolation::{SettingChange, SettingValue};
        let change = |v: &str| SettingChange {
            name: "lock_timeout".into(),
            value: SettingValue::To(v.into()),
            local: false,
        };
        let mut t = Tracker::default();
        t.push_setting(change("'1s'"));
        t.push_setting(change("'bad'"));
        assert_eq!(run(&mut t, "CZEZ"), vec![Forward; 4]);
        assert_eq!(t.take_confirmed(), vec![change("'1s'")]);
        assert!(t.take_confirmed().is_empty());
    }

    #[test]
    fn a_setting_made_in_a_block_holds_only_if_the_block_commits() {
        use crate::isolation::{SettingChange, SettingValue};
        use TransactionStatus::{Idle, InTransaction};
        let change = SettingChange {
            name: "lock_timeout".into(),
            value: SettingValue::To("'1s'".into()),
            local: false,
        };
        // BEGIN, SET, then the block's end with its tag and the status after it.
        let block = |end: &[u8], after: TransactionStatus| {
            let mut t = Tracker::default();
            t.push(Request::Query, Origin::Client);
            t.on_message(b'C', None).unwrap();
            t.on_message(b'Z', Some(InTransaction)).unwrap();
            t.push_setting(change.clone());
            t.on_message(b'C', None).unwrap();
            t.on_message(b'Z', Some(InTransaction)).unwrap();
            assert!(t.take_confirmed().is_empty(), "not before the block ends");
            assert!(t.wants_command_tags());
            t.push(Request::Query, Origin::Client);
            t.command_complete(end);
            t.on_message(b'C', None).unwrap();
            t.on_message(b'Z', Some(after)).unwrap();
            (
                t.take_confirmed(),
                t.changed_untracked(),
                t.wants_command_tags(),
            )
        };
        assert_eq!(block(b"COMMIT", Idle), (vec![change.clone()], false, false));
        assert_eq!(
            block(b"COMMIT", InTransaction),
            (vec![change.clone()], false, false)
        );
        assert_eq!(block(b"ROLLBACK", Idle), (vec![], false, false));
        // ROLLBACK TO SAVEPOINT: which changes it undid is not known.
        assert_eq!(block(b"ROLLBACK", InTransaction), (vec![], true, false));
        assert_eq!(block(b"SELECT 1", InTransaction), (vec![], false, true));
        // PREPARE TRANSACTION keeps the settings, as a commit does.
        assert_eq!(
            block(b"PREPARE TRANSACTION", Idle),
            (vec![change.clone()], false, false)
        );
    }

    #[test]
    fn an_executed_setting_holds_once_its_batch_commits() {
        use crate::isolation::{SettingChange, SettingValue};
        use TransactionStatus::{Failed, Idle};
        let change = SettingChange {
            name: "lock_timeout".into(),
            value: SettingValue::To("'1s'".into()),
            local: false,
        };
        // Parse, Bind, Execute (the SET), more, Sync; `answers` are the backend's.
        let batch = |answers: &str, after: TransactionStatus| {
            let mut t = Tracker::default();
            t.push(Request::Parse(None), Origin::Client);
            t.push(Request::Bind, Origin::Client);
            t.push_execute_setting(change.clone());
            t.push(Request::Bind, Origin::Client);
            t.push(Request::Execute, Origin::Client);
            t.push(Request::Sync, Origin::Client);
            for tag in answers.bytes() {
                let ready = (tag == b'Z').then_some(after);
                t.on_message(tag, ready).unwrap();
                if tag == b'C' {
                    assert!(t.take_confirmed().is_empty(), "not before the Sync");
                }
            }
            t.take_confirmed()
        };
        assert_eq!(batch("12C2CZ", Idle), vec![change.clone()]);
        // An error later in the batch rolls its implicit transaction back.
        assert_eq!(batch("12C2EZ", Idle), vec![]);
        assert_eq!(batch("12EZ", Idle), vec![]);
        assert_eq!(batch("12C2EZ", Failed), vec![]);
    }

    #[test]
    fn an_error_in_the_preamble_is_reported() {
        let mut t = Tracker::default();
        t.push(Request::Query, Origin::Setup);
        assert_eq!(t.on_message(b'E', None).unwrap(), PreambleFailed);
    }

    #[test]
    fn unexpected_messages_are_a_desync() {
        let mut t = Tracker::default();
        assert!(t.on_message(b'C', None).is_err());
        t.push(Request::Parse(None), Origin::Client);
        assert!(t.on_message(b'Z', Some(TransactionStatus::Idle)).is_err());
    }

    #[test]
    fn syncs_sent_during_an_extended_copy_in_get_no_answer() {
        let mut t = Tracker::default();
        for r in [Request::Bind, Request::Execute, Request::Sync] {
            t.push(r, Origin::Client);
        }
        assert_eq!(run(&mut t, "2G"), vec![Forward; 2]);
        t.push(Request::Sync, Origin::Client); // still copying: ignored by Postgres too
        t.copy_ended();
        t.push(Request::Sync, Origin::Client);
        assert_eq!(run(&mut t, "CZ"), vec![Forward; 2]);
        assert!(t.is_idle());
    }
}
