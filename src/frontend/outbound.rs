//! Backend → client: walks message headers and streams bodies through as bytes.
//!
//! Rows are never decoded. Only a message's tag (and ReadyForQuery's status byte) is read, to
//! ask the [`Tracker`] whether the message is the client's or an answer to the proxy's own
//! preamble, and to see when the backend is idle again.

use bytes::{Bytes, BytesMut};

use super::tracker::{Disposition, Tracker};
use crate::error::ClientError;
use crate::protocol::{Header, TransactionStatus, cstring};

/// The backend stream is trusted for lengths, but not without bound.
const BACKEND_FRAME_LIMIT: usize = i32::MAX as usize;

#[derive(Debug, Default)]
pub struct Outbound {
    /// Bytes of the current message still to come.
    frame_left: usize,
    forwarding: bool,
}

impl Outbound {
    /// Whether the stream stands between two messages.
    pub fn at_boundary(&self) -> bool {
        self.frame_left == 0
    }

    /// Moves everything decidable in `buf` to `out` (forwarded chunks, in order) or drops it.
    /// ParameterStatus messages are also reported in `changes`.
    pub fn drain(
        &mut self,
        buf: &mut BytesMut,
        tracker: &mut Tracker,
        out: &mut Vec<Bytes>,
        changes: &mut Vec<ParameterChange>,
    ) -> Result<(), ClientError> {
        let mut forward_len = 0; // a prefix of `buf` already decided to go to the client
        loop {
            let available = buf.len() - forward_len;
            if self.frame_left > 0 {
                let n = self.frame_left.min(available);
                if n == 0 {
                    break;
                }
                if self.forwarding {
                    forward_len += n;
                } else {
                    flush(buf, &mut forward_len, out);
                    let _ = buf.split_to(n);
                }
                self.frame_left -= n;
                continue;
            }
            let rest = &buf[forward_len..];
            let header = Header::peek(rest, BACKEND_FRAME_LIMIT)
                .map_err(|e| ClientError::Protocol(format!("from the server: {e}")))?;
            let Some(header) = header else { break };
            let status = if header.tag == b'Z' {
                let Some(&b) = rest.get(5) else { break };
                Some(TransactionStatus::from_byte(b).ok_or(ClientError::BackendLost)?)
            } else {
                None
            };
            // ParameterStatus is small and read whole, to follow the server's settings.
            let parameter = if header.tag == b'S' {
                if rest.len() < header.frame_len {
                    break;
                }
                parameter_status(&rest[5..header.frame_len])
            } else {
                None
            };
            // A CommandComplete is read whole while a transaction block's setting changes
            // wait for its COMMIT or ROLLBACK.
            if header.tag == b'C' && tracker.wants_command_tags() {
                if rest.len() < header.frame_len {
                    break;
                }
                let body = &rest[5..header.frame_len];
                tracker.command_complete(body.strip_suffix(b"\0").unwrap_or(body));
            }
            match tracker.on_message(header.tag, status) {
                Ok(Disposition::Forward) => self.forwarding = true,
                Ok(Disposition::Swallow) => self.forwarding = false,
                Ok(Disposition::PreambleFailed) => return Err(ClientError::ContextSetupFailed),
                Err(desync) => return Err(ClientError::Protocol(desync.to_string())),
            }
            if let Some((name, value)) = parameter {
                changes.push(ParameterChange {
                    name,
                    value,
                    seen_by_client: self.forwarding,
                });
            }
            self.frame_left = header.frame_len;
        }
        flush(buf, &mut forward_len, out);
        Ok(())
    }
}

/// A setting the server reported changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterChange {
    pub name: String,
    pub value: String,
    /// Whether the ParameterStatus went to the client (a change the client made).
    pub seen_by_client: bool,
}

fn parameter_status(body: &[u8]) -> Option<(String, String)> {
    let (name, rest) = cstring(body)?;
    let (value, _) = cstring(rest)?;
    Some((
        String::from_utf8_lossy(name).into_owned(),
        String::from_utf8_lossy(value).into_owned(),
    ))
}

fn flush(buf: &mut BytesMut, forward_len: &mut usize, out: &mut Vec<Bytes>) {
    if *forward_len > 0 {
        out.push(buf.split_to(*forward_len).freeze());
        *forward_len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frontend::tracker::{Origin, Request};

    fn frame(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        v.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn swallows_setup_answers_and_streams_the_rest_across_reads() {
        let mut tracker = Tracker::default();
        tracker.push(Request::Query, Origin::Setup);
        tracker.push(Request::Query, Origin::Client);
        let setup: Vec<u8> = [frame(b'C', b"SET\0"), frame(b'Z', b"I")].concat();
        let client: Vec<u8> = [
            frame(b'D', &[7u8; 100]),
            frame(b'C', b"SELECT 1\0"),
            frame(b'Z', b"I"),
        ]
        .concat();
        let all = [setup, client.clone()].concat();
        let mut ob = Outbound::default();
        let mut out = Vec::new();
        let mut buf = BytesMut::new();
        for piece in all.chunks(7) {
            buf.extend_from_slice(piece);
            ob.drain(&mut buf, &mut tracker, &mut out, &mut Vec::new())
                .unwrap();
        }
        assert!(buf.is_empty() && ob.at_boundary() && tracker.is_idle());
        assert_eq!(out.concat(), client);
        assert_eq!(tracker.status(), Some(TransactionStatus::Idle));
    }
}
