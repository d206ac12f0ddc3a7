//! TCP and UDP sockets of our own network namespace through sock_diag (inet_diag): a waiter's
//! socket read from a copy of its fd, the socket at the other end found by the kernel's own
//! lookup of the four addresses, and the listeners on a port. `/proc/net/tcp` lists every
//! socket of the namespace (12 ms here even with three); these cost a round trip each.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};

use super::inet::{InetSock, Proto};
use super::peercred;
use super::sockdiag::{self, DiagError, NLM_F_DUMP, NLM_F_REQUEST, Netlink, u32_at};

/// TCP's `LISTEN` state, and the state set that asks a dump for listeners only (which walks
/// the listening hash alone).
const LISTEN: u8 = 10;
const LISTENERS: u32 = 1 << LISTEN;

/// Reads the socket behind fd `fd` of `pid` (inode `ino`) through a copy of the fd, if it is
/// a TCP or UDP socket: its addresses, and `LISTEN` as state for a listener. An unconnected
/// one has an unspecified remote address.
pub(super) fn socket_of(pid: u32, fd: i32, ino: u64) -> Option<InetSock> {
    let copy = peercred::copy_fd(pid, fd)?;
    let proto = match int_option(&copy, libc::SOL_SOCKET, libc::SO_PROTOCOL)? {
        libc::IPPROTO_TCP => Proto::Tcp,
        libc::IPPROTO_UDP => Proto::Udp,
        _ => return None,
    };
    let local = address(&copy, libc::getsockname)?;
    let remote = address(&copy, libc::getpeername)
        .unwrap_or_else(|| SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0));
    let listening = int_option(&copy, libc::SOL_SOCKET, libc::SO_ACCEPTCONN) == Some(1);
    Some(InetSock {
        proto,
        local,
        remote,
        state: if listening { LISTEN } else { 1 },
        ino,
    })
}

/// The sock_diag lookups of one chain build.
#[derive(Default)]
pub(super) struct InetDiag {
    netlink: Netlink,
}

impl InetDiag {
    /// Lookups in the network namespace of process `pid`.
    pub(super) fn in_namespace_of(pid: u32) -> InetDiag {
        InetDiag {
            netlink: Netlink::in_namespace_of(pid),
        }
    }

    /// The socket at the other end of `me`'s connection on this host: the one whose local
    /// address is `me`'s remote, connected back to `me` (for UDP an unconnected one bound to
    /// that address will do; for TCP the kernel answers a connection not accepted yet with a
    /// socket of inode 0, or the listener).
    pub(super) fn peer(&mut self, me: &InetSock) -> Result<Option<InetSock>, DiagError> {
        let mut failed = None;
        for (family, local, remote) in forms(me.local, me.remote) {
            // The kernel reads the addresses one way round for TCP and the other for UDP
            // (which looks up the socket a datagram from `src` to `dst` would reach): both are
            // asked, and an answer is taken only if it is the other end.
            for (src, dst) in [(remote, local), (local, remote)] {
                let request = request(family, me.proto, u32::MAX, src, dst, NLM_F_REQUEST);
                let of_proto = |b: &[u8]| {
                    parse_sock(b).map(|s| InetSock {
                        proto: me.proto,
                        ..s
                    })
                };
                match self.netlink.ask(&request, 1, of_proto) {
                    Ok(found) => {
                        if let Some(s) = found.into_iter().find(|s| is_other_end(me, s)) {
                            return Ok(Some(s));
                        }
                    }
                    Err(DiagError::NotFound) => {}
                    Err(e) => failed = Some(e),
                }
            }
        }
        failed.map_or(Ok(None), Err)
    }

