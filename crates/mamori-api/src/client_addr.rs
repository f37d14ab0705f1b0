//! Who the client is, for rate limits and the audit trail: the TCP peer, or — only when the
//! peer is one of the operator's proxies (`--trusted-proxies`) — the address those proxies
//! report in `Forwarded` (RFC 7239) or `X-Forwarded-For`.
//!
//! The headers are read from the right: each proxy appends the address it received the request
//! from, so the rightmost entry not itself a trusted proxy is the first address no trusted
//! party vouches for beyond — the client. Anything left of it is whatever the client chose to
//! send and is never believed. A header a trusted proxy sent that cannot be read (or both
//! headers, disagreeing) makes the peer the client: a client cannot pick its bucket by sending
//! garbage, it can only land in the proxy's own, which honest clients never share.
//!
//! Pure: no I/O, no HTTP types.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// The most header entries read: a request through more proxies than this is not one of ours.
const MAX_HOPS: usize = 32;

/// An IP network: an address and a prefix length (`10.0.0.0/8`, `2001:db8::/32`); a plain
/// address is the network of that address alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    /// Whether `ip` is in this network (an IPv4-mapped IPv6 address counts as its IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => same_prefix(
                u128::from(net.to_bits()),
                u128::from(ip.to_bits()),
                self.prefix,
                32,
            ),
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                same_prefix(net.to_bits(), ip.to_bits(), self.prefix, 128)
            }
            _ => false,
        }
    }
}

fn same_prefix(a: u128, b: u128, prefix: u8, width: u8) -> bool {
    let host_bits = u32::from(width - prefix);
    (a ^ b).checked_shr(host_bits).unwrap_or(0) == 0
}

impl FromStr for Network {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let bad = || format!("{text:?} is not an IP address or a network like 10.0.0.0/8");
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr = IpAddr::from_str(addr).map_err(|_| bad())?.to_canonical();
        let width = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= width)
                .ok_or_else(bad)?,
            Some(_) => return Err(bad()),
        };
        Ok(Self { addr, prefix })
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The proxies whose `Forwarded` / `X-Forwarded-For` are believed. Empty by default: then the
/// TCP peer is always the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Network>);

impl TrustedProxies {
    /// Trust these networks.
    pub fn new(networks: Vec<Network>) -> Self {
        Self(networks)
    }

    /// Whether no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` is a trusted proxy.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(ip))
    }

    /// The client of a request from `peer` carrying these `Forwarded` and `X-Forwarded-For`
    /// header lines (each in the order received).
    pub fn client(&self, peer: IpAddr, forwarded: &[&str], x_forwarded_for: &[&str]) -> Client {
        let peer = peer.to_canonical();
        let as_peer = |via| Client { addr: peer, via };
        if !self.trusts(peer) {
            return as_peer(Via::Peer);
        }
        let from_forwarded = (!forwarded.is_empty())
            .then(|| forwarded_for(forwarded).map(|hops| self.walk(peer, &hops)));
        let from_xff = (!x_forwarded_for.is_empty())
            .then(|| x_forwarded_for_hops(x_forwarded_for).map(|hops| self.walk(peer, &hops)));
        match (from_forwarded, from_xff) {
            (None, None) => as_peer(Via::Peer),
            (Some(Some(addr)), None) | (None, Some(Some(addr))) => Client {
                addr,
                via: Via::Proxy,
            },
            (Some(Some(a)), Some(Some(b))) if a == b => Client {
                addr: a,
                via: Via::Proxy,
            },
            _ => as_peer(Via::Unreadable),
        }
    }

    /// The rightmost hop that is not a trusted proxy; the leftmost when every hop is one.
    fn walk(&self, peer: IpAddr, hops: &[IpAddr]) -> IpAddr {
        let mut client = peer;
        for hop in hops.iter().rev() {
            client = *hop;
            if !self.trusts(*hop) {
                break;
            }
        }
        client
    }
}

impl FromStr for TrustedProxies {
    type Err = String;

