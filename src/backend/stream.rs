//! The socket to a server: TCP, or a Unix-domain socket when the cluster's `host` is a
//! directory (as libpq reads it). A proxy on the database machine should use the socket:
//! on loopback TCP the sender runs the receiver's whole TCP stack, and that is most of the
//! proxy's CPU time per transaction.

use std::io;
use std::path::Path;
use std::sync::Arc;

use tokio::net::{TcpStream, UnixStream, tcp, unix};
use tokio_util::either::Either;

/// Where a server listens. Cheap to clone: every checkout hands one to the cancel slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Tcp(Arc<str>, u16),
    /// The socket file: `{directory}/.s.PGSQL.{port}`.
    Unix(Arc<Path>),
}

/// A connected server socket; reads and writes go to whichever kind it is.
pub type ServerStream = Either<TcpStream, UnixStream>;

impl Endpoint {
    /// A `host` starting with `/` names the directory of the server's socket, as in libpq.
    pub fn new(host: &str, port: u16) -> Endpoint {
        if host.starts_with('/') {
            Endpoint::Unix(Path::new(host).join(format!(".s.PGSQL.{port}")).into())
        } else {
            Endpoint::Tcp(host.into(), port)
        }
    }

    pub async fn connect(&self) -> io::Result<ServerStream> {
        match self {
            Endpoint::Tcp(host, port) => {
                let s = TcpStream::connect((&**host, *port)).await?;
                s.set_nodelay(true)?;
                Ok(Either::Left(s))
            }
            Endpoint::Unix(path) => Ok(Either::Right(UnixStream::connect(path).await?)),
        }
    }
}

/// Both directions of `stream` at once, without a lock between them.
pub fn split(
    stream: &mut ServerStream,
) -> (
    Either<tcp::ReadHalf<'_>, unix::ReadHalf<'_>>,
    Either<tcp::WriteHalf<'_>, unix::WriteHalf<'_>>,
) {
    match stream {
        Either::Left(s) => {
            let (r, w) = s.split();
            (Either::Left(r), Either::Left(w))
        }
        Either::Right(s) => {
            let (r, w) = s.split();
            (Either::Right(r), Either::Right(w))
        }
    }
}

/// Reads what is there without waiting (`WouldBlock` when nothing is).
pub fn try_read(stream: &ServerStream, buf: &mut [u8]) -> io::Result<usize> {
    match stream {
        Either::Left(s) => s.try_read(buf),
        Either::Right(s) => s.try_read(buf),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_host_names_the_socket_file() {
        assert_eq!(
            Endpoint::new("/run/postgresql", 5433),
            Endpoint::Unix(Path::new("/run/postgresql/.s.PGSQL.5433").into())
        );
        assert_eq!(
            Endpoint::new("127.0.0.1", 5433),
            Endpoint::Tcp("127.0.0.1".into(), 5433)
        );
    }
}
