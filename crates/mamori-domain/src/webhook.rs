//! Where Mamori may POST a bank's push-approval webhook (`push.webhook_url`).
//!
//! A webhook is a request Mamori makes, from inside its own network, to an address a bank's
//! config names. Unchecked, a config (or a console operator editing one) could make Mamori
//! reach what only Mamori's network can: the cloud's metadata service at 169.254.169.254, a
//! database on 10.0.0.5, an admin port on 127.0.0.1. So a target is:
//! - `https://`; `http://` only to a loopback host (a developer's receiver on the same machine,
//!   where nothing crosses a network);
//! - never a private, loopback, link-local, shared (CGNAT), unspecified, multicast, broadcast,
//!   documentation or otherwise reserved address, unless the bank's config sets
//!   `push.webhook_allow_private = true` (a bank reached over a private line, or a test).
//!
//! The URL is checked when a config is validated ([`check_webhook_url`]), and again at every
//! delivery try together with every address its host resolves to ([`check_addresses`]): a DNS
//! answer that changes after the check (rebinding) cannot bring back a refused target.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A kind of address a webhook does not go to unless the bank allows private targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpecialRange {
    /// 0.0.0.0/8, `::`: "this host", which connects to the local machine.
    Unspecified,
    /// 127.0.0.0/8, `::1`, `localhost`.
    Loopback,
    /// RFC 1918 (10/8, 172.16/12, 192.168/16), unique-local fc00::/7, site-local fec0::/10.
    Private,
    /// 169.254.0.0/16, fe80::/10: where cloud metadata services answer.
    LinkLocal,
    /// 100.64.0.0/10 (RFC 6598): a carrier's or a cloud's internal network.
    Shared,
    /// 224.0.0.0/4, ff00::/8.
    Multicast,
    /// 255.255.255.255.
    Broadcast,
    /// 192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32, 3fff::/20: examples, never hosts.
    Documentation,
    /// Everything else set aside from the public internet: 192.0.0/24, 198.18/15 (benchmarks),
    /// 240/4, the IPv4-compatible `::/96`, discard-only 100::/64 and 2001:2::/48.
    Reserved,
}

impl SpecialRange {
    /// The range in a message: "a link-local address".
    pub fn describe(self) -> &'static str {
        match self {
            Self::Unspecified => "an unspecified address",
            Self::Loopback => "a loopback address",
            Self::Private => "a private address",
            Self::LinkLocal => "a link-local address",
            Self::Shared => "a shared (CGNAT) address",
            Self::Multicast => "a multicast address",
            Self::Broadcast => "the broadcast address",
            Self::Documentation => "a documentation address",
            Self::Reserved => "a reserved address",
        }
    }
}

/// The range `ip` is in, if it is one a webhook does not go to by default; `None` for an
/// address on the public internet. An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) and a NAT64
/// one (`64:ff9b::a00:1`) are judged by the IPv4 address they carry.
pub fn special_range(ip: IpAddr) -> Option<SpecialRange> {
    match ip {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => special_v6(v6),
    }
}

fn special_v4(ip: Ipv4Addr) -> Option<SpecialRange> {
    let [a, b, c, _] = ip.octets();
    let range = match (a, b, c) {
        (0, _, _) => SpecialRange::Unspecified,
        (127, _, _) => SpecialRange::Loopback,
        (10, _, _) | (172, 16..=31, _) | (192, 168, _) => SpecialRange::Private,
        (169, 254, _) => SpecialRange::LinkLocal,
        (100, 64..=127, _) => SpecialRange::Shared,
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => SpecialRange::Documentation,
        (224..=239, _, _) => SpecialRange::Multicast,
        _ if ip.is_broadcast() => SpecialRange::Broadcast,
        (192, 0, 0) | (198, 18..=19, _) | (240..=255, _, _) => SpecialRange::Reserved,
        _ => return None,
    };
    Some(range)
}

