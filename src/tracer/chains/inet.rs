//! TCP and UDP sockets of one network namespace, from `/proc/PID/net/{tcp,tcp6,udp,udp6}` read
//! through a process of that namespace: a socket's addresses by inode, and the socket at the
//! other end of a connection on this host (or the listener that has not accepted it yet).

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Most bytes read of one table (about 100 000 sockets).
const MAX_TABLE: u64 = 16 << 20;
/// TCP's `LISTEN` state in the tables.
const LISTEN: u8 = 0x0a;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Proto {
    Tcp,
    Udp,
}

/// One row of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct InetSock {
    pub proto: Proto,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub state: u8,
    pub ino: u64,
}

impl InetSock {
    /// Connected to somebody (a remote address set).
    fn connected(&self) -> bool {
        !self.remote.ip().is_unspecified() && self.remote.port() != 0
    }
}

/// The four tables of a namespace.
#[derive(Debug, Default)]
pub(super) struct Tables {
    socks: Vec<InetSock>,
    /// A table was longer than the bound (its tail is missing).
    pub cut: bool,
}

impl Tables {
    /// The tables of `pid`'s network namespace.
    pub(super) fn read(pid: u32) -> Tables {
        let mut t = Tables::default();
        for (file, proto) in [
            ("tcp", Proto::Tcp),
            ("tcp6", Proto::Tcp),
            ("udp", Proto::Udp),
            ("udp6", Proto::Udp),
        ] {
            let Ok(f) = std::fs::File::open(format!("/proc/{pid}/net/{file}")) else {
                continue;
            };
            let mut raw = Vec::new();
            if f.take(MAX_TABLE + 1).read_to_end(&mut raw).is_err() {
                continue;
            }
            if raw.len() as u64 > MAX_TABLE {
                t.cut = true;
                raw.truncate(MAX_TABLE as usize);
            }
            t.parse(&raw, proto);
        }
        t
    }

    pub(super) fn parse(&mut self, raw: &[u8], proto: Proto) {
        self.socks.extend(
            raw.split(|&b| b == b'\n')
                .skip(1)
                .filter_map(|l| parse_line(l, proto)),
        );
    }

    /// The socket of inode `ino`.
    pub(super) fn by_inode(&self, ino: u64) -> Option<&InetSock> {
        (ino != 0)
            .then(|| self.socks.iter().find(|s| s.ino == ino))
            .flatten()
    }

    /// The other end of `me`'s connection when it is on this host: the socket whose local
    /// address is `me`'s remote and whose remote is `me`'s local (any remote for an
    /// unconnected UDP socket).
    pub(super) fn peer(&self, me: &InetSock) -> Option<&InetSock> {
        if !me.connected() {
            return None;
        }
        let exact = self.socks.iter().find(|s| {
            s.proto == me.proto && s.ino != me.ino && s.local == me.remote && s.remote == me.local
        });
        exact.or_else(|| match me.proto {
            Proto::Udp => self.socks.iter().find(|s| {
                s.proto == Proto::Udp
                    && !s.connected()
                    && s.local.port() == me.remote.port()
                    && (s.local.ip() == me.remote.ip() || s.local.ip().is_unspecified())
            }),
            Proto::Tcp => None,
        })
    }

    /// The TCP listener on `addr` (its address, or any address on its port).
    pub(super) fn listener(&self, addr: SocketAddr) -> Option<&InetSock> {
        self.socks.iter().find(|s| {
            s.proto == Proto::Tcp
                && s.state == LISTEN
                && s.local.port() == addr.port()
                && (s.local.ip() == addr.ip() || s.local.ip().is_unspecified())
        })
    }

    /// Whether `ip` is an address of this host (loopback, or one a socket here is bound to).
    pub(super) fn is_local(&self, ip: IpAddr) -> bool {
        ip.is_loopback() || self.socks.iter().any(|s| s.local.ip() == ip)
    }
}

/// Whether `s` is a listening TCP socket.
pub(super) fn is_listener(s: &InetSock) -> bool {
    s.proto == Proto::Tcp && s.state == LISTEN
}

