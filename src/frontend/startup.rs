//! Startup: SSL negotiation, the startup packet, authentication (pgwire), and tenant
//! resolution, ending either in a logged-in session or a cancel request.

use std::collections::HashMap;
use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use futures::{SinkExt, StreamExt};
use pgwire::api::auth::driver::AuthOutcome;
use pgwire::api::auth::{AuthDriver, ServerParameterProvider};
use pgwire::api::{ClientInfo, DefaultClient, PgWireConnectionState};
use pgwire::error::PgWireError;
use pgwire::messages::startup::Startup;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use pgwire::tokio::server::PgWireMessageServerCodec;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::codec::{Framed, FramedParts};

use super::settings::{ClientSettings, NOT_SETTINGS, option_pairs, within_plan};
use crate::error::ClientError;
use crate::isolation::{is_pinned_search_path, is_pinned_value, is_protected_setting};
use crate::pool::ClientSlot;
use crate::shared::Shared;
use crate::tenant::{LoginRequest, TenantContext};

const SSL_REQUEST: u32 = 80877103;
const GSSENC_REQUEST: u32 = 80877104;

/// What a new connection turned out to be.
pub enum Opening<S> {
    Session(Login<S>),
    Cancel { pid: i32, secret: Bytes },
}

/// An authenticated client, resolved to its tenant.
pub struct Login<S> {
    pub stream: S,
    /// Bytes the client sent after its password, already read.
    pub leftover: BytesMut,
    pub user: String,
    pub tenant: TenantContext,
    pub pid: i32,
    pub secret: Bytes,
    pub slot: ClientSlot,
    /// The settings the client started with, to keep on every server connection it gets.
    pub settings: ClientSettings,
}

type ClientFramed<S> = Framed<S, PgWireMessageServerCodec<()>>;

/// Runs startup to completion. On failure the client has been sent a FATAL error.
pub async fn handshake<S>(
    mut stream: S,
    peer: SocketAddr,
    shared: &Shared,
) -> Result<Opening<S>, ClientError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + Sync + 'static,
{
    let buf = negotiate_ssl(&mut stream).await?;
    let mut parts = FramedParts::new(
        stream,
        PgWireMessageServerCodec::new(DefaultClient::new(peer, false)),
    );
    parts.read_buf = buf;
    let mut framed: ClientFramed<S> = Framed::from_parts(parts);
    framed.set_state(PgWireConnectionState::AwaitingStartup);
    match login(&mut framed, shared).await {
        Ok(Some(opening)) => Ok(finish(framed, opening)),
        Ok(None) => Err(ClientError::ClientGone),
        Err(e) => {
            let mut out = BytesMut::new();
            e.write(&mut out);
            let _ = framed.get_mut().write_all(&out).await;
            Err(e)
        }
    }
}

/// Answers SSLRequest and GSSENCRequest with 'N' (no TLS yet) and returns the bytes read
/// past them.
async fn negotiate_ssl<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
) -> Result<BytesMut, ClientError> {
    let mut buf = BytesMut::with_capacity(512);
    for _ in 0..3 {
        while buf.len() < 8 {
            if stream
                .read_buf(&mut buf)
                .await
                .map_err(|_| ClientError::ClientGone)?
                == 0
            {
                return Err(ClientError::ClientGone);
            }
        }
        if buf[0] == 0x16 {
            return Err(ClientError::UnsupportedStartup(
                "direct TLS connections are not supported yet".into(),
            ));
        }
        let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
        let code = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
        if len != 8 || (code != SSL_REQUEST && code != GSSENC_REQUEST) {
            return Ok(buf);
        }
        let _ = buf.split_to(8);
        stream
            .write_all(b"N")
            .await
            .map_err(|_| ClientError::ClientGone)?;
    }
    Err(ClientError::Protocol("too many encryption requests".into()))
}

