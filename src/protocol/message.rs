//! Builders and readers for the handful of messages tenantgate looks into or writes itself.

use bytes::{BufMut, BytesMut};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Fatal,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "ERROR",
            Severity::Fatal => "FATAL",
        }
    }
}

/// The status byte of ReadyForQuery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionStatus {
    Idle,
    InTransaction,
    Failed,
}

impl TransactionStatus {
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            b'I' => Some(TransactionStatus::Idle),
            b'T' => Some(TransactionStatus::InTransaction),
            b'E' => Some(TransactionStatus::Failed),
            _ => None,
        }
    }

    fn byte(self) -> u8 {
        match self {
            TransactionStatus::Idle => b'I',
            TransactionStatus::InTransaction => b'T',
            TransactionStatus::Failed => b'E',
        }
    }
}

/// Appends a message whose body is built by `body`, patching in its length.
pub fn message(buf: &mut BytesMut, tag: u8, body: impl FnOnce(&mut BytesMut)) {
    buf.put_u8(tag);
    let at = buf.len();
    buf.put_i32(0);
    body(buf);
    let len = (buf.len() - at) as i32;
    buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
}

fn put_cstr(buf: &mut BytesMut, s: &str) {
    // A NUL inside would end the string early on the wire; drop it instead.
    for part in s.split('\0') {
        buf.extend_from_slice(part.as_bytes());
    }
    buf.put_u8(0);
}

pub fn error_response(buf: &mut BytesMut, severity: Severity, code: &str, text: &str) {
    message(buf, b'E', |b| {
        for (field, value) in [
            (b'S', severity.as_str()),
            (b'V', severity.as_str()),
            (b'C', code),
            (b'M', text),
        ] {
            b.put_u8(field);
            put_cstr(b, value);
        }
        b.put_u8(0);
    });
}

pub fn ready_for_query(buf: &mut BytesMut, status: TransactionStatus) {
    message(buf, b'Z', |b| b.put_u8(status.byte()));
}

pub fn parameter_status(buf: &mut BytesMut, name: &str, value: &str) {
    message(buf, b'S', |b| {
        put_cstr(b, name);
        put_cstr(b, value);
    });
}

pub fn query_message(buf: &mut BytesMut, sql: &str) {
    message(buf, b'Q', |b| put_cstr(b, sql));
}

/// The bytes up to the first NUL, and the rest after it.
pub fn cstring(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = bytes.iter().position(|&b| b == 0)?;
    Some((&bytes[..end], &bytes[end + 1..]))
}

/// The SQL text of a Query message body.
pub fn query_text(body: &[u8]) -> Option<&[u8]> {
    let (sql, rest) = cstring(body)?;
    rest.is_empty().then_some(sql)
}

/// Statement name, SQL text and the parameter-type tail of a Parse message body.
pub fn parse_message_parts(body: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let (name, rest) = cstring(body)?;
    let (sql, tail) = cstring(rest)?;
    Some((name, sql, tail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_response_has_length_and_fields() {
        let mut buf = BytesMut::new();
        error_response(&mut buf, Severity::Error, "42501", "no");
        assert_eq!(buf[0], b'E');
        let len = i32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
        assert_eq!(len + 1, buf.len());
        assert_eq!(&buf[5..], b"SERROR\0VERROR\0C42501\0Mno\0\0");
        let mut buf = BytesMut::new();
        query_message(&mut buf, "SELECT\0 1");
        assert_eq!(&buf[5..], b"SELECT 1\0", "an inner NUL is dropped");
    }

    #[test]
    fn reads_parse_parts() {
        let body = b"s1\0SELECT $1\0\0\x01\0\0\0\x17";
        let (name, sql, tail) = parse_message_parts(body).unwrap();
        assert_eq!(
            (name, sql, tail),
            (&b"s1"[..], &b"SELECT $1"[..], &b"\0\x01\0\0\0\x17"[..])
        );
        assert_eq!(query_text(b"SELECT 1\0"), Some(&b"SELECT 1"[..]));
        assert_eq!(query_text(b"SELECT 1"), None);
    }
}
