//! The message loop of one authenticated session.
//!
//! Idle, the session reads client frames until one needs a backend, then checks a connection
//! out, writes the tenant preamble and the frames in one go, and relays both directions at
//! once until the backend is idle again (transaction pooling) or the client leaves.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::cancel::CancelSlot;
use super::inbound::{Flow, Inbound, Outputs};
use super::outbound::Outbound;
use super::tracker::{Origin, Request, Tracker};
use crate::config::PoolMode;
use crate::error::ClientError;
use crate::pool::{Checkout, write_preamble};
use crate::protocol::{TransactionStatus, ready_for_query};
use crate::tenant::TenantContext;

pub struct Relay<S> {
    client: S,
    /// Client bytes read and not yet translated (at most one partial frame between reads).
    client_buf: BytesMut,
    tenant: TenantContext,
    inbound: Inbound,
    cancel: CancelSlot,
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
    ) -> Self {
        let inbound = Inbound::new(tenant.policy.clone(), max_message);
        Relay {
            client,
            client_buf: leftover,
            tenant,
            inbound,
            cancel,
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
            let mut batch = BytesMut::new();
            let mut tracker = Tracker::default();
            if self
                .read_until_backend_needed(&mut batch, &mut tracker)
                .await?
                == Flow::Terminate
            {
                return Ok(());
            }
            let mut checkout = match self.tenant.pool.checkout().await {
                Ok(c) => c,
                Err(e) => {
                    self.fail_batch(&e, &mut tracker).await?;
                    continue;
                }
            };
            self.cancel.set(checkout.conn().cancel_key);
            let result = self.attached(&mut checkout, batch, tracker).await;
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

    /// Reads and translates client frames while no backend is held, answering refusals
    /// locally, until there is something for a backend.
    async fn read_until_backend_needed(
        &mut self,
        batch: &mut BytesMut,
        tracker: &mut Tracker,
    ) -> Result<Flow, ClientError> {
        let mut local = BytesMut::new();
        loop {
            let flow = self.inbound.translate(
                &mut self.client_buf,
                &mut Outputs {
                    backend: batch,
                    client: &mut local,
                    tracker,
                    attached: false,
                },
            )?;
            if !local.is_empty() {
                self.client
                    .write_all(&local)
                    .await
                    .map_err(|_| ClientError::ClientGone)?;
                local.clear();
            }
            if flow == Flow::Terminate {
                return Ok(Flow::Terminate);
            }
            if !batch.is_empty() {
                return Ok(Flow::Continue);
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

    /// Answers a batch that got no backend: an error, then ReadyForQuery for each Query or
    /// Sync in it, as Postgres answers a batch whose first message fails.
    async fn fail_batch(
        &mut self,
        error: &ClientError,
        tracker: &mut Tracker,
    ) -> Result<(), ClientError> {
        tracing::warn!(error = %error, "no backend connection for a client batch");
        let mut out = BytesMut::new();
        let readies = tracker.ready_expected();
        error.write(&mut out);
        for _ in 0..readies {
            ready_for_query(&mut out, TransactionStatus::Idle);
        }
        if !tracker.ends_with_sync() {
            self.inbound.fail_until_sync();
        }
        tracker.clear();
        self.client
            .write_all(&out)
            .await
            .map_err(|_| ClientError::ClientGone)
    }

    /// Relays both directions until the backend can be released or the client leaves.
    /// Returns how it ended and whether the connection is clean enough to reuse.
    async fn attached(
        &mut self,
        checkout: &mut Checkout,
        batch: BytesMut,
        mut tracker: Tracker,
    ) -> Result<(Detach, bool), ClientError> {
        let mode = self.tenant.pool.mode;
        let conn = checkout.conn();
        let mut first = BytesMut::with_capacity(batch.len() + 128);
        let setups = write_preamble(conn, &self.tenant.pool.context, &mut first);
        first.extend_from_slice(&batch);
        tracker.prepend(Request::Query, Origin::Setup, setups);

        let link = Link {
            tracker: Mutex::new(tracker),
            ..Link::default()
        };
        let (client_read, client_write) = tokio::io::split(&mut self.client);
        let (backend_read, backend_write) = conn.stream.split();
        let backend_buf = &mut conn.read_buf;
        let inbound = &mut self.inbound;
        let client_buf = &mut self.client_buf;

        // Client → backend. Whichever direction returns first drops the other, so each only
        // returns `Idle` when the other is not halfway through a write (see `Link`).
        let upstream = async {
            let (mut client_read, mut backend_write) = (client_read, backend_write);
            let mut out = first;
            let mut local = BytesMut::new();
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
                if client_read.read_buf(client_buf).await.unwrap_or(0) == 0 {
                    return Ok::<Detach, ClientError>(Detach::ClientGone);
                }
                let flow = inbound.translate(
                    client_buf,
                    &mut Outputs {
                        backend: &mut out,
                        client: &mut local,
                        tracker: &mut link.tracker(),
                        attached: true,
                    },
                )?;
                debug_assert!(local.is_empty(), "refusals go through the attached backend");
                if flow == Flow::Terminate {
                    return Ok(Detach::ClientGone);
                }
            }
        };

        // Backend → client.
        let downstream = async {
            let (mut backend_read, mut client_write) = (backend_read, client_write);
            let mut outbound = Outbound::default();
            let mut chunks: Vec<Bytes> = Vec::new();
            loop {
                if backend_read
                    .read_buf(backend_buf)
                    .await
                    .map_err(|_| ClientError::BackendLost)?
                    == 0
                {
                    return Err(ClientError::BackendLost);
                }
                outbound.drain(backend_buf, &mut link.tracker(), &mut chunks)?;
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
