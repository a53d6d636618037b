//! Client → backend: turns the client's frames into what the backend may see.
//!
//! Only `Query` and `Parse` carry SQL; they pass the tenant's isolation policy or are replaced
//! by a refusal. Every other message is forwarded as bytes. Each forwarded message that
//! Postgres answers is recorded in the [`Tracker`], in order.

use std::sync::Arc;

use bytes::BytesMut;

use super::tracker::{Origin, Request, Tracker};
use crate::error::ClientError;
use crate::isolation::{Policy, Rule, Violation};
use crate::protocol::{
    Frame, TransactionStatus, parse_message_parts, query_message, query_text, ready_for_query,
    split_frame,
};

/// What the session loop must do after a batch of frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// The client sent Terminate.
    Terminate,
}

/// After a refused extended-protocol message Postgres ignores everything up to Sync; so does
/// the proxy, either answering that Sync itself or letting the backend answer it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Skip {
    Local,
    Backend,
}

#[derive(Debug)]
pub struct Inbound {
    policy: Arc<Policy>,
    limit: usize,
    skip: Option<Skip>,
}

/// Where one batch of translated frames goes.
pub struct Outputs<'a> {
    /// Bytes for the backend.
    pub backend: &'a mut BytesMut,
    /// Answers the proxy gives the client itself, when no backend is involved.
    pub client: &'a mut BytesMut,
    pub tracker: &'a mut Tracker,
    /// Whether a backend is attached (refusals then go through it, to keep response order
    /// and transaction state exactly as Postgres would have them).
    pub attached: bool,
}

impl Outputs<'_> {
    /// A refusal can be answered locally only when nothing sent earlier is still unanswered.
    fn local(&self) -> bool {
        !self.attached && self.backend.is_empty() && self.tracker.is_idle()
    }
}

impl Inbound {
    pub fn new(policy: Arc<Policy>, limit: usize) -> Inbound {
        Inbound {
            policy,
            limit,
            skip: None,
        }
    }

    /// Translates every complete frame in `buf`.
    pub fn translate(
        &mut self,
        buf: &mut BytesMut,
        out: &mut Outputs<'_>,
    ) -> Result<Flow, ClientError> {
        while let Some(frame) = split_frame(buf, self.limit)? {
            if self.translate_frame(frame, out)? == Flow::Terminate {
                return Ok(Flow::Terminate);
            }
        }
        Ok(Flow::Continue)
    }

    /// Marks the current extended-protocol batch as failed without a backend: its Sync will be
    /// answered locally.
    pub fn fail_until_sync(&mut self) {
        self.skip = Some(Skip::Local);
    }

    fn translate_frame(
        &mut self,
        frame: Frame,
        out: &mut Outputs<'_>,
    ) -> Result<Flow, ClientError> {
        if let Some(skip) = self.skip {
            match frame.tag {
                b'S' => self.skip = None,
                b'X' => return Ok(Flow::Terminate),
                _ => return Ok(Flow::Continue),
            }
            if skip == Skip::Local {
                ready_for_query(out.client, TransactionStatus::Idle);
                return Ok(Flow::Continue);
            }
        }
        let request = match frame.tag {
            b'Q' => return self.query(frame, out),
            b'P' => return self.parse(frame, out),
            b'F' => {
                // FunctionCall invokes any function by OID, around every SQL check.
                let v = Violation {
                    rule: Rule::ForbiddenFunction,
                    detail: "the FunctionCall protocol message (fast-path) is not supported".into(),
                };
                self.refuse_simple(v, out);
                return Ok(Flow::Continue);
            }
            b'X' => return Ok(Flow::Terminate),
            b'B' => Some(Request::Bind),
            b'D' => Some(Request::Describe),
            b'E' => Some(Request::Execute),
            b'C' => Some(Request::Close),
            b'S' => Some(Request::Sync),
            b'H' | b'd' | b'c' | b'f' => None,
            other => {
                return Err(ClientError::Protocol(format!(
                    "unexpected message type {:?}",
                    other as char
                )));
            }
        };
        if let Some(r) = request {
            out.tracker.push(r, Origin::Client);
        }
        out.backend.extend_from_slice(&frame.bytes);
        Ok(Flow::Continue)
    }

