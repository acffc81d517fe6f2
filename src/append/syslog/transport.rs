//! Syslog transports: UDP (one datagram per message), TCP with RFC 6587 octet counting, TLS
//! (RFC 5425: octet counting inside TLS, rustls), and Unix sockets (datagram, as `/dev/log`
//! is; a stream socket gets octet counting).

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Where messages go: `udp://host:port`, `tcp://host:port`, `tls://host:port`,
/// `unix:///dev/log`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    /// Best effort: a datagram lost on the way is not noticed.
    Udp {
        /// Host name or IP address.
        host: String,
        /// Port.
        port: u16,
    },
    /// Octet-counted stream.
    Tcp {
        /// Host name or IP address.
        host: String,
        /// Port.
        port: u16,
    },
    /// Octet-counted stream inside TLS.
    Tls {
        /// Host name or IP address.
        host: String,
        /// Port.
        port: u16,
    },
    /// A local socket (datagram or stream).
    Unix {
        /// The socket's path.
        path: PathBuf,
    },
}

impl Address {
    /// Parses and checks an address (no name lookup).
    pub fn parse(text: &str) -> anyhow::Result<Address> {
        let bad = |why: &str| anyhow::anyhow!("address: `{text}`: {why}");
        let Some((scheme, rest)) = text.trim().split_once("://") else {
            return Err(bad(
                "expected udp://HOST:PORT, tcp://HOST:PORT, tls://HOST:PORT or unix:///PATH",
            ));
        };
        if scheme == "unix" {
            if rest.is_empty() {
                return Err(bad("no socket path"));
            }
            return Ok(Address::Unix {
                path: crate::config::expand_env(rest).into(),
            });
        }
        let Some((host, port)) = rest.rsplit_once(':') else {
            return Err(bad("no port (e.g. :514, or :6514 for TLS)"));
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        if host.is_empty() || host.contains('/') {
            return Err(bad("no host"));
        }
        let port: u16 = port
            .trim_end_matches('/')
            .parse()
            .map_err(|_| bad("the port is not a number from 1 to 65535"))?;
        if port == 0 {
            return Err(bad("port 0"));
        }
        match scheme {
            "udp" => Ok(Address::Udp { host, port }),
            "tcp" => Ok(Address::Tcp { host, port }),
            "tls" => Ok(Address::Tls { host, port }),
            _ => Err(bad("the scheme is not udp, tcp, tls or unix")),
        }
    }

    /// Whether delivery is confirmed by a live stream (TCP, TLS, Unix stream) or best effort.
    pub fn is_datagram(&self) -> bool {
        matches!(self, Address::Udp { .. })
    }
}

/// An open connection.
pub enum Connection {
    Udp(UdpSocket),
    Tcp(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
    UnixDgram(UnixDatagram),
    UnixStream(UnixStream),
}

impl Drop for Connection {
    /// TLS ends with a close_notify, so the server sees the session end cleanly instead of a
    /// truncation (rsyslog logs "unexpected eof" as an error otherwise). Best effort and
    /// bounded: the peer may already be gone.
    fn drop(&mut self) {
        if let Connection::Tls(s) = self {
            let _ = s.sock.set_write_timeout(Some(Duration::from_secs(1)));
            s.conn.send_close_notify();
            while s.conn.wants_write() {
                match s.conn.write_tls(&mut s.sock) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        }
    }
}

fn tcp_connect(host: &str, port: u16, timeout: Duration) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{host}: no address"));
    for addr in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                s.set_nodelay(true)?;
                s.set_write_timeout(Some(Duration::from_secs(30)))?;
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

impl Connection {
    /// Connects (for TLS: and completes the handshake).
    pub fn open(
        address: &Address,
        tls: Option<&Arc<rustls::ClientConfig>>,
        timeout: Duration,
    ) -> io::Result<Connection> {
        match address {
            Address::Udp { host, port } => {
                let target = (host.as_str(), *port)
                    .to_socket_addrs()?
                    .next()
                    .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))?;
                let local = if target.is_ipv4() {
                    "0.0.0.0:0"
                } else {
                    "[::]:0"
                };
                let s = UdpSocket::bind(local)?;
                s.connect(target)?;
                Ok(Connection::Udp(s))
            }
            Address::Tcp { host, port } => Ok(Connection::Tcp(tcp_connect(host, *port, timeout)?)),
            Address::Tls { host, port } => {
                let config = tls.ok_or_else(|| io::Error::other("no TLS config"))?;
                let name = rustls::pki_types::ServerName::try_from(host.clone())
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
                let mut conn = rustls::ClientConnection::new(Arc::clone(config), name)
                    .map_err(io::Error::other)?;
                let mut tcp = tcp_connect(host, *port, timeout)?;
                tcp.set_read_timeout(Some(timeout))?;
                while conn.is_handshaking() {
                    conn.complete_io(&mut tcp)?;
                }
                tcp.set_read_timeout(None)?;
                Ok(Connection::Tls(Box::new(rustls::StreamOwned::new(
                    conn, tcp,
                ))))
            }
            Address::Unix { path } => {
                let s = UnixDatagram::unbound()?;
                match s.connect(path) {
                    Ok(()) => Ok(Connection::UnixDgram(s)),
                    // EPROTOTYPE: the socket is a stream socket.
                    Err(e) if e.raw_os_error() == Some(libc::EPROTOTYPE) => {
                        Ok(Connection::UnixStream(UnixStream::connect(path)?))
                    }
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// Whether this connection frames messages (streams) rather than sending datagrams.
    pub fn is_stream(&self) -> bool {
        matches!(
            self,
            Connection::Tcp(_) | Connection::Tls(_) | Connection::UnixStream(_)
        )
    }

    /// Sends one message as a datagram (datagram connections only).
    pub fn send_datagram(&mut self, message: &[u8]) -> io::Result<()> {
        match self {
            Connection::Udp(s) => s.send(message).map(drop),
            Connection::UnixDgram(s) => s.send(message).map(drop),
            _ => Err(io::Error::other("not a datagram socket")),
        }
    }

    /// Writes framed bytes and flushes (stream connections only).
    pub fn write_stream(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Connection::Tcp(s) => s.write_all(bytes).and_then(|()| s.flush()),
            Connection::Tls(s) => s.write_all(bytes).and_then(|()| s.flush()),
            Connection::UnixStream(s) => s.write_all(bytes).and_then(|()| s.flush()),
            _ => Err(io::Error::other("not a stream socket")),
        }
    }

    /// Whether the peer has not closed or reset the stream: a syslog server never writes, so
    /// a readable end of stream or an error means it is gone (what was written since may not
    /// have been read). Datagram sockets are always "alive".
    pub fn alive(&mut self) -> bool {
        fn probe<S: Read>(s: &mut S, set_nb: impl Fn(bool) -> io::Result<()>) -> bool {
            if set_nb(true).is_err() {
                return false;
            }
            let mut buf = [0u8; 4096];
            let alive = loop {
                match s.read(&mut buf) {
                    Ok(0) => break false,
                    Ok(_) => continue,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break true,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => break false,
                }
            };
            set_nb(false).is_ok() && alive
        }
        match self {
            Connection::Udp(_) | Connection::UnixDgram(_) => true,
            Connection::Tcp(s) => {
                let clone = match s.try_clone() {
                    Ok(c) => c,
                    Err(_) => return false,
                };
                probe(s, |nb| clone.set_nonblocking(nb))
            }
            Connection::UnixStream(s) => {
                let clone = match s.try_clone() {
                    Ok(c) => c,
                    Err(_) => return false,
                };
                probe(s, |nb| clone.set_nonblocking(nb))
            }
            Connection::Tls(s) => {
                let clone = match s.sock.try_clone() {
                    Ok(c) => c,
                    Err(_) => return false,
                };
                probe(s.as_mut(), |nb| clone.set_nonblocking(nb))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            Address::parse("tcp://127.0.0.1:514").unwrap(),
            Address::Tcp {
                host: "127.0.0.1".into(),
                port: 514
            }
        );
        assert_eq!(
            Address::parse("tls://[::1]:6514").unwrap(),
            Address::Tls {
                host: "::1".into(),
                port: 6514
            }
        );
        assert_eq!(
            Address::parse("unix:///dev/log").unwrap(),
            Address::Unix {
                path: "/dev/log".into()
            }
        );
        for bad in [
            "127.0.0.1:514",
            "tcp://127.0.0.1",
            "udp://:514",
            "http://h:1",
            "tcp://h:0",
            "tcp://h:x",
        ] {
            assert!(Address::parse(bad).is_err(), "{bad}");
        }
    }
}