    /// A list separated by commas (spaces around entries allowed); empty trusts no proxy.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.split(',')
            .filter(|entry| !entry.trim().is_empty())
            .map(Network::from_str)
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }
}

impl fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&list.join(","))
    }
}

/// A request's client as Mamori counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    /// The address (IPv4-mapped IPv6 as IPv4).
    pub addr: IpAddr,
    /// Where it came from.
    pub via: Via,
}

/// Where a client's address came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The TCP peer: no trusted proxy, or one that forwarded no header.
    Peer,
    /// A trusted proxy's `Forwarded` or `X-Forwarded-For`.
    Proxy,
    /// The TCP peer, because a trusted proxy's header could not be read (or `Forwarded` and
    /// `X-Forwarded-For` named different clients).
    Unreadable,
}

impl Client {
    /// The client as rate limits count it: an IPv4 address as it is, an IPv6 client by its
    /// /64 (one subscriber's network: a host that can pick any of 2^64 addresses is one
    /// client, not 2^64).
    pub fn limit_key(&self) -> String {
        limit_key(self.addr)
    }
}

/// See [`Client::limit_key`].
pub fn limit_key(addr: IpAddr) -> String {
    match addr.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let network = std::net::Ipv6Addr::from_bits(v6.to_bits() & !(u128::MAX >> 64));
            format!("{network}/64")
        }
    }
}

/// The `for=` of each element of RFC 7239 `Forwarded` lines, left to right; `None` when any
/// element has none, or one that is not an IP address (`unknown`, an obfuscated `_name`).
fn forwarded_for(lines: &[&str]) -> Option<Vec<IpAddr>> {
    let mut hops = Vec::new();
    for element in lines
        .iter()
        .flat_map(|line| split_outside_quotes(line, ','))
    {
        if element.trim().is_empty() {
            continue;
        }
        let mut found = None;
        for pair in split_outside_quotes(element, ';') {
            let (name, value) = pair.split_once('=')?;
            if name.trim().eq_ignore_ascii_case("for") {
                if found.is_some() {
                    return None;
                }
                found = Some(node_address(&unquote(value.trim())?)?);
            }
        }
        hops.push(found?);
        if hops.len() > MAX_HOPS {
            return None;
        }
    }
    (!hops.is_empty()).then_some(hops)
}

/// The addresses of `X-Forwarded-For` lines, left to right; `None` when any entry is not an
/// address (with an optional port, IPv6 in brackets when it has one).
fn x_forwarded_for_hops(lines: &[&str]) -> Option<Vec<IpAddr>> {
    let mut hops = Vec::new();
    for entry in lines.iter().flat_map(|line| line.split(',')) {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        hops.push(node_address(entry)?);
        if hops.len() > MAX_HOPS {
            return None;
        }
    }
    (!hops.is_empty()).then_some(hops)
}

/// An address as proxies write one: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`,
/// `[2001:db8::1]`, `[2001:db8::1]:4711`.
fn node_address(text: &str) -> Option<IpAddr> {
    let addr = if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !(after.is_empty() || is_port(after.strip_prefix(':')?)) {
            return None;
        }
        IpAddr::V6(inside.parse().ok()?)
    } else if let Ok(addr) = text.parse::<IpAddr>() {
        addr
    } else {
        let (host, port) = text.rsplit_once(':')?;
        if !is_port(port) {
            return None;
        }
        IpAddr::V4(host.parse().ok()?)
    };
    Some(addr.to_canonical())
}

fn is_port(text: &str) -> bool {
    !text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit())
}