/// Startup packet and authentication; `None` if the client hung up.
async fn login<S>(
    framed: &mut ClientFramed<S>,
    shared: &Shared,
) -> Result<Option<Partial>, ClientError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + Sync + 'static,
{
    let auth = AuthDriver::<NoParameters>::new(NoParameters);
    let mut outcome = match next(framed).await? {
        None => return Ok(None),
        Some(PgWireFrontendMessage::CancelRequest(c)) => {
            return Ok(Some(Partial::Cancel {
                pid: c.pid,
                secret: c.secret_key.to_bytes(),
            }));
        }
        Some(PgWireFrontendMessage::Startup(startup)) => {
            pgwire::api::auth::protocol_negotiation(framed, &startup)
                .await
                .map_err(|e| auth_error(e, ""))?;
            check_startup_parameters(&startup)?;
            pgwire::api::auth::save_startup_parameters_to_metadata(framed, &startup);
            let user = framed.metadata().get("user").cloned().unwrap_or_default();
            auth.begin_authentication(framed, shared.mechanisms.create())
                .await
                .map_err(|e| auth_error(e, &user))?
        }
        Some(_) => return Err(ClientError::Protocol("expected a startup message".into())),
    };
    let user = framed.metadata().get("user").cloned().unwrap_or_default();
    let final_message = loop {
        match outcome {
            AuthOutcome::Authenticated { final_message, .. } => break final_message,
            AuthOutcome::InProgress => {}
        }
        outcome = match next(framed).await? {
            None => return Ok(None),
            Some(PgWireFrontendMessage::PasswordMessageFamily(m)) => auth
                .advance_authentication(framed, m)
                .await
                .map_err(|e| auth_error(e, &user))?,
            Some(_) => return Err(ClientError::Protocol("expected a password message".into())),
        };
    };
    let database = framed.metadata().get("database").cloned();
    let tenant = shared.directory.resolve(LoginRequest {
        sni: None,
        user: &user,
        database: database.as_deref(),
    })?;
    startup_settings(framed.metadata(), &tenant)?;
    let slot = tenant.pool.admit_client(tenant.id.as_str())?;
    let params = tenant
        .pool
        .db
        .server_params(shared.config.proxy.query_wait_timeout)
        .await?;
    let settings = ClientSettings::from_startup(framed.metadata())
        .with_server_defaults(params)
        .with_plan_timeout(tenant.pool.statement_timeout)
        .logged_in();
    if let Some(value) = settings.unreported("statement_timeout") {
        within_plan("statement_timeout", value, tenant.pool.statement_timeout)
            .map_err(|v| ClientError::ForbiddenStartupParameter(v.detail))?;
    }
    let reported = Reported::new(params, &settings, &user);
    let driver =
        AuthDriver::<Reported>::new(reported).with_pid_secret_key_generator(shared.keys.clone());
    // The SCRAM server-final message goes out in one write with AuthenticationOk and the
    // rest of the login, not in one of its own.
    if let Some(message) = final_message {
        framed
            .feed(PgWireBackendMessage::Authentication(message))
            .await
            .map_err(|_| ClientError::ClientGone)?;
    }
    driver
        .complete_authentication(framed, None)
        .await
        .map_err(|e| auth_error(e, &user))?;
    Ok(Some(Partial::Session {
        user,
        tenant,
        slot,
        settings,
    }))
}

/// A finished login before the stream is taken back from pgwire.
enum Partial {
    Session {
        user: String,
        tenant: TenantContext,
        slot: ClientSlot,
        settings: ClientSettings,
    },
    Cancel {
        pid: i32,
        secret: Bytes,
    },
}

fn finish<S>(framed: ClientFramed<S>, partial: Partial) -> Opening<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + Sync + 'static,
{
    match partial {
        Partial::Cancel { pid, secret } => Opening::Cancel { pid, secret },
        Partial::Session {
            user,
            tenant,
            slot,
            settings,
        } => {
            let (pid, secret) = framed.pid_and_secret_key();
            let parts = framed.into_parts();
            Opening::Session(Login {
                stream: parts.io,
                leftover: parts.read_buf,
                user,
                tenant,
                pid,
                secret: secret.to_bytes(),
                slot,
                settings,
            })
        }
    }
}

async fn next<S>(framed: &mut ClientFramed<S>) -> Result<Option<PgWireFrontendMessage>, ClientError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + Sync + 'static,
{
    match framed.next().await {
        None => Ok(None),
        Some(Ok(m)) => Ok(Some(m)),
        Some(Err(PgWireError::IoError(_))) => Ok(None),
        Some(Err(e)) => Err(ClientError::Protocol(e.to_string())),
    }
}

