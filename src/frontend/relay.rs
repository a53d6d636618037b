//! The message loop of one authenticated session.
//!
//! Holding no backend, the session waits for a whole client message, checks a connection out,
//! writes the tenant preamble and the translated messages in one go, and relays both
//! directions at once until the backend is idle again (transaction pooling) or the client
//! leaves. A batch that only prepares statements is answered without a backend.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::admission::Admission;
use super::cancel::CancelSlot;
use super::inbound::{Flow, Inbound, Outputs};
use super::outbound::Outbound;
use super::prepared::Registry;
use super::settings::{ClientSettings, apply_to_server};
use super::throttle::Throttle;
use super::tracker::{Origin, Request, Tracker};
use crate::backend::{self, Connection};
use crate::config::PoolMode;
use crate::error::ClientError;
use crate::pool::{Checkout, write_preamble};
use crate::protocol::{Header, TransactionStatus, query_message, ready_for_query};
use crate::tenant::TenantContext;

pub struct Relay<S> {
    client: S,
    /// Client bytes read and not yet translated (at most one partial frame between reads).
    client_buf: BytesMut,
    tenant: TenantContext,
    inbound: Inbound,
    cancel: CancelSlot,
    max_message: usize,
    settings: ClientSettings,
    throttle: Throttle,
}