/// A token or an RFC 7230 quoted-string (backslash escapes allowed).
fn unquote(value: &str) -> Option<String> {
    let Some(inner) = value.strip_prefix('"') else {
        return (!value.contains('"')).then(|| value.to_owned());
    };
    let inner = inner.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// Splits at `sep` where it is not inside a quoted-string.
fn split_outside_quotes(text: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::new(list.iter().map(|n| n.parse().unwrap()).collect())
    }

    fn client(trusted: &TrustedProxies, peer: &str, fwd: &[&str], xff: &[&str]) -> (String, Via) {
        let c = trusted.client(ip(peer), fwd, xff);
        (c.addr.to_string(), c.via)
    }

    #[test]
    fn networks_parse_and_contain() {
        let net: Network = "10.1.0.0/16".parse().unwrap();
        assert!(net.contains(ip("10.1.255.3")));
        assert!(!net.contains(ip("10.2.0.1")));
        assert!(
            net.contains(ip("::ffff:10.1.0.9")),
            "IPv4-mapped counts as IPv4"
        );
        assert!(!net.contains(ip("2001:db8::1")));
        let one: Network = " 192.0.2.7 ".parse().unwrap();
        assert_eq!(one.to_string(), "192.0.2.7/32");
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let v6: Network = "2001:db8:1::/48".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:1:ffff::1")));
        assert!(!v6.contains(ip("2001:db8:2::1")));
        let all: Network = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.1")));
        let mapped: Network = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(mapped, one);
        for bad in [
            "",
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0.0/-1",
            "example.com",
            "::/129",
        ] {
            assert!(bad.parse::<Network>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_list_of_proxies_parses_and_may_be_empty() {
        let list: TrustedProxies = " 10.0.0.0/8, 2001:db8::1 ,".parse().unwrap();
        assert_eq!(list.to_string(), "10.0.0.0/8,2001:db8::1/128");
        assert!(list.trusts(ip("10.9.8.7")) && !list.trusts(ip("11.0.0.1")));
        assert!("".parse::<TrustedProxies>().unwrap().is_empty());
        let bad = "10.0.0.0/8,10.0.0.0/33"
            .parse::<TrustedProxies>()
            .unwrap_err();
        assert!(bad.contains("10.0.0.0/33"), "{bad}");
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let lb = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            client(&lb, "203.0.113.9", &["for=198.51.100.1"], &["198.51.100.2"]),
            ("203.0.113.9".into(), Via::Peer)
        );
        let nobody = TrustedProxies::default();
        assert!(nobody.is_empty());
        assert_eq!(
            client(&nobody, "10.0.0.1", &[], &["198.51.100.2"]),
            ("10.0.0.1".into(), Via::Peer)
        );
    }

    #[test]
    fn a_trusted_proxy_names_the_client_from_the_right() {
        let lb = proxies(&["10.0.0.0/8"]);
        // The client put a fake address first; the proxy appended the real one.
        assert_eq!(
            client(&lb, "10.0.0.5", &[], &["1.2.3.4, 203.0.113.9"]),
            ("203.0.113.9".into(), Via::Proxy)
        );
        assert_eq!(
            client(&lb, "10.0.0.5", &[], &[]),
            ("10.0.0.5".into(), Via::Peer),
            "a trusted proxy that forwarded nothing"
        );
    }

    #[test]
    fn a_chain_of_trusted_proxies_is_skipped() {
        let chain = proxies(&["10.0.0.0/8", "192.0.2.10"]);
        // client -> CDN edge 192.0.2.10 -> internal LB 10.0.0.7 -> Mamori
        assert_eq!(
            client(
                &chain,
                "10.0.0.7",
                &[],
                &["6.6.6.6, 203.0.113.9, 192.0.2.10"]
            ),
            ("203.0.113.9".into(), Via::Proxy)
        );
        // The same over two header lines.
        assert_eq!(
            client(
                &chain,
                "10.0.0.7",
                &[],
                &["6.6.6.6", "203.0.113.9, 192.0.2.10"]
            ),
            ("203.0.113.9".into(), Via::Proxy)
        );
        // Every hop trusted: the leftmost is the client (an internal caller).
        assert_eq!(
            client(&chain, "10.0.0.7", &[], &["10.9.9.9, 192.0.2.10"]),
            ("10.9.9.9".into(), Via::Proxy)
        );
        // An untrusted proxy in the middle: its claim about who came before is not believed.
        assert_eq!(
            client(&chain, "10.0.0.7", &[], &["203.0.113.9, 198.51.100.50"]),
            ("198.51.100.50".into(), Via::Proxy)
        );
    }

    #[test]
    fn forwarded_is_read_as_rfc_7239_writes_it() {
        let lb = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            client(
                &lb,
                "10.0.0.5",
                &["for=192.0.2.60;proto=http;by=203.0.113.43, For=\"[2001:db8:cafe::17]:4711\""],
                &[]
            ),
            ("2001:db8:cafe::17".into(), Via::Proxy)
        );
        assert_eq!(
            client(
                &lb,
                "10.0.0.5",
                &["for=\"198.51.100.3:8080\";proto=https"],
                &[]
            ),
            ("198.51.100.3".into(), Via::Proxy)
        );
        assert_eq!(
            client(&lb, "10.0.0.5", &["for=198.51.100.3", "for=10.1.1.1"], &[]),
            ("198.51.100.3".into(), Via::Proxy)
        );
    }

    #[test]
    fn unreadable_headers_from_a_trusted_proxy_make_the_peer_the_client() {
        let lb = proxies(&["10.0.0.0/8"]);
        for (fwd, xff) in [
            (vec!["for=unknown"], vec![]),
            (vec!["for=_hidden"], vec![]),
            (vec!["proto=https"], vec![]),
            (vec!["for=192.0.2.1;for=192.0.2.2"], vec![]),
            (vec!["for=\"[2001:db8::1\""], vec![]),
            (vec![], vec!["not-an-address"]),
            (vec![], vec!["2001:db8::1:99999"]),
            (vec![], vec!["[2001:db8::1]x"]),
            (vec![], vec![""]),
            // Both headers, naming different clients: one of them is the client's own.
            (vec!["for=198.51.100.1"], vec!["203.0.113.9"]),
        ] {
            assert_eq!(
                client(&lb, "10.0.0.5", &fwd, &xff),
                ("10.0.0.5".into(), Via::Unreadable),
                "{fwd:?} {xff:?}"
            );
        }
        let long = vec!["203.0.113.9"; MAX_HOPS + 1].join(",");
        assert_eq!(
            client(&lb, "10.0.0.5", &[], &[&long]).1,
            Via::Unreadable,
            "too many hops"
        );
        // Empty list elements are allowed (RFC 9110 §5.6.1); both headers agreeing are fine.
        assert_eq!(
            client(&lb, "10.0.0.5", &[], &["203.0.113.9, ,"]),
            ("203.0.113.9".into(), Via::Proxy)
        );
        assert_eq!(
            client(&lb, "10.0.0.5", &["for=203.0.113.9"], &["203.0.113.9"]),
            ("203.0.113.9".into(), Via::Proxy)
        );
    }

    #[test]
    fn ipv4_mapped_ipv6_is_ipv4_everywhere() {
        let lb = proxies(&["10.0.0.0/8"]);
        // A dual-stack listener sees the IPv4 proxy as ::ffff:10.0.0.5.
        assert_eq!(
            client(&lb, "::ffff:10.0.0.5", &[], &["::ffff:203.0.113.9"]),
            ("203.0.113.9".into(), Via::Proxy)
        );
        assert_eq!(
            client(&TrustedProxies::default(), "::ffff:203.0.113.9", &[], &[]),
            ("203.0.113.9".into(), Via::Peer)
        );
        assert_eq!(limit_key(ip("::ffff:203.0.113.9")), "203.0.113.9");
    }

    #[test]
    fn ipv6_clients_are_limited_by_their_64() {
        assert_eq!(limit_key(ip("203.0.113.9")), "203.0.113.9");
        assert_eq!(
            limit_key(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            limit_key(ip("2001:db8:1:2::1")),
            limit_key(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(
            limit_key(ip("2001:db8:1:2::1")),
            limit_key(ip("2001:db8:1:3::1"))
        );
        let lb = proxies(&["2001:db8:ffff::/48"]);
        let c = lb.client(ip("2001:db8:ffff::1"), &[], &["2001:db8:1:2:aaaa::5"]);
        assert_eq!(
            c.addr,
            ip("2001:db8:1:2:aaaa::5"),
            "the audit keeps the address"
        );
        assert_eq!(c.limit_key(), "2001:db8:1:2::/64");
    }
}
