//! Client → backend: turns the client's frames into what the backend may see.
//!
//! Only `Query` and `Parse` carry SQL; they pass the tenant's isolation policy or are replaced
//! by a refusal. Named statements are renamed to their pooled names (see [`super::prepared`]).
//! Every other message is forwarded as bytes. Each forwarded message that Postgres answers is
//! recorded in the [`Tracker`], in order.

use std::collections::HashSet;
use std::sync::Arc;

use bytes::{BufMut, BytesMut};

use super::admission::{Admission, followed_change};
use super::prepared::{ClientStatements, Registry, Statement, parse_message, pooled_name, renamed};
use super::tracker::{Inserted, Origin, Request, Tracker};
use crate::error::ClientError;
use crate::isolation::{
    Deallocation, Rule, SessionEffect, SettingChange, Violation, deallocation, statement_count,
};
use crate::protocol::{
    Frame, Header, TransactionStatus, cstring, message, parse_message_parts, query_message,
    query_text, ready_for_query, split_frame,
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
    admission: Admission,
    limit: usize,
    skip: Option<Skip>,
    registry: Arc<Registry>,
    statements: ClientStatements,
    /// What sets the session up again after a `RESET ALL` or `DISCARD ALL`.
    restore: String,
    /// How many statements `restore` holds.
    restore_statements: usize,
    /// The setting change the unnamed statement is, and the unnamed portal bound to one.
    unnamed_change: Option<SettingChange>,
    portal_change: Option<SettingChange>,
}

/// Where one batch of translated frames goes.
pub struct Outputs<'a> {
    /// Bytes for the backend.
    pub backend: &'a mut BytesMut,
    /// Answers the proxy gives the client itself, when no backend is involved.
    pub client: &'a mut BytesMut,
    pub tracker: &'a mut Tracker,
    /// The pooled statements of the attached backend; `None` when no backend is attached.
    /// With a backend, refusals go through it, to keep response order and transaction state
    /// exactly as Postgres would have them.
    pub prepared: Option<&'a mut HashSet<u64>>,
}

impl Outputs<'_> {
    /// A refusal can be answered locally only when nothing sent earlier is still unanswered.
    fn local(&self) -> bool {
        self.prepared.is_none() && self.backend.is_empty() && self.tracker.is_idle()
    }

    /// Makes sure the backend has `statement`, preparing it first if not.
    fn ensure_prepared(&mut self, statement: &Statement) {
        if let Some(prepared) = self.prepared.as_deref_mut()
            && prepared.insert(statement.id)
        {
            self.backend.extend_from_slice(&statement.parse);
            self.tracker
                .push(Request::Parse(Some(statement.id)), Origin::Injected);
        }
    }
}

