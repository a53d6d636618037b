//! A tenant plan's `queries_per_second`, applied to the client messages a session relays.
//!
//! Statements are booked on the tenant's rate when they are whole in the client buffer, and
//! the session waits for their turn before it sends them (before it checks a backend
//! connection out, when it holds none).

use crate::pool::TenantPool;
use crate::protocol::Header;

/// The plan's `queries_per_second` for the messages waiting in the client buffer.
#[derive(Default)]
pub struct Throttle {
    /// Statements at the start of the buffer already booked (an attached stretch can end
    /// after they were booked and before they were sent).
    booked: u32,
    /// When the booked statements may run.
    run_at: Option<tokio::time::Instant>,
}

impl Throttle {
    /// Waits until the statements of the whole messages in `buf` may run.
    pub async fn admit(&mut self, pool: &TenantPool, buf: &[u8], max_message: usize) {
        if !pool.is_rate_limited() {
            return;
        }
        let statements = statements_in(buf, max_message);
        if statements > self.booked {
            let at = pool.book(statements - self.booked);
            self.run_at = self.run_at.max(at);
            self.booked = statements;
        }
        if let Some(at) = self.run_at {
            tokio::time::sleep_until(at).await;
        }
    }

    /// The booked messages were translated and left the buffer.
    pub fn consumed(&mut self) {
        self.booked = 0;
    }
}

/// How many statements (Query and Execute messages) the whole messages at the start of `buf`
/// run.
fn statements_in(buf: &[u8], max_message: usize) -> u32 {
    let (mut at, mut statements) = (0, 0);
    while let Ok(Some(header)) = Header::peek(&buf[at..], max_message)
        && buf.len() - at >= header.frame_len
    {
        statements += u32::from(matches!(header.tag, b'Q' | b'E'));
        at += header.frame_len;
    }
    statements
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use super::*;
    use crate::protocol::query_message;

    #[test]
    fn counts_whole_query_and_execute_messages() {
        let mut buf = BytesMut::new();
        query_message(&mut buf, "SELECT 1");
        // Bind, Execute, Sync.
        buf.extend_from_slice(b"B\0\0\0\x0c\0\0\0\0\0\0\0\0");
        buf.extend_from_slice(b"E\0\0\0\x09\0\0\0\0\0");
        buf.extend_from_slice(b"S\0\0\0\x04");
        assert_eq!(statements_in(&buf, 1 << 20), 2);
        // A message not whole yet is counted once it is.
        query_message(&mut buf, "SELECT 2");
        let whole = buf.len();
        assert_eq!(statements_in(&buf[..whole - 1], 1 << 20), 2);
        assert_eq!(statements_in(&buf, 1 << 20), 3);
    }
}