fn auth_error(e: PgWireError, user: &str) -> ClientError {
    match e {
        // pgwire names the user from the SCRAM message, which libpq leaves empty.
        PgWireError::InvalidPassword(_) => ClientError::BadPassword(user.to_owned()),
        PgWireError::UnsupportedProtocolVersion(major, minor) => ClientError::UnsupportedStartup(
            format!("unsupported frontend protocol {major}.{minor}"),
        ),
        PgWireError::IoError(_) => ClientError::ClientGone,
        other => ClientError::Protocol(other.to_string()),
    }
}

/// Settings given at startup, as parameters or in `options`, that confine the session
/// (`search_path`, `role`, `tenantgate.*`, …) are refused unless they hold what the proxy pins
/// anyway (the tenant's own `search_path`, as Prisma sends its URL's schema;
/// `standard_conforming_strings=on`): the proxy follows startup settings on every server
/// connection, after the tenant's context, so any other value would undo it.
fn startup_settings(
    startup: &HashMap<String, String>,
    tenant: &TenantContext,
) -> Result<(), ClientError> {
    let options = startup.get("options").map(|o| option_pairs(o));
    let parameters = startup
        .iter()
        .filter(|(k, _)| !NOT_SETTINGS.contains(&k.as_str()))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()));
    for (name, value) in parameters.chain(options.into_iter().flatten()) {
        let allowed = match name.as_str() {
            _ if !is_protected_setting(&name) => true,
            "search_path" => tenant
                .pool
                .context
                .search_path()
                .is_some_and(|pinned| is_pinned_search_path(&value, pinned)),
            _ => is_pinned_value(&name, &value),
        };
        if !allowed {
            return Err(ClientError::ForbiddenStartupParameter(name));
        }
    }
    Ok(())
}

/// Refuses, before authentication, startup parameters tenantgate cannot serve: replication
/// connections and client encodings other than UTF8. (Settings are checked once the tenant is
/// known, by [`startup_settings`].)
fn check_startup_parameters(startup: &Startup) -> Result<(), ClientError> {
    let params = &startup.parameters;
    if params
        .get("replication")
        .is_some_and(|v| !matches!(v.as_str(), "false" | "off" | "0" | "no"))
    {
        return Err(ClientError::UnsupportedStartup(
            "replication connections are not supported".into(),
        ));
    }
    if let Some(encoding) = params.get("client_encoding") {
        let normalized: String = encoding
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_uppercase();
        if !matches!(normalized.as_str(), "UTF8" | "UNICODE" | "SQLASCII") {
            return Err(ClientError::UnsupportedStartup(format!(
                "client_encoding {encoding} is not supported; tenantgate speaks UTF8"
            )));
        }
    }
    Ok(())
}

/// No parameters: the real ones are known only once the tenant is resolved.
struct NoParameters;

impl ServerParameterProvider for NoParameters {
    fn server_parameters<C: ClientInfo>(&self, _client: &C) -> Option<HashMap<String, String>> {
        None
    }
}

/// The ParameterStatus set a client sees: the real server's, made to describe this client.
struct Reported(HashMap<String, String>);

impl Reported {
    fn new(server: &[(String, String)], settings: &ClientSettings, user: &str) -> Reported {
        let mut p: HashMap<String, String> = server.iter().cloned().collect();
        for (name, value) in settings.iter() {
            p.insert(name.to_owned(), value.to_owned());
        }
        p.insert("client_encoding".into(), "UTF8".into());
        p.insert("is_superuser".into(), "off".into());
        p.insert("session_authorization".into(), user.to_owned());
        Reported(p)
    }
}

impl ServerParameterProvider for Reported {
    fn server_parameters<C: ClientInfo>(&self, _client: &C) -> Option<HashMap<String, String>> {
        Some(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_settings_from_options() {
        let names = |o: &str| -> Vec<String> { option_pairs(o).into_iter().map(|p| p.0).collect() };
        assert_eq!(names("-c search_path=x"), vec!["search_path"]);
        assert_eq!(
            option_pairs("-csearch_path=x --statement-timeout=5"),
            vec![
                ("search_path".to_owned(), "x".to_owned()),
                ("statement_timeout".to_owned(), "5".to_owned())
            ]
        );
        assert_eq!(names("-c  Role=admin -c geqo=off"), vec!["role", "geqo"]);
    }
}