    fn query(&mut self, frame: Frame, out: &mut Outputs<'_>) -> Result<Flow, ClientError> {
        let sql = query_text(frame.body())
            .ok_or_else(|| ClientError::Protocol("malformed Query message".into()))?;
        match self.check(sql) {
            Ok(()) => {
                out.tracker.push(Request::Query, Origin::Client);
                out.backend.extend_from_slice(&frame.bytes);
            }
            Err(v) => self.refuse_simple(v, out),
        }
        Ok(Flow::Continue)
    }

    fn parse(&mut self, frame: Frame, out: &mut Outputs<'_>) -> Result<Flow, ClientError> {
        let (_, sql, _) = parse_message_parts(frame.body())
            .ok_or_else(|| ClientError::Protocol("malformed Parse message".into()))?;
        match self.check(sql) {
            Ok(()) => {
                out.tracker.push(Request::Parse, Origin::Client);
                out.backend.extend_from_slice(&frame.bytes);
            }
            Err(v) if out.local() => {
                ClientError::Refused(v).write(out.client);
                self.skip = Some(Skip::Local);
            }
            Err(v) => {
                refusal_extended(&v, out);
                self.skip = Some(Skip::Backend);
            }
        }
        Ok(Flow::Continue)
    }

    fn check(&self, sql: &[u8]) -> Result<(), Violation> {
        let sql = std::str::from_utf8(sql).map_err(|_| Violation {
            rule: Rule::Unreadable,
            detail: "SQL text is not valid UTF-8".into(),
        })?;
        self.policy.check(sql)
    }

    /// Answers a refused simple-protocol message the way Postgres answers a failed one.
    fn refuse_simple(&mut self, v: Violation, out: &mut Outputs<'_>) {
        if out.local() {
            ClientError::Refused(v).write(out.client);
            ready_for_query(out.client, TransactionStatus::Idle);
        } else {
            out.tracker.push(Request::Query, Origin::Client);
            query_message(out.backend, &raise_sql(&v));
        }
    }
}

/// Stands in for a refused Parse inside a batch a backend is already serving: the backend
/// raises the refusal itself, so what follows (skipping to Sync, an aborted transaction) is
/// exactly what Postgres would do for a failing statement.
fn refusal_extended(v: &Violation, out: &mut Outputs<'_>) {
    // Bind of the unnamed portal to the unnamed statement, no parameters; Execute it fully.
    const BIND: &[u8] = b"B\0\0\0\x0c\0\0\0\0\0\0\0\0";
    const EXECUTE: &[u8] = b"E\0\0\0\x09\0\0\0\0\0";
    let no_params: [u32; 0] = [];
    postgres_protocol::message::frontend::parse("", &raise_sql(v), no_params, out.backend)
        .expect("generated SQL has no NUL");
    out.backend.extend_from_slice(BIND);
    out.backend.extend_from_slice(EXECUTE);
    for r in [Request::Parse, Request::Bind, Request::Execute] {
        out.tracker.push(r, Origin::Refusal);
    }
}

/// A statement that fails with the refusal's SQLSTATE and message.
fn raise_sql(v: &Violation) -> String {
    const TAG: &str = "$tenantgate_refusal$";
    let message = v.to_string().replace(TAG, "").replace('\'', "''");
    format!(
        "DO {TAG}BEGIN RAISE EXCEPTION USING ERRCODE = '{}', MESSAGE = '{message}'; END{TAG}",
        crate::protocol::sqlstate::INSUFFICIENT_PRIVILEGE
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raise_sql_quotes_the_message() {
        let v = Violation {
            rule: Rule::ForeignSchema,
            detail: "o'hara $tenantgate_refusal$".into(),
        };
        let sql = raise_sql(&v);
        assert!(sql.contains("o''hara"), "{sql}");
        assert_eq!(sql.matches("$tenantgate_refusal$").count(), 2, "{sql}");
    }
}
