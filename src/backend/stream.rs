//! The socket to a server: TCP, or a Unix-domain socket when the cluster's `host` is a
//! directory (as libpq reads it). A proxy on the database machine should use the socket:
//! on loopback TCP the sender runs the receiver's whole TCP stack, and that is most of the
//! proxy's CPU time per transaction.

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream, tcp, unix};

/// Where a server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Tcp(String, u16),
    /// The socket file: `{directory}/.s.PGSQL.{port}`.
    Unix(Arc<Path>),
}

impl Endpoint {
    /// A `host` starting with `/` names the directory of the server's socket, as in libpq.
    pub fn new(host: &str, port: u16) -> Endpoint {
        if host.starts_with('/') {
            let file: PathBuf = Path::new(host).join(format!(".s.PGSQL.{port}"));
            Endpoint::Unix(file.into())
        } else {
            Endpoint::Tcp(host.to_owned(), port)
        }
    }

    pub async fn connect(&self) -> io::Result<ServerStream> {
        match self {
            Endpoint::Tcp(host, port) => {
                let s = TcpStream::connect((host.as_str(), *port)).await?;
                s.set_nodelay(true)?;
                Ok(ServerStream::Tcp(s))
            }
            Endpoint::Unix(path) => Ok(ServerStream::Unix(UnixStream::connect(path).await?)),
        }
    }
}

#[derive(Debug)]
pub enum ServerStream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// The read half of a borrowed [`ServerStream`].
pub enum ServerRead<'a> {
    Tcp(tcp::ReadHalf<'a>),
    Unix(unix::ReadHalf<'a>),
}

/// The write half of a borrowed [`ServerStream`].
pub enum ServerWrite<'a> {
    Tcp(tcp::WriteHalf<'a>),
    Unix(unix::WriteHalf<'a>),
}

impl ServerStream {
    /// Both directions at once, without a lock between them.
    pub fn split(&mut self) -> (ServerRead<'_>, ServerWrite<'_>) {
        match self {
            ServerStream::Tcp(s) => {
                let (r, w) = s.split();
                (ServerRead::Tcp(r), ServerWrite::Tcp(w))
            }
            ServerStream::Unix(s) => {
                let (r, w) = s.split();
                (ServerRead::Unix(r), ServerWrite::Unix(w))
            }
        }
    }

    /// Reads what is there without waiting (`WouldBlock` when nothing is).
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ServerStream::Tcp(s) => s.try_read(buf),
            ServerStream::Unix(s) => s.try_read(buf),
        }
    }
}

/// Forwards a poll to whichever socket type the value holds.
macro_rules! either {
    ($self:expr, $s:ident => $e:expr) => {
        match $self.get_mut() {
            Self::Tcp($s) => $e,
            Self::Unix($s) => $e,
        }
    };
}

impl AsyncRead for ServerStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        either!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for ServerStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        either!(self, s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        either!(self, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        either!(self, s => Pin::new(s).poll_shutdown(cx))
    }
}

impl AsyncRead for ServerRead<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        either!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for ServerWrite<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        either!(self, s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        either!(self, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        either!(self, s => Pin::new(s).poll_shutdown(cx))
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