    /// The TCP listener on `addr`: bound to its address, else to any address on its port.
    pub(super) fn listener(&mut self, addr: SocketAddr) -> Result<Option<InetSock>, DiagError> {
        let any = SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0);
        let mut all = Vec::new();
        for family in [libc::AF_INET, libc::AF_INET6] {
            let flags = NLM_F_REQUEST | NLM_F_DUMP;
            let request = request(family, Proto::Tcp, LISTENERS, any, any, flags);
            match self.netlink.ask(&request, sockdiag::MAX_DUMPED, parse_sock) {
                Ok(found) => all.extend(found),
                Err(DiagError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        all.retain(|s| s.state == LISTEN && s.local.port() == addr.port());
        let exact = all.iter().position(|s| s.local.ip() == addr.ip());
        let wild = all.iter().position(|s| s.local.ip().is_unspecified());
        Ok(exact.or(wild).map(|i| all.swap_remove(i)))
    }
}

/// Whether `s`, found for `me`, is the other end: bound where `me` sends, and either connected
/// back to `me` or (UDP) not connected at all.
fn is_other_end(me: &InetSock, s: &InetSock) -> bool {
    let bound_there = s.local.port() == me.remote.port()
        && (s.local.ip() == me.remote.ip() || s.local.ip().is_unspecified());
    let not_me = s.ino != me.ino || s.ino == 0;
    let back = s.remote == me.local
        || s.state == LISTEN
        || (me.proto == Proto::Udp && s.remote.port() == 0);
    s.proto == me.proto && bound_there && not_me && back
}

/// The families and address forms to ask in: an IPv4 connection may be held by an IPv6
/// socket as v4-mapped addresses at the other end.
fn forms(local: SocketAddr, remote: SocketAddr) -> Vec<(i32, SocketAddr, SocketAddr)> {
    let mapped = |a: SocketAddr| match a.ip() {
        IpAddr::V4(v4) => SocketAddr::new(v4.to_ipv6_mapped().into(), a.port()),
        IpAddr::V6(_) => a,
    };
    match (local.ip(), remote.ip()) {
        (IpAddr::V4(_), IpAddr::V4(_)) => vec![
            (libc::AF_INET, local, remote),
            (libc::AF_INET6, mapped(local), mapped(remote)),
        ],
        _ => vec![(libc::AF_INET6, mapped(local), mapped(remote))],
    }
}

/// An `inet_diag_req_v2`: family, protocol, the states asked for, and the socket id.
fn request(
    family: i32,
    proto: Proto,
    states: u32,
    src: SocketAddr,
    dst: SocketAddr,
    flags: u16,
) -> Vec<u8> {
    let mut m = sockdiag::header(56, flags);
    m.push(family as u8);
    m.push(match proto {
        Proto::Tcp => libc::IPPROTO_TCP as u8,
        Proto::Udp => libc::IPPROTO_UDP as u8,
    });
    m.extend_from_slice(&[0, 0]); // no extensions; pad
    m.extend_from_slice(&states.to_ne_bytes());
    m.extend_from_slice(&src.port().to_be_bytes());
    m.extend_from_slice(&dst.port().to_be_bytes());
    m.extend_from_slice(&ip_bytes(src.ip()));
    m.extend_from_slice(&ip_bytes(dst.ip()));
    m.extend_from_slice(&0u32.to_ne_bytes()); // any interface
    m.extend_from_slice(&u32::MAX.to_ne_bytes()); // no cookie
    m.extend_from_slice(&u32::MAX.to_ne_bytes());
    m
}

/// An address as the 16 bytes of `idiag_src`/`idiag_dst` (IPv4 in the first four).
fn ip_bytes(ip: IpAddr) -> [u8; 16] {
    let mut b = [0u8; 16];
    match ip {
        IpAddr::V4(v4) => b[..4].copy_from_slice(&v4.octets()),
        IpAddr::V6(v6) => b = v6.octets(),
    }
    b
}

/// One `inet_diag_msg`: family, state, the socket id (ports big-endian, addresses), and the
/// inode at byte 68. A v4-mapped address becomes IPv4, as `inet` does.
fn parse_sock(body: &[u8]) -> Result<InetSock, DiagError> {
    if body.len() < 72 {
        return Err(DiagError::Garbled);
    }
    let port = |at: usize| u16::from_be_bytes([body[at], body[at + 1]]);
    let ip = |at: usize| -> Result<IpAddr, DiagError> {
        let raw: [u8; 16] = body[at..at + 16]
            .try_into()
            .map_err(|_| DiagError::Garbled)?;
        Ok(match i32::from(body[0]) {
            libc::AF_INET => Ipv4Addr::new(raw[0], raw[1], raw[2], raw[3]).into(),
            libc::AF_INET6 => {
                let v6 = Ipv6Addr::from(raw);
                v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
            }
            _ => return Err(DiagError::Garbled),
        })
    };
    Ok(InetSock {
        // The message does not say: the question asked for one (TCP unless the caller sets it).
        proto: Proto::Tcp,
        local: SocketAddr::new(ip(8)?, port(4)),
        remote: SocketAddr::new(ip(24)?, port(6)),
        state: body[1],
        ino: u64::from(u32_at(body, 68).ok_or(DiagError::Garbled)?),
    })
}

/// An integer socket option of `fd`.
fn int_option(fd: &OwnedFd, level: i32, name: i32) -> Option<i32> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` is writable for `len` bytes, and `len` says so.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&raw mut value).cast(),
            &mut len,
        )
    };
    (rc == 0).then_some(value)
}

type NameCall =
    unsafe extern "C" fn(libc::c_int, *mut libc::sockaddr, *mut libc::socklen_t) -> libc::c_int;

/// The socket's own (`getsockname`) or peer's (`getpeername`) address, IPv4 or IPv6; a
/// v4-mapped one as IPv4.
fn address(fd: &OwnedFd, call: NameCall) -> Option<SocketAddr> {
    // SAFETY: all zeroes is a valid sockaddr_storage.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `ss` is writable for `len` bytes; the kernel writes at most that and says how many.
    if unsafe { call(fd.as_raw_fd(), (&raw mut ss).cast(), &mut len) } != 0 {
        return None;
    }
    match i32::from(ss.ss_family) {
        libc::AF_INET if len as usize >= std::mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: the kernel wrote a sockaddr_in (family and length checked).
            let sin: libc::sockaddr_in = unsafe { std::ptr::read((&raw const ss).cast()) };
            let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
            Some(SocketAddr::new(ip.into(), u16::from_be(sin.sin_port)))
        }
        libc::AF_INET6 if len as usize >= std::mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: the kernel wrote a sockaddr_in6 (family and length checked).
            let sin6: libc::sockaddr_in6 = unsafe { std::ptr::read((&raw const ss).cast()) };
            let v6 = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            let ip = v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4);
            Some(SocketAddr::new(ip, u16::from_be(sin6.sin6_port)))
        }
        _ => None,
    }
}

/// The addresses of this host's interfaces (in our network namespace), to tell a peer on
/// another host from one here that is not found.
pub(super) fn local_addresses() -> Vec<IpAddr> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs writes a list head we free below with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut at = head;
    // Bounded: a host has few interfaces, but the list is the kernel's to make long.
    for _ in 0..4096 {
        if at.is_null() {
            break;
        }
        // SAFETY: `at` is a node of the list getifaddrs made, not freed yet.
        let node = unsafe { &*at };
        if !node.ifa_addr.is_null() {
            // SAFETY: ifa_addr points to a sockaddr of the family it names.
            let family = i32::from(unsafe { (*node.ifa_addr).sa_family });
            if family == libc::AF_INET {
                // SAFETY: an AF_INET address is a sockaddr_in.
                let sin = unsafe { &*node.ifa_addr.cast::<libc::sockaddr_in>() };
                out.push(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)).into());
            } else if family == libc::AF_INET6 {
                // SAFETY: an AF_INET6 address is a sockaddr_in6.
                let sin6 = unsafe { &*node.ifa_addr.cast::<libc::sockaddr_in6>() };
                out.push(Ipv6Addr::from(sin6.sin6_addr.s6_addr).into());
            }
        }
        at = node.ifa_next;
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream, UdpSocket};

    fn ino_of(fd: &impl AsRawFd) -> u64 {
        match super::super::fds::target(std::process::id(), fd.as_raw_fd()) {
            Some(super::super::fds::Target::Socket(n)) => n,
            other => panic!("not a socket: {other:?}"),
        }
    }

    fn me(fd: &impl AsRawFd) -> InetSock {
        socket_of(std::process::id(), fd.as_raw_fd(), ino_of(fd)).unwrap()
    }

    #[test]
    fn a_tcp_connection_finds_its_peer_both_ways_and_a_queued_one_its_listener() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let mut diag = InetDiag::default();
        let c = me(&client);
        assert_eq!(c.local, client.local_addr().unwrap());
        assert_eq!(c.remote, listener.local_addr().unwrap());
        assert_eq!(diag.peer(&c).unwrap().map(|s| s.ino), Some(ino_of(&server)));
        assert_eq!(
            diag.peer(&me(&server)).unwrap().map(|s| s.ino),
            Some(ino_of(&client))
        );
        assert_eq!(me(&listener).state, LISTEN);

        // Not accepted: the other end has no inode yet; the listener is found by its port.
        let queued = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let q = me(&queued);
        let peer = diag.peer(&q).unwrap();
        assert!(
            peer.as_ref()
                .is_none_or(|p| p.ino == 0 || p.ino == ino_of(&listener)),
            "{peer:?}"
        );
        let l = diag.listener(q.remote).unwrap().unwrap();
        assert_eq!(l.ino, ino_of(&listener));
        assert_eq!(l.local, listener.local_addr().unwrap());
    }

    #[test]
    fn ipv6_and_dual_stack_connections_find_their_peer() {
        let Ok(listener) = TcpListener::bind("[::]:0") else {
            return; // no IPv6 on this host: nothing to check
        };
        let port = listener.local_addr().unwrap().port();
        for to in [format!("127.0.0.1:{port}"), format!("[::1]:{port}")] {
            let client = TcpStream::connect(&to).unwrap();
            let (server, _) = listener.accept().unwrap();
            let got = InetDiag::default().peer(&me(&client)).unwrap();
            assert_eq!(got.map(|s| s.ino), Some(ino_of(&server)), "{to}");
        }
    }

    #[test]
    fn udp_finds_the_bound_receiver_and_an_unconnected_socket_nothing() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client.connect(server.local_addr().unwrap()).unwrap();
        let c = me(&client);
        assert_eq!(c.proto, Proto::Udp);
        let got = InetDiag::default().peer(&c).unwrap();
        assert_eq!(got.map(|s| s.ino), Some(ino_of(&server)));
        assert_eq!(me(&server).remote.port(), 0);
    }

    #[test]
    fn other_fds_are_not_inet_sockets() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        assert!(socket_of(std::process::id(), a.as_raw_fd(), ino_of(&a)).is_none());
        assert!(socket_of(std::process::id(), 987_654, 1).is_none());
    }

    #[test]
    fn a_peer_nobody_holds_is_not_found() {
        let free = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let me = InetSock {
            proto: Proto::Tcp,
            local: "127.0.0.1:1".parse().unwrap(),
            remote: free,
            state: 1,
            ino: 1,
        };
        assert_eq!(InetDiag::default().peer(&me), Ok(None));
        assert!(local_addresses().iter().any(|ip| ip.is_loopback()));
    }

    #[test]
    fn garbage_messages_are_errors_not_panics() {
        assert_eq!(parse_sock(&[0; 71]), Err(DiagError::Garbled));
        let mut bad_family = [0u8; 72];
        bad_family[0] = 99;
        assert_eq!(parse_sock(&bad_family), Err(DiagError::Garbled));
        let mut v4 = [0u8; 72];
        v4[0] = libc::AF_INET as u8;
        v4[1] = 1;
        v4[4..6].copy_from_slice(&8080u16.to_be_bytes());
        v4[8..12].copy_from_slice(&[127, 0, 0, 1]);
        v4[68..72].copy_from_slice(&77u32.to_ne_bytes());
        let s = parse_sock(&v4).unwrap();
        assert_eq!(s.local, "127.0.0.1:8080".parse().unwrap());
        assert_eq!((s.ino, s.state), (77, 1));
    }
}