/// How an attached stretch ended.
enum Detach {
    /// The backend is idle between transactions: give it back.
    Idle,
    /// The client left (Terminate or EOF).
    ClientGone,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Relay<S> {
    pub fn new(
        client: S,
        leftover: BytesMut,
        tenant: TenantContext,
        max_message: usize,
        cancel: CancelSlot,
        statements: Arc<Registry>,
        settings: ClientSettings,
    ) -> Self {
        // After a client's RESET ALL or DISCARD ALL: the tenant's context, then the client's
        // login settings.
        let restore = [tenant.pool.context.setup_sql(), &settings.login_sql()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        let inbound = Inbound::new(Admission::new(&tenant), max_message, statements, restore);
        Relay {
            client,
            client_buf: leftover,
            tenant,
            inbound,
            cancel,
            max_message,
            settings,
            throttle: Throttle::default(),
        }
    }

    /// Serves the session until the client leaves; a fatal error is reported to the client.
    pub async fn run(mut self) -> Result<(), ClientError> {
        let result = self.serve().await;
        if let Err(e) = &result
            && !matches!(e, ClientError::ClientGone)
        {
            let mut out = BytesMut::new();
            e.write(&mut out);
            let _ = self.client.write_all(&out).await;
        }
        result
    }

    async fn serve(&mut self) -> Result<(), ClientError> {
        loop {
            if self.wait_for_message().await? == Flow::Terminate {
                return Ok(());
            }
            let mut answer = BytesMut::new();
            if self
                .inbound
                .prepare_locally(&mut self.client_buf, &mut answer)?
            {
                self.client
                    .write_all(&answer)
                    .await
                    .map_err(|_| ClientError::ClientGone)?;
                continue;
            }
            // Rate-limited before a connection is held.
            self.throttle
                .admit(&self.tenant.pool, &self.client_buf, self.max_message)
                .await;
            let mut checkout = match self.tenant.pool.checkout().await {
                Ok(c) => c,
                Err(e) => {
                    self.fail_pending(&e).await?;
                    continue;
                }
            };
            self.cancel.set(checkout.conn().cancel_key.clone());
            let result = self.attached(&mut checkout).await;
            self.cancel.clear();
            match result {
                Ok((Detach::Idle, _)) => checkout.release(),
                Ok((Detach::ClientGone, reusable)) => {
                    if reusable {
                        checkout.conn().needs_discard |= self.tenant.pool.mode == PoolMode::Session;
                        checkout.release();
                    } else {
                        checkout.discard();
                    }
                    return Ok(());
                }
                Err(e) => {
                    checkout.discard();
                    return Err(e);
                }
            }
        }
    }

    /// Waits, holding no backend, until the client has sent a whole message (Terminate ends
    /// the session here). Frames are translated only once a backend is attached, because
    /// how a named statement is sent depends on the connection.
    async fn wait_for_message(&mut self) -> Result<Flow, ClientError> {
        loop {
            if let Some(header) = Header::peek(&self.client_buf, self.max_message)?
                && self.client_buf.len() >= header.frame_len
            {
                return Ok(if header.tag == b'X' {
                    Flow::Terminate
                } else {
                    Flow::Continue
                });
            }
            if self
                .client
                .read_buf(&mut self.client_buf)
                .await
                .unwrap_or(0)
                == 0
            {
                return Ok(Flow::Terminate);
            }
        }
    }

    /// Answers the client's pending messages when no backend could be had: refusals as
    /// usual, then an error and a ReadyForQuery for each Query or Sync, as Postgres answers
    /// a batch whose first message fails.
    async fn fail_pending(&mut self, error: &ClientError) -> Result<(), ClientError> {
        tracing::warn!(error = %error, "no backend connection for a client batch");
        let (mut discarded, mut out, mut tracker) =
            (BytesMut::new(), BytesMut::new(), Tracker::default());
        self.inbound.translate(
            &mut self.client_buf,
            &mut Outputs {
                backend: &mut discarded,
                client: &mut out,
                tracker: &mut tracker,
                prepared: None,
            },
        )?;
        self.throttle.consumed();
        if tracker.ready_expected() > 0 || !discarded.is_empty() {
            error.write(&mut out);
        }
        for _ in 0..tracker.ready_expected() {
            ready_for_query(&mut out, TransactionStatus::Idle);
        }
        if !tracker.ends_with_sync() {
            self.inbound.fail_until_sync();
        }
        self.client
            .write_all(&out)
            .await
            .map_err(|_| ClientError::ClientGone)
    }

    /// Relays both directions until the backend can be released or the client leaves.
    /// Returns how it ended and whether the connection is clean enough to reuse.
    async fn attached(&mut self, checkout: &mut Checkout) -> Result<(Detach, bool), ClientError> {
        let mode = self.tenant.pool.mode;
        let conn = checkout.conn();
        let mut first = BytesMut::with_capacity(self.client_buf.len() + 128);
        let mut tracker = Tracker::default();
        let preamble = write_preamble(conn, &self.tenant.pool.context, &mut first);
        for _ in 0..preamble.queries {
            tracker.push(Request::Query, Origin::Setup);
        }
        let Connection {
            stream,
            read_buf: backend_buf,
            prepared,
            params,
            unreported,
            needs_discard,
            ..
        } = conn;
        // A DISCARD ALL in the preamble resets every setting: then set all of the client's.
        let server: &[(String, String)] = if preamble.discards { &[] } else { params };
        if let Some(sql) = self.settings.sync_sql(server, unreported) {
            query_message(&mut first, &sql);
            tracker.push(Request::Query, Origin::Setup);
        }
        let mut local = BytesMut::new();
        let first_flow = self.inbound.translate(
            &mut self.client_buf,
            &mut Outputs {
                backend: &mut first,
                client: &mut local,
                tracker: &mut tracker,
                prepared: Some(&mut *prepared),
            },
        )?;
        debug_assert!(local.is_empty(), "refusals go through the attached backend");
        self.throttle.consumed();

        let link = Link {
            tracker: Mutex::new(tracker),
            ..Link::default()
        };
        let (client_read, client_write) = tokio::io::split(&mut self.client);
        let (backend_read, backend_write) = backend::stream::split(stream);
        let inbound = &mut self.inbound;
        let client_buf = &mut self.client_buf;
        let settings = &mut self.settings;
        let (pool, max_message) = (&self.tenant.pool, self.max_message);
        let throttle = &mut self.throttle;

        // Client → backend. Whichever direction returns first drops the other, so each only
        // returns `Idle` when the other is not halfway through a write (see `Link`).
        let upstream = async {
            let (mut client_read, mut backend_write) = (client_read, backend_write);
            let mut out = first;
            let mut terminate = first_flow == Flow::Terminate;
            loop {
                if !out.is_empty() {
                    link.upstream_busy.store(true, Ordering::Relaxed);
                    backend_write
                        .write_all(&out)
                        .await
                        .map_err(|_| ClientError::BackendLost)?;
                    link.upstream_busy.store(false, Ordering::Relaxed);
                    out.clear();
                    if link.releasable(mode) {
                        return Ok(Detach::Idle);
                    }
                }
                if terminate {
                    return Ok(Detach::ClientGone);
                }
                if client_read.read_buf(client_buf).await.unwrap_or(0) == 0 {
                    return Ok::<Detach, ClientError>(Detach::ClientGone);
                }
                throttle.admit(pool, client_buf, max_message).await;
                let mut tracker = link.tracker();
                for id in tracker.take_lost() {
                    prepared.remove(&id);
                }
                let flow = inbound.translate(
                    client_buf,
                    &mut Outputs {
                        backend: &mut out,
                        client: &mut local,
                        tracker: &mut tracker,
                        prepared: Some(&mut *prepared),
                    },
                )?;
                drop(tracker);
                throttle.consumed();
                debug_assert!(local.is_empty(), "refusals go through the attached backend");
                terminate = flow == Flow::Terminate;
            }
        };

        // Backend → client.
        let downstream = async {
            let (mut backend_read, mut client_write) = (backend_read, client_write);
            let mut outbound = Outbound::default();
            let mut chunks: Vec<Bytes> = Vec::new();
            let mut changes = Vec::new();
            loop {
                if backend_read
                    .read_buf(backend_buf)
                    .await
                    .map_err(|_| ClientError::BackendLost)?
                    == 0
                {
                    return Err(ClientError::BackendLost);
                }
                let confirmed = {
                    let mut tracker = link.tracker();
                    outbound.drain(backend_buf, &mut tracker, &mut chunks, &mut changes)?;
                    tracker.take_confirmed()
                };
                if !changes.is_empty() {
                    apply_to_server(params, &changes);
                    settings.apply(&changes);
                    changes.clear();
                }
                for change in confirmed {
                    settings.apply_change(&change, unreported);
                }
                link.backend_quiet.store(
                    outbound.at_boundary() && backend_buf.is_empty(),
                    Ordering::Relaxed,
                );
                link.downstream_busy.store(true, Ordering::Relaxed);
                for chunk in chunks.drain(..) {
                    client_write
                        .write_all(&chunk)
                        .await
                        .map_err(|_| ClientError::ClientGone)?;
                }
                link.downstream_busy.store(false, Ordering::Relaxed);
                if link.releasable(mode) {
                    return Ok::<Detach, ClientError>(Detach::Idle);
                }
            }
        };

        let ended = tokio::select! {
            r = upstream => r,
            r = downstream => r,
        };
        let mut tracker = link.tracker();
        for id in tracker.take_lost() {
            prepared.remove(&id);
        }
        *needs_discard |= tracker.changed_untracked();
        for change in tracker.take_confirmed() {
            self.settings.apply_change(&change, unreported);
        }
        drop(tracker);
        match ended {
            Ok(Detach::ClientGone) => {
                Ok((Detach::ClientGone, link.releasable(PoolMode::Transaction)))
            }
            Ok(Detach::Idle) => Ok((Detach::Idle, true)),
            Err(ClientError::ClientGone) => Ok((Detach::ClientGone, false)),
            Err(e) => Err(e),
        }
    }
}

/// State the two directions of an attached session share. Both run in one task, so nothing
/// here is ever contended; the lock and atomics only keep the session future `Send`.
#[derive(Default)]
struct Link {
    tracker: Mutex<Tracker>,
    /// Client → backend is writing: its bytes may be half on the wire.
    upstream_busy: AtomicBool,
    /// Backend → client is writing.
    downstream_busy: AtomicBool,
    /// The backend stream stands between messages with nothing unread.
    backend_quiet: AtomicBool,
}

impl Link {
    fn tracker(&self) -> std::sync::MutexGuard<'_, Tracker> {
        self.tracker.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the backend can go back to the pool now: between transactions, with every
    /// request answered and neither direction halfway through a write.
    fn releasable(&self, mode: PoolMode) -> bool {
        let tracker = self.tracker();
        mode == PoolMode::Transaction
            && tracker.is_idle()
            && tracker.status() == Some(TransactionStatus::Idle)
            && self.backend_quiet.load(Ordering::Relaxed)
            && !self.upstream_busy.load(Ordering::Relaxed)
            && !self.downstream_busy.load(Ordering::Relaxed)
    }
}
