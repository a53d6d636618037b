//! Backend login: startup packet, then trust, cleartext, MD5 or SCRAM-SHA-256.

use super::{BackendError, CancelKey, Connection, ServerStream, Target};
use bytes::BytesMut;
use fallible_iterator::FallibleIterator;
use postgres_protocol::authentication::sasl::{ChannelBinding, SCRAM_SHA_256, ScramSha256};
use postgres_protocol::message::{backend, frontend};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Startup options every backend connection gets. `standard_conforming_strings` must be on so
/// that Postgres tokenizes string literals the way the proxy's SQL checks do, and UTF8 so that
/// SQL text is the text the checks saw.
const PINNED_OPTIONS: &str = "-c standard_conforming_strings=on -c client_encoding=UTF8";

/// Opens and authenticates one connection; the caller applies a timeout.
pub async fn connect(target: &Target) -> Result<Connection, BackendError> {
    let mut stream = target.endpoint.connect().await?;
    let mut out = BytesMut::with_capacity(256);
    frontend::startup_message(
        [
            ("user", target.user.as_str()),
            ("database", target.database.as_str()),
            ("application_name", "tenantgate"),
            ("options", PINNED_OPTIONS),
        ],
        &mut out,
    )?;
    stream.write_all(&out).await?;

    let mut buf = BytesMut::with_capacity(8 * 1024);
    let mut scram: Option<ScramSha256> = None;
    let mut key = None;
    let mut params = Vec::new();
    loop {
        out.clear();
        match read_message(&mut stream, &mut buf).await? {
            backend::Message::AuthenticationOk => {}
            backend::Message::AuthenticationCleartextPassword => {
                frontend::password_message(target.password.expose().as_bytes(), &mut out)?;
            }
            backend::Message::AuthenticationMd5Password(body) => {
                let hash = postgres_protocol::authentication::md5_hash(
                    target.user.as_bytes(),
                    target.password.expose().as_bytes(),
                    body.salt(),
                );
                frontend::password_message(hash.as_bytes(), &mut out)?;
            }
            backend::Message::AuthenticationSasl(body) => {
                let mut mechanisms = body.mechanisms();
                let mut offered = false;
                while let Some(m) = mechanisms.next()? {
                    offered |= m == SCRAM_SHA_256;
                }
                if !offered {
                    return Err(BackendError::Protocol(
                        "the server offers no SCRAM-SHA-256".into(),
                    ));
                }
                let s = ScramSha256::new(
                    target.password.expose().as_bytes(),
                    ChannelBinding::unsupported(),
                );
                frontend::sasl_initial_response(SCRAM_SHA_256, s.message(), &mut out)?;
                scram = Some(s);
            }
            backend::Message::AuthenticationSaslContinue(body) => {
                let s = scram
                    .as_mut()
                    .ok_or_else(|| BackendError::Protocol("SASL continue without SASL".into()))?;
                s.update(body.data())?;
                frontend::sasl_response(s.message(), &mut out)?;
            }
            backend::Message::AuthenticationSaslFinal(body) => {
                let s = scram
                    .as_mut()
                    .ok_or_else(|| BackendError::Protocol("SASL final without SASL".into()))?;
                s.finish(body.data())?;
            }
            backend::Message::ParameterStatus(p) => {
                params.push((p.name()?.to_owned(), p.value()?.to_owned()));
            }
            backend::Message::BackendKeyData(k) => {
                key = Some(CancelKey {
                    endpoint: target.endpoint.clone(),
                    pid: k.process_id(),
                    secret: k.secret_key(),
                });
            }
            backend::Message::NoticeResponse(_) => {}
            backend::Message::ReadyForQuery(_) => break,
            backend::Message::ErrorResponse(body) => {
                let (code, message) = error_fields(&body)?;
                return Err(BackendError::Refused { code, message });
            }
            _ => {
                return Err(BackendError::Protocol(
                    "unexpected message during login".into(),
                ));
            }
        }
        if !out.is_empty() {
            stream.write_all(&out).await?;
        }
    }
    let cancel_key = key.ok_or_else(|| BackendError::Protocol("no BackendKeyData".into()))?;
    buf.clear();
    Ok(Connection {
        stream,
        read_buf: buf,
        cancel_key,
        params,
        context: None,
        needs_discard: false,
        unreported: Default::default(),
        prepared: Default::default(),
    })
}

async fn read_message(
    stream: &mut ServerStream,
    buf: &mut BytesMut,
) -> Result<backend::Message, BackendError> {
    loop {
        if let Some(m) = backend::Message::parse(buf)? {
            return Ok(m);
        }
        if stream.read_buf(buf).await? == 0 {
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
        }
    }
}

fn error_fields(body: &backend::ErrorResponseBody) -> Result<(String, String), BackendError> {
    let mut fields = body.fields();
    let (mut code, mut message) = (String::new(), String::new());
    while let Some(f) = fields.next()? {
        match f.type_() {
            b'C' => code = String::from_utf8_lossy(f.value_bytes()).into_owned(),
            b'M' => message = String::from_utf8_lossy(f.value_bytes()).into_owned(),
            _ => {}
        }
    }
    Ok((code, message))
}