/// `  0: 0100007F:1F90 0100007F:A0C2 01 00000000:00000000 00:00000000 00000000  1000 0 81234 ...`
fn parse_line(line: &[u8], proto: Proto) -> Option<InetSock> {
    let line = std::str::from_utf8(line).ok()?;
    let mut f = line.split_ascii_whitespace();
    f.next()?; // sl
    let local = parse_addr(f.next()?)?;
    let remote = parse_addr(f.next()?)?;
    let state = u8::from_str_radix(f.next()?, 16).ok()?;
    let ino = f.nth(5)?.parse().ok()?;
    Some(InetSock {
        proto,
        local,
        remote,
        state,
        ino,
    })
}

/// `0100007F:1F90` (IPv4, the address's bytes as a native u32) or 32 hex digits for IPv6
/// (four native u32s); an IPv4-mapped IPv6 address becomes IPv4 so both tables compare.
fn parse_addr(s: &str) -> Option<SocketAddr> {
    let (ip, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |h: &str| u32::from_str_radix(h, 16).ok().map(u32::to_ne_bytes);
    let ip: IpAddr = match ip.len() {
        8 => Ipv4Addr::from(word(ip)?).into(),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                b[i * 4..i * 4 + 4].copy_from_slice(&word(ip.get(i * 8..i * 8 + 8)?)?);
            }
            let v6 = Ipv6Addr::from(b);
            match v6.to_ipv4_mapped() {
                Some(v4) => v4.into(),
                None => v6.into(),
            }
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1388 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 100 1 0 100 0 0 10 0
   1: 0100007F:A0C2 0100007F:1388 01 00000000:00000000 00:00000000 00000000  1000        0 201 1 0 20 4 30 10 -1
   2: 0100007F:1388 0100007F:A0C2 01 00000000:00000000 00:00000000 00000000  1000        0 202 1 0 20 4 30 10 -1
   3: 0500000A:B000 0900000A:1538 01 00000000:00000000 00:00000000 00000000  1000        0 300 1 0 20 4 30 10 -1
   4: garbage line
   5: 0100007F:ZZZZ 0100007F:1388 01 0 0 0 0 0 7
";
    const TCP6: &str = "  sl  local_address remote_address st
   0: 0000000000000000FFFF00000100007F:C000 0000000000000000FFFF00000100007F:1388 01 00000000:00000000 00:00000000 00000000  1000 0 400 1
   1: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000 0 401 1
";

    fn tables() -> Tables {
        let mut t = Tables::default();
        t.parse(TCP.as_bytes(), Proto::Tcp);
        t.parse(TCP6.as_bytes(), Proto::Tcp);
        t
    }

    #[test]
    fn parses_rows_and_addresses() {
        let t = tables();
        assert_eq!(t.socks.len(), 6);
        let s = t.by_inode(201).unwrap();
        assert_eq!(s.local, "127.0.0.1:41154".parse().unwrap());
        assert_eq!(s.remote, "127.0.0.1:5000".parse().unwrap());
        assert_eq!(s.state, 1);
        let mapped = t.by_inode(400).unwrap();
        assert_eq!(mapped.local, "127.0.0.1:49152".parse().unwrap());
        assert_eq!(
            t.by_inode(401).unwrap().local,
            "[::1]:8080".parse().unwrap()
        );
        assert!(t.by_inode(0).is_none());
    }

    #[test]
    fn finds_peers_and_listeners() {
        let t = tables();
        let client = t.by_inode(201).unwrap();
        assert_eq!(t.peer(client).map(|s| s.ino), Some(202));
        assert_eq!(t.peer(t.by_inode(202).unwrap()).map(|s| s.ino), Some(201));
        // The v4-mapped client's server side is not in the table (not accepted yet): the
        // listener on its port is.
        let mapped = t.by_inode(400).unwrap();
        assert_eq!(t.peer(mapped), None);
        assert_eq!(t.listener(mapped.remote).map(|s| s.ino), Some(100));
        let far = t.by_inode(300).unwrap();
        assert_eq!(t.peer(far), None);
        assert!(!t.is_local(far.remote.ip()));
        assert!(t.is_local(far.local.ip()));
        assert_eq!(t.peer(t.by_inode(100).unwrap()), None);
    }

    #[test]
    fn garbage_is_skipped() {
        let mut t = Tables::default();
        t.parse(b"header\n\xff\xfe\n1: 0100007F 0 0\n:\n\n", Proto::Udp);
        assert!(t.socks.is_empty());
        for bad in [
            "",
            ":",
            "0100007F",
            "0100007F:",
            "1:2:3",
            "0100007F0:0001",
            "zz00007F:0001",
        ] {
            assert_eq!(parse_addr(bad), None, "{bad}");
        }
    }
}