fn special_v6(ip: Ipv6Addr) -> Option<SpecialRange> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return special_v4(v4);
    }
    let s = ip.segments();
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        // NAT64 (RFC 6052): the gateway connects to the IPv4 address in the last 32 bits.
        let [hi, lo] = [s[6].to_be_bytes(), s[7].to_be_bytes()];
        return special_v4(Ipv4Addr::new(hi[0], hi[1], lo[0], lo[1]));
    }
    let range = if ip.is_unspecified() {
        SpecialRange::Unspecified
    } else if ip.is_loopback() {
        SpecialRange::Loopback
    } else if s[0] & 0xfe00 == 0xfc00 || s[0] & 0xffc0 == 0xfec0 {
        SpecialRange::Private
    } else if s[0] & 0xffc0 == 0xfe80 {
        SpecialRange::LinkLocal
    } else if s[0] & 0xff00 == 0xff00 {
        SpecialRange::Multicast
    } else if (s[0], s[1]) == (0x2001, 0x0db8) || (s[0] == 0x3fff && s[1] & 0xf000 == 0) {
        SpecialRange::Documentation
    } else if s[..6] == [0; 6]
        || s[..4] == [0x0100, 0, 0, 0]
        || (s[0], s[1], s[2]) == (0x2001, 0x0002, 0)
    {
        SpecialRange::Reserved
    } else {
        return None;
    };
    Some(range)
}

/// Whether `name` is `localhost` or a name under it, which resolve to loopback (RFC 6761).
fn is_localhost(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// Why a webhook target is refused. Shown without the URL, which may carry a token in its
/// query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetRefused {
    /// Not an `http(s)://` URL with a host.
    NotAUrl,
    /// A user name or password in the URL.
    Credentials,
    /// `http://` to a host that is not loopback.
    PlainHttp,
    /// The host is, or resolves to, an address in `range` and the bank does not allow private
    /// targets.
    Private {
        /// The address or name, e.g. `169.254.169.254` or `localhost`.
        address: String,
        /// Its range.
        range: SpecialRange,
    },
}

impl fmt::Display for TargetRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAUrl => write!(f, "must be an https:// URL with a host"),
            Self::Credentials => write!(
                f,
                "must not carry a user name or password (the Mamori-Signature header authenticates Mamori)"
            ),
            Self::PlainHttp => write!(
                f,
                "must use https:// (http:// only to a loopback host: 127.0.0.1, [::1] or localhost)"
            ),
            Self::Private { address, range } => write!(
                f,
                "names {address}, {}; webhooks go to private, loopback or link-local targets only with push.webhook_allow_private = true",
                range.describe()
            ),
        }
    }
}

impl std::error::Error for TargetRefused {}

/// The host a webhook goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetHost {
    /// An IP literal: connected to as it is, no DNS.
    Ip(IpAddr),
    /// A DNS name (lower case, IDNA-encoded): resolved and checked at every try.
    Name(String),
}

/// A webhook URL that passed [`check_webhook_url`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookTarget {
    url: url::Url,
    host: TargetHost,
    port: u16,
}

impl WebhookTarget {
    /// The URL to POST to.
    pub fn url(&self) -> &url::Url {
        &self.url
    }

    /// Its host.
    pub fn host(&self) -> &TargetHost {
        &self.host
    }

    /// Its port (the scheme's default when the URL names none).
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl fmt::Display for TargetHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ip(ip) => write!(f, "{ip}"),
            Self::Name(name) => write!(f, "{name}"),
        }
    }
}

