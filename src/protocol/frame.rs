//! Splitting a byte stream into `tag + i32 length + body` frames without copying.

use bytes::BytesMut;

/// The five-byte header every message after startup begins with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub tag: u8,
    /// Length of the whole frame, tag included.
    pub frame_len: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("invalid message length {0}")]
    BadLength(i32),
    #[error("message of {size} bytes is over the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
}

impl Header {
    /// Reads the header at the start of `buf`; `Ok(None)` if fewer than five bytes are there.
    pub fn peek(buf: &[u8], limit: usize) -> Result<Option<Header>, FrameError> {
        if buf.len() < 5 {
            return Ok(None);
        }
        let len = i32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]);
        if len < 4 {
            return Err(FrameError::BadLength(len));
        }
        let frame_len = len as usize + 1;
        if frame_len > limit {
            return Err(FrameError::TooLarge {
                size: frame_len,
                limit,
            });
        }
        Ok(Some(Header {
            tag: buf[0],
            frame_len,
        }))
    }
}

/// One complete frame, tag and header included.
#[derive(Debug)]
pub struct Frame {
    pub tag: u8,
    pub bytes: BytesMut,
}

impl Frame {
    pub fn body(&self) -> &[u8] {
        &self.bytes[5..]
    }
}

/// Splits one complete frame off the front of `buf`; `Ok(None)` if it is not all there yet.
pub fn split_frame(buf: &mut BytesMut, limit: usize) -> Result<Option<Frame>, FrameError> {
    let Some(h) = Header::peek(buf, limit)? else {
        return Ok(None);
    };
    if buf.len() < h.frame_len {
        buf.reserve(h.frame_len - buf.len());
        return Ok(None);
    }
    Ok(Some(Frame {
        tag: h.tag,
        bytes: buf.split_to(h.frame_len),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_complete_frames_and_waits_for_partial_ones() {
        let mut buf = BytesMut::from(&b"Q\0\0\0\x0bSELECT\0S\0\0"[..]);
        let f = split_frame(&mut buf, 1024).unwrap().unwrap();
        assert_eq!(f.tag, b'Q');
        assert_eq!(f.body(), b"SELECT\0");
        assert!(split_frame(&mut buf, 1024).unwrap().is_none());
        buf.extend_from_slice(b"\0\x04");
        assert_eq!(split_frame(&mut buf, 1024).unwrap().unwrap().tag, b'S');
        assert!(buf.is_empty());
    }

    #[test]
    fn refuses_bogus_and_oversized_lengths_before_allocating() {
        let mut buf = BytesMut::from(&b"Q\0\0\0\x02"[..]);
        assert_eq!(
            split_frame(&mut buf, 1024).unwrap_err(),
            FrameError::BadLength(2)
        );
        let mut buf = BytesMut::from(&b"Q\x7f\xff\xff\xff"[..]);
        assert!(matches!(
            split_frame(&mut buf, 1024),
            Err(FrameError::TooLarge { .. })
        ));
        assert!(buf.capacity() < 1024);
    }
}