impl Inbound {
    /// `restore` is the SQL that sets the session up again after a `RESET ALL`: the
    /// tenant's context and the client's settings at login (with the plan's limits).
    pub fn new(
        admission: Admission,
        limit: usize,
        registry: Arc<Registry>,
        restore: String,
    ) -> Inbound {
        Inbound {
            admission,
            limit,
            skip: None,
            registry,
            statements: ClientStatements::default(),
            restore_statements: statement_count(&restore),
            restore,
            unnamed_change: None,
            portal_change: None,
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

    /// Answers a batch of only named Parse messages and a Sync (what `PQprepare` sends)
    /// without a backend: the statements are registered and prepared on a connection when
    /// first used. Holding no connection for a prepare matters: clients such as pgbench
    /// prepare synchronously while their other connections hold backends mid-transaction.
    /// A statement Postgres would reject then fails at its first use instead of here.
    /// Returns whether the batch was answered.
    pub fn prepare_locally(
        &mut self,
        buf: &mut BytesMut,
        client: &mut BytesMut,
    ) -> Result<bool, ClientError> {
        if self.skip.is_some() {
            return Ok(false);
        }
        let mut end = 0;
        let mut parses = Vec::new();
        loop {
            let Some(h) = Header::peek(&buf[end..], self.limit)? else {
                return Ok(false);
            };
            if buf.len() < end + h.frame_len {
                return Ok(false);
            }
            let body = &buf[end + 5..end + h.frame_len];
            match h.tag {
                b'P' => match parse_message_parts(body) {
                    Some((name, sql, tail)) if !name.is_empty() => {
                        match self.admission.admit_parse(sql) {
                            // What the statement runs is the admitted text (a row tenant's
                            // rewrite), exactly as for a Parse that goes to a backend.
                            Ok(a) if a.session == SessionEffect::None => {
                                parses.push((name.to_vec(), a.sql(sql).to_vec(), tail.to_vec()));
                            }
                            _ => return Ok(false),
                        }
                    }
                    _ => return Ok(false),
                },
                b'S' if !parses.is_empty() => {
                    end += h.frame_len;
                    break;
                }
                _ => return Ok(false),
            }
            end += h.frame_len;
        }
        let _ = buf.split_to(end);
        for (name, sql, tail) in parses {
            let id = self.registry.intern(&sql, &tail);
            self.statements.insert(
                &name,
                Statement {
                    id,
                    parse: parse_message(id, &sql, &tail),
                    changes_session: false,
                    change: None,
                },
            );
            client.extend_from_slice(b"1\0\0\0\x04");
        }
        ready_for_query(client, TransactionStatus::Idle);
        Ok(true)
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
            // Answered here only when no backend is attached; otherwise the backend answers.
            if skip == Skip::Local && out.prepared.is_none() {
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
            b'B' => return self.bind(frame, out),
            b'D' => return self.describe_or_close(frame, Request::Describe, out),
            b'C' => return self.describe_or_close(frame, Request::Close, out),
            b'E' => return Ok(self.execute(frame, out)),
            b'S' => {
                self.portal_change = None;
                Some(Request::Sync)
            }
            b'c' | b'f' => {
                out.tracker.copy_ended();
                None
            }
            b'H' | b'd' => None,
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

    /// Execute: of the unnamed portal bound to a lone SET, the change follows the client
    /// once its transaction commits.
    fn execute(&mut self, frame: Frame, out: &mut Outputs<'_>) -> Flow {
        let unnamed = frame.body().first() == Some(&0);
        match self.portal_change.take().filter(|_| unnamed) {
            Some(change) => out.tracker.push_execute_setting(change),
            None => out.tracker.push(Request::Execute, Origin::Client),
        }
        out.backend.extend_from_slice(&frame.bytes);
        Flow::Continue
    }

    fn query(&mut self, frame: Frame, out: &mut Outputs<'_>) -> Result<Flow, ClientError> {
        // A simple query ends the unnamed statement and portal.
        self.unnamed_change = None;
        self.portal_change = None;
        let sql = query_text(frame.body())
            .ok_or_else(|| ClientError::Protocol("malformed Query message".into()))?;
        if let Some(sql) = self.deallocate(sql, out) {
            out.tracker.push(Request::Query, Origin::Client);
            query_message(out.backend, &sql);
            return Ok(Flow::Continue);
        }
        match self.admission.admit(sql) {
            Ok(admitted) => {
                match admitted.session {
                    SessionEffect::Change(ref c) if !c.local => {
                        out.tracker.push_setting(c.clone());
                    }
                    SessionEffect::ResetAll { statements, .. } => {
                        // The client sees the answers of its own statements only.
                        out.tracker.push_setting(SettingChange::all());
                        out.tracker.inserted(Inserted {
                            after: statements,
                            count: self.restore_statements,
                        });
                    }
                    SessionEffect::DiscardAll => {
                        self.discard_all(out);
                        return Ok(Flow::Continue);
                    }
                    _ => {
                        if admitted.changes_untracked() {
                            out.tracker.untracked_change();
                        }
                        out.tracker.push(Request::Query, Origin::Client);
                    }
                }
                match (&admitted.session, &admitted.replacement) {
                    // The setup follows in the same text: it runs only if RESET ALL did, and
                    // before anything else of the client's. A newline ends a line comment.
                    (SessionEffect::ResetAll { at, .. }, _) => {
                        let sql = String::from_utf8_lossy(admitted.sql(sql));
                        let text = match *at {
                            // Just past a `;` of the client's: a statement starts there.
                            Some(at) => format!("{}{};{}", &sql[..at], self.restore, &sql[at..]),
                            None => format!("{sql}\n;{}", self.restore),
                        };
                        query_message(out.backend, &text);
                    }
                    (_, Some(r)) => query_message(out.backend, r.as_str()),
                    (_, None) => out.backend.extend_from_slice(&frame.bytes),
                }
            }
            Err(v) => self.refuse_simple(v, out),
        }
        Ok(Flow::Continue)
    }

    /// A client's `DISCARD ALL`, outside a transaction block: it runs, and the session is set
    /// up again at once (the tenant's context, the plan's limits, the client's login settings),
    /// in a message of its own, before anything else of the client's. Inside a block (or
    /// behind requests whose outcome is unknown) it is refused as Postgres refuses it there:
    /// the proxy could not tell whether the session was reset.
    fn discard_all(&mut self, out: &mut Outputs<'_>) {
        if !out.tracker.client_idle() {
            let v = Violation {
                rule: Rule::TransactionBlock,
                detail: "DISCARD ALL".into(),
            };
            return self.refuse_simple(v, out);
        }
        // Every prepared statement goes, the client's names and the pooled ones alike.
        self.statements.clear();
        if let Some(prepared) = out.prepared.as_deref_mut() {
            prepared.clear();
        }
        out.tracker.push_setting(SettingChange::all());
        query_message(out.backend, "DISCARD ALL");
        out.tracker.push(Request::Query, Origin::Restore);
        query_message(out.backend, &self.restore);
    }

    /// SQL `DEALLOCATE` of the client's own protocol-level statements (psycopg releases them
    /// this way): returns the SQL to run instead. The pooled statement is deallocated on this
    /// connection, so the answer is Postgres' own; other clients prepare it again where they
    /// need it.
    fn deallocate(&mut self, sql: &[u8], out: &mut Outputs<'_>) -> Option<String> {
        let target = std::str::from_utf8(sql).ok().and_then(deallocation)?;
        out.prepared.as_ref()?;
        match target {
            Deallocation::All => {
                self.statements.clear();
                out.prepared.as_deref_mut()?.clear();
                Some("DEALLOCATE ALL".to_owned())
            }
            Deallocation::Named(name) => {
                let statement = self.statements.get(name.as_bytes()).cloned()?;
                self.statements.remove(name.as_bytes());
                out.ensure_prepared(&statement);
                out.prepared.as_deref_mut()?.remove(&statement.id);
                Some(format!("DEALLOCATE {}", pooled_name(statement.id)))
            }
        }
    }

    /// An unnamed Parse of `DEALLOCATE` (psycopg sends its commands that way).
    fn deallocation_parse(&mut self, sql: &[u8], tail: &[u8], out: &mut Outputs<'_>) -> bool {
        let Some(sql) = self.deallocate(sql, out) else {
            return false;
        };
        unnamed_parse(out.backend, sql.as_bytes(), tail);
        out.tracker.push(Request::Parse(None), Origin::Client);
        true
    }

    fn parse(&mut self, frame: Frame, out: &mut Outputs<'_>) -> Result<Flow, ClientError> {
        let (name, sql, tail) = parse_message_parts(frame.body())
            .ok_or_else(|| ClientError::Protocol("malformed Parse message".into()))?;
        match self.admission.admit_parse(sql) {
            Ok(a) if name.is_empty() => {
                self.unnamed_change = followed_change(&a.session);
                if self.unnamed_change.is_none() && a.changes_untracked() {
                    out.tracker.untracked_change();
                }
                out.tracker.push(Request::Parse(None), Origin::Client);
                match &a.replacement {
                    Some(_) => unnamed_parse(out.backend, a.sql(sql), tail),
                    None => out.backend.extend_from_slice(&frame.bytes),
                }
            }
            Err(_) if name.is_empty() && self.deallocation_parse(sql, tail, out) => {}
            Ok(a) => {
                let sql = a.sql(sql);
                let id = self.registry.intern(sql, tail);
                let change = followed_change(&a.session);
                let statement = Statement {
                    id,
                    parse: parse_message(id, sql, tail),
                    changes_session: change.is_none() && a.changes_untracked(),
                    change,
                };
                self.statements.insert(name, statement.clone());
                // Prepared already: Close it first, so the client's Parse is answered by the
                // backend in order, exactly as Postgres answers a Parse.
                if out.prepared.as_deref().is_some_and(|p| p.contains(&id)) {
                    renamed(out.backend, b'C', b"S", &pooled_name(id), b"");
                    out.tracker.push(Request::Close, Origin::Injected);
                }
                if let Some(prepared) = out.prepared.as_deref_mut() {
                    prepared.insert(id);
                }
                out.backend.extend_from_slice(&statement.parse);
                out.tracker.push(Request::Parse(Some(id)), Origin::Client);
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

    /// Bind: the statement name becomes the pooled one, prepared first where missing.
    fn bind(&mut self, frame: Frame, out: &mut Outputs<'_>) -> Result<Flow, ClientError> {
        let malformed = || ClientError::Protocol("malformed Bind message".into());
        let body = frame.body();
        let (portal, rest) = cstring(body).ok_or_else(malformed)?;
        let (name, rest) = cstring(rest).ok_or_else(malformed)?;
        let change = match self.statements.get(name) {
            Some(statement) => {
                out.ensure_prepared(statement);
                if statement.changes_session {
                    out.tracker.untracked_change();
                }
                let prefix = &body[..portal.len() + 1];
                renamed(out.backend, b'B', prefix, &pooled_name(statement.id), rest);
                statement.change.clone()
            }
            None => {
                out.backend.extend_from_slice(&frame.bytes);
                self.unnamed_change.clone().filter(|_| name.is_empty())
            }
        };
        // Only the unnamed portal's change is followed; a named one's is reset after use.
        self.portal_change = None;
        match change {
            Some(change) if portal.is_empty() => self.portal_change = Some(change),
            Some(_) => out.tracker.untracked_change(),
            None => {}
        }
        out.tracker.push(Request::Bind, Origin::Client);
        Ok(Flow::Continue)
    }

    /// Describe or Close of a named statement ('S'); portals ('P') pass unchanged.
    fn describe_or_close(
        &mut self,
        frame: Frame,
        request: Request,
        out: &mut Outputs<'_>,
    ) -> Result<Flow, ClientError> {
        let body = frame.body();
        let kind = body.first().copied();
        let name = cstring(body.get(1..).unwrap_or_default())
            .map(|(n, _)| n)
            .unwrap_or_default();
        if kind != Some(b'S') || name.is_empty() {
            out.backend.extend_from_slice(&frame.bytes);
        } else if request == Request::Close {
            // The pooled statement stays for other clients; the backend still answers the
            // Close (closing a statement that does not exist is no error).
            self.statements.remove(name);
            renamed(out.backend, b'C', b"S", "tenantgate_none", b"");
        } else {
            match self.statements.get(name) {
                Some(statement) => {
                    out.ensure_prepared(statement);
                    renamed(out.backend, b'D', b"S", &pooled_name(statement.id), b"");
                }
                None => out.backend.extend_from_slice(&frame.bytes),
            }
        }
        out.tracker.push(request, Origin::Client);
        Ok(Flow::Continue)
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

/// A Parse of the unnamed statement; `tail` is the parameter type list as the client sent it.
fn unnamed_parse(out: &mut BytesMut, sql: &[u8], tail: &[u8]) {
    message(out, b'P', |b| {
        b.put_u8(0);
        b.put_slice(sql);
        b.put_u8(0);
        b.put_slice(tail);
    });
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
    for r in [Request::Parse(None), Request::Bind, Request::Execute] {
        out.tracker.push(r, Origin::Injected);
    }
}

/// A statement that fails with the refusal's SQLSTATE and message.
fn raise_sql(v: &Violation) -> String {
    const TAG: &str = "$tenantgate_refusal$";
    let message = v.to_string().replace(TAG, "").replace('\'', "''");
    let code = ClientError::Refused(v.clone()).sqlstate();
    format!(
        "DO {TAG}BEGIN RAISE EXCEPTION USING ERRCODE = '{code}', MESSAGE = '{message}'; END{TAG}"
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