/// Checks a webhook URL (module doc): `https://`, or `http://` to a loopback host; no user or
/// password; and unless `allow_private`, no host that is a special-range IP literal or
/// `localhost`. A DNS name is not resolved here: [`check_addresses`] judges its addresses at
/// delivery.
pub fn check_webhook_url(text: &str, allow_private: bool) -> Result<WebhookTarget, TargetRefused> {
    let url = url::Url::parse(text).map_err(|_| TargetRefused::NotAUrl)?;
    let https = match url.scheme() {
        "https" => true,
        "http" => false,
        _ => return Err(TargetRefused::NotAUrl),
    };
    let host = match url.host() {
        Some(url::Host::Ipv4(ip)) => TargetHost::Ip(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => TargetHost::Ip(IpAddr::V6(ip)),
        Some(url::Host::Domain(name)) if !name.is_empty() => TargetHost::Name(name.to_owned()),
        _ => return Err(TargetRefused::NotAUrl),
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(TargetRefused::Credentials);
    }
    let range = match &host {
        TargetHost::Ip(ip) => special_range(*ip),
        TargetHost::Name(name) => is_localhost(name).then_some(SpecialRange::Loopback),
    };
    if !https && range != Some(SpecialRange::Loopback) {
        return Err(TargetRefused::PlainHttp);
    }
    if let Some(range) = range
        && !allow_private
    {
        return Err(TargetRefused::Private {
            address: host.to_string(),
            range,
        });
    }
    let port = url
        .port_or_known_default()
        .unwrap_or(if https { 443 } else { 80 });
    Ok(WebhookTarget { url, host, port })
}

/// Checks the addresses a webhook's host resolved to: unless `allow_private`, refused if ANY is
/// in a special range, since the connection may go to any of them.
pub fn check_addresses(addresses: &[IpAddr], allow_private: bool) -> Result<(), TargetRefused> {
    if allow_private {
        return Ok(());
    }
    match addresses
        .iter()
        .find_map(|&ip| special_range(ip).map(|range| (ip, range)))
    {
        Some((ip, range)) => Err(TargetRefused::Private {
            address: ip.to_string(),
            range,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range_of(ip: &str) -> Option<SpecialRange> {
        special_range(ip.parse().unwrap())
    }

    #[test]
    fn public_addresses_are_not_special() {
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "169.253.255.255",
            "192.0.1.255",
            "192.0.3.0",
            "192.167.255.255",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "2001:4860:4860::8888",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2001:db9::1",
        ] {
            assert_eq!(range_of(ip), None, "{ip}");
        }
    }

    #[test]
    fn every_special_range_is_named() {
        use SpecialRange::*;
        for (ip, range) in [
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", Unspecified),
            ("::", Unspecified),
            ("127.0.0.1", Loopback),
            ("127.255.255.254", Loopback),
            ("::1", Loopback),
            ("10.0.0.5", Private),
            ("10.255.255.255", Private),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("192.168.1.1", Private),
            ("fc00::1", Private),
            ("fd12:3456::1", Private),
            ("fec0::1", Private),
            ("169.254.169.254", LinkLocal),
            ("169.254.0.1", LinkLocal),
            ("fe80::1", LinkLocal),
            ("febf::1", LinkLocal),
            ("100.64.0.1", Shared),
            ("100.127.255.255", Shared),
            ("224.0.0.1", Multicast),
            ("239.255.255.250", Multicast),
            ("ff02::1", Multicast),
            ("255.255.255.255", Broadcast),
            ("192.0.2.10", Documentation),
            ("198.51.100.7", Documentation),
            ("203.0.113.99", Documentation),
            ("2001:db8::1", Documentation),
            ("3fff::1", Documentation),
            ("192.0.0.8", Reserved),
            ("198.18.0.1", Reserved),
            ("198.19.255.255", Reserved),
            ("240.0.0.1", Reserved),
            ("::7f00:1", Reserved),
            ("100::1", Reserved),
            ("2001:2::1", Reserved),
        ] {
            assert_eq!(range_of(ip), Some(range), "{ip}");
        }
    }

    #[test]
    fn ipv4_carried_in_ipv6_is_judged_as_ipv4() {
        for (ip, range) in [
            ("::ffff:127.0.0.1", SpecialRange::Loopback),
            ("::ffff:169.254.169.254", SpecialRange::LinkLocal),
            ("::ffff:10.1.2.3", SpecialRange::Private),
            ("::ffff:0.0.0.0", SpecialRange::Unspecified),
            ("64:ff9b::a9fe:a9fe", SpecialRange::LinkLocal),
            ("64:ff9b::7f00:1", SpecialRange::Loopback),
        ] {
            assert_eq!(range_of(ip), Some(range), "{ip}");
        }
    }

    #[test]
    fn https_to_a_public_host_is_accepted() {
        let target = check_webhook_url("https://ib.example.jp/mamori/push?k=1", false).unwrap();
        assert_eq!(target.host(), &TargetHost::Name("ib.example.jp".into()));
        assert_eq!(target.port(), 443);
        let target = check_webhook_url("https://8.8.8.8:8443/hook", false).unwrap();
        assert_eq!(target.host(), &TargetHost::Ip("8.8.8.8".parse().unwrap()));
        assert_eq!(target.port(), 8443);
    }

    #[test]
    fn http_only_to_a_loopback_host() {
        for url in [
            "http://ib.example.jp/hook",
            "http://8.8.8.8/hook",
            "http://10.0.0.5/hook",
            "http://169.254.169.254/latest/meta-data/",
            "http://[fe80::1]/hook",
        ] {
            assert_eq!(
                check_webhook_url(url, true),
                Err(TargetRefused::PlainHttp),
                "{url}"
            );
        }
        for url in [
            "http://127.0.0.1:8099/hook",
            "http://127.1.2.3/hook",
            "http://[::1]:8099/hook",
            "http://[::ffff:127.0.0.1]/hook",
            "http://localhost:8099/hook",
            "http://LOCALHOST./hook",
            "http://app.localhost/hook",
        ] {
            assert!(check_webhook_url(url, true).is_ok(), "{url}");
            assert!(
                matches!(
                    check_webhook_url(url, false),
                    Err(TargetRefused::Private {
                        range: SpecialRange::Loopback,
                        ..
                    })
                ),
                "{url}"
            );
        }
    }

    #[test]
    fn special_literals_need_the_bank_to_allow_private_targets() {
        for (url, address) in [
            (
                "https://169.254.169.254/latest/meta-data/",
                "169.254.169.254",
            ),
            ("https://10.0.0.5/hook", "10.0.0.5"),
            ("https://[fd00::5]/hook", "fd00::5"),
            ("https://[fe80::1]/hook", "fe80::1"),
            (
                "https://[::ffff:169.254.169.254]/hook",
                "::ffff:169.254.169.254",
            ),
            ("https://100.64.0.1/hook", "100.64.0.1"),
            ("https://0.0.0.0/hook", "0.0.0.0"),
            ("https://224.0.0.1/hook", "224.0.0.1"),
            ("https://192.0.2.1/hook", "192.0.2.1"),
            // Other spellings of 127.0.0.1 are read as the address they are.
            ("https://2130706433/hook", "127.0.0.1"),
            ("https://0x7f.1/hook", "127.0.0.1"),
        ] {
            let refused = check_webhook_url(url, false).unwrap_err();
            assert!(
                matches!(&refused, TargetRefused::Private { address: a, .. } if a == address),
                "{url}: {refused:?}"
            );
            assert!(check_webhook_url(url, true).is_ok(), "{url}");
        }
        assert_eq!(
            check_webhook_url("https://169.254.169.254/", false)
                .unwrap_err()
                .to_string(),
            "names 169.254.169.254, a link-local address; webhooks go to private, loopback or \
             link-local targets only with push.webhook_allow_private = true"
        );
    }

    #[test]
    fn not_a_url_or_with_credentials_is_refused_even_when_private_is_allowed() {
        for bad in [
            "ftp://example.jp/x",
            "example.jp/hook",
            "mailto:ops@example.jp",
            "https://",
            "",
        ] {
            assert_eq!(
                check_webhook_url(bad, true),
                Err(TargetRefused::NotAUrl),
                "{bad}"
            );
        }
        assert_eq!(
            check_webhook_url("https://user:secret@example.jp/hook", true),
            Err(TargetRefused::Credentials)
        );
    }

    #[test]
    fn one_special_address_among_the_answers_refuses_them_all() {
        let public: IpAddr = "93.184.215.14".parse().unwrap();
        let metadata: IpAddr = "169.254.169.254".parse().unwrap();
        assert_eq!(check_addresses(&[public], false), Ok(()));
        assert_eq!(
            check_addresses(&[public, metadata], false),
            Err(TargetRefused::Private {
                address: "169.254.169.254".into(),
                range: SpecialRange::LinkLocal
            })
        );
        assert_eq!(check_addresses(&[public, metadata], true), Ok(()));
    }
}
