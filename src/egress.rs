//! Where webhooks may go: the guard against server-side request forgery.
//!
//! A contact's webhook URL is chosen by an API client, and the dispatcher POSTs to it from
//! inside the network Runledger runs in. Unless the server runs with
//! `--allow-private-webhooks`, a webhook may only reach public addresses: never loopback,
//! private, carrier-grade NAT, link-local (cloud metadata), multicast or otherwise reserved
//! ones, whether written as an IP literal (in any of its spellings, IPv4-mapped IPv6
//! included) or reached through a name. Names are checked where they are resolved, by
//! [`GuardedResolver`], and the connection goes to the addresses it checked, so a name that
//! resolves differently from one moment to the next (DNS rebinding) gains nothing. The opt-in
//! lets private and loopback addresses through, never link-local or reserved ones.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// The kinds of address a webhook may not reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Range {
    Loopback,
    /// RFC 1918, fc00::/7 (unique local) and the deprecated fec0::/10 (site-local).
    Private,
    /// 100.64.0.0/10, shared by carrier-grade NAT and often by cloud-internal networks.
    SharedAddressSpace,
    /// 169.254.0.0/16 and fe80::/10, where cloud metadata services (169.254.169.254) answer.
    LinkLocal,
    Unspecified,
    Multicast,
    Broadcast,
    /// Documentation, benchmarking, protocol-assignment, Teredo and future-use ranges.
    Reserved,
}

impl Range {
    /// Whether `--allow-private-webhooks` lets a webhook reach it.
    pub fn allowed_on_request(self) -> bool {
        matches!(
            self,
            Range::Loopback | Range::Private | Range::SharedAddressSpace
        )
    }

    fn describe(self) -> &'static str {
        match self {
            Range::Loopback => "a loopback address",
            Range::Private => "a private address",
            Range::SharedAddressSpace => "a carrier-grade NAT address (100.64.0.0/10)",
            Range::LinkLocal => "a link-local address, where cloud metadata services answer",
            Range::Unspecified => "the unspecified address",
            Range::Multicast => "a multicast address",
            Range::Broadcast => "the broadcast address",
            Range::Reserved => "a reserved address",
        }
    }
}

/// The range `ip` falls in, if it is one a webhook may not reach by default.
pub fn classify(ip: IpAddr) -> Option<Range> {
    match ip {
        IpAddr::V4(ip) => classify_v4(ip),
        IpAddr::V6(ip) => classify_v6(ip),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Range> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        // 0.0.0.0/8: "this network"; on Linux a connection to 0.0.0.0 reaches the host itself.
        (0, _, _) => Range::Unspecified,
        (127, _, _) => Range::Loopback,
        (10, _, _) | (172, 16..=31, _) | (192, 168, _) => Range::Private,
        (100, 64..=127, _) => Range::SharedAddressSpace,
        (169, 254, _) => Range::LinkLocal,
        (224..=239, _, _) => Range::Multicast,
        (255, 255, 255) if ip.is_broadcast() => Range::Broadcast,
        (240..=255, _, _) => Range::Reserved,
        (192, 0, 0) | (192, 0, 2) | (198, 51, 100) | (203, 0, 113) | (198, 18..=19, _) => {
            Range::Reserved
        }
        _ => return None,
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<Range> {
    if ip.is_unspecified() {
        return Some(Range::Unspecified);
    }
    if ip.is_loopback() {
        return Some(Range::Loopback);
    }
    // ::ffff:a.b.c.d reaches a.b.c.d.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match s {
        // ::a.b.c.d, the deprecated IPv4-compatible form.
        [0, 0, 0, 0, 0, 0, _, _] => Some(Range::Reserved),
        // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) lead to the IPv4 address they embed.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => classify_v4(embedded(hi, lo)),
        [0x2002, hi, lo, ..] => classify_v4(embedded(hi, lo)),
        // Local-use NAT64, discard-only, Teredo, documentation.
        [0x64, 0xff9b, 1, ..] | [0x100, 0, 0, 0, ..] | [0x2001, 0, ..] | [0x2001, 0xdb8, ..] => {
            Some(Range::Reserved)
        }
        [first, ..] if first & 0xfe00 == 0xfc00 => Some(Range::Private),
        [first, ..] if first & 0xffc0 == 0xfe80 => Some(Range::LinkLocal),
        [first, ..] if first & 0xffc0 == 0xfec0 => Some(Range::Private),
        [first, ..] if first & 0xff00 == 0xff00 => Some(Range::Multicast),
        _ => None,
    }
}

/// Why a webhook may not be sent where its URL points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not an absolute `http://` or `https://` URL with a host.
    NotHttp,
    /// The URL's host is an IP literal in a refused range.
    Literal { address: IpAddr, range: Range },
    /// A name that means loopback by definition (`localhost`, `*.localhost`, RFC 6761).
    LoopbackName { host: String },
    /// A name that resolved to an address in a refused range.
    Resolved {
        host: String,
        address: IpAddr,
        range: Range,
    },
}

impl Refusal {
    /// What an operator can do about it, if anything.
    pub fn hint(&self) -> &'static str {
        let range = match self {
            Refusal::NotHttp => return "",
            Refusal::LoopbackName { .. } => Range::Loopback,
            Refusal::Literal { range, .. } | Refusal::Resolved { range, .. } => *range,
        };
        if range.allowed_on_request() {
            " (allowed only when the server runs with --allow-private-webhooks)"
        } else {
            ""
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotHttp => f.write_str("it is not an http:// or https:// URL with a host"),
            Refusal::Literal { address, range } => write!(f, "{address} is {}", range.describe()),
            Refusal::LoopbackName { host } => write!(f, "{host} is a loopback name"),
            Refusal::Resolved {
                host,
                address,
                range,
            } => write!(f, "{host} resolves to {address}, {}", range.describe()),
        }
    }
}

impl std::error::Error for Refusal {}

/// Whether an address of `range` may be reached under the policy.
fn refused(range: Option<Range>, allow_private: bool) -> Option<Range> {
    range.filter(|r| !(allow_private && r.allowed_on_request()))
}

/// Checks what can be checked of a webhook URL without resolving it: its scheme, and its host
/// if that is an IP literal (which is connected to without resolution). Runs when a contact is
/// written and again before every delivery, since the policy may have changed in between.
pub fn check_url(text: &str, allow_private: bool) -> Result<Url, Refusal> {
    let url = Url::parse(text).map_err(|_| Refusal::NotHttp)?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Refusal::NotHttp);
    }
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or(Refusal::NotHttp)?;
    // The parser has already normalised `0x7f.1`, `2130706433` and the like to dotted quads.
    let literal = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(address) = literal.parse::<IpAddr>()
        && let Some(range) = refused(classify(address), allow_private)
    {
        return Err(Refusal::Literal { address, range });
    }
    Ok(url)
}

/// [`check_url`], and names that are loopback by definition: for contacts as they are
/// written, where a `localhost` target is certainly a mistake or an attack. Deliveries leave
/// names to [`GuardedResolver`].
pub fn check_contact_url(text: &str, allow_private: bool) -> Result<Url, Refusal> {
    let url = check_url(text, allow_private)?;
    if let Some(host) = url.domain() {
        let name = host.trim_end_matches('.').to_ascii_lowercase();
        if !allow_private && (name == "localhost" || name.ends_with(".localhost")) {
            return Err(Refusal::LoopbackName {
                host: host.to_owned(),
            });
        }
    }
    Ok(url)
}

/// Checks every address a name resolved to: one refused address refuses the name, since a
/// public webhook host has no business resolving into the private network.
pub fn check_resolved(
    host: &str,
    addresses: &[SocketAddr],
    allow_private: bool,
) -> Result<(), Refusal> {
    for address in addresses {
        if let Some(range) = refused(classify(address.ip()), allow_private) {
            return Err(Refusal::Resolved {
                host: host.to_owned(),
                address: address.ip(),
                range,
            });
        }
    }
    Ok(())
}

/// The webhook client's resolver: the system's, then [`check_resolved`]. The client connects
/// only to the addresses returned here, the ones that were checked.
#[derive(Clone, Copy, Debug)]
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // Port 0: the client puts the URL's port (or the scheme's) in its place.
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            check_resolved(&host, &addresses, allow_private)?;
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

/// The refusal somewhere in an error's chain of sources: how a send that
/// [`GuardedResolver`] stopped is told from a receiver that could not be reached.
pub fn find_refusal<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a Refusal> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(refusal) = error.downcast_ref::<Refusal>() {
            return Some(refusal);
        }
        current = error.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(text: &str) -> Option<Range> {
        classify(text.parse().unwrap())
    }

    #[test]
    fn classifies_the_internal_ranges_of_both_families() {
        for (address, expected) in [
            ("127.0.0.1", Range::Loopback),
            ("127.255.0.9", Range::Loopback),
            ("10.1.2.3", Range::Private),
            ("172.16.0.1", Range::Private),
            ("172.31.255.255", Range::Private),
            ("192.168.0.10", Range::Private),
            ("100.64.0.1", Range::SharedAddressSpace),
            ("100.127.255.254", Range::SharedAddressSpace),
            ("169.254.169.254", Range::LinkLocal),
            ("0.0.0.0", Range::Unspecified),
            ("0.1.2.3", Range::Unspecified),
            ("224.0.0.251", Range::Multicast),
            ("255.255.255.255", Range::Broadcast),
            ("240.0.0.1", Range::Reserved),
            ("192.0.2.1", Range::Reserved),
            ("198.18.0.1", Range::Reserved),
            ("::1", Range::Loopback),
            ("::", Range::Unspecified),
            ("::ffff:127.0.0.1", Range::Loopback),
            ("::ffff:169.254.169.254", Range::LinkLocal),
            ("::ffff:10.0.0.1", Range::Private),
            ("::127.0.0.1", Range::Reserved),
            ("64:ff9b::a9fe:a9fe", Range::LinkLocal),
            ("2002:7f00:1::", Range::Loopback),
            ("2001::1", Range::Reserved),
            ("2001:db8::1", Range::Reserved),
            ("fc00::1", Range::Private),
            ("fd12:3456::1", Range::Private),
            ("fec0::1", Range::Private),
            ("fe80::1", Range::LinkLocal),
            ("febf::1", Range::LinkLocal),
            ("ff02::1", Range::Multicast),
        ] {
            assert_eq!(range(address), Some(expected), "{address}");
        }
        for public in [
            "93.184.215.14",
            "8.8.8.8",
            "172.15.255.255",
            "172.32.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "169.253.0.1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2606:4700::1111",
            "2a00:1450::1",
        ] {
            assert_eq!(range(public), None, "{public}");
        }
    }

    #[test]
    fn refuses_internal_literals_in_every_spelling_and_other_schemes() {
        for url in [
            "http://127.0.0.1/hook",
            "http://127.1/hook",
            "http://2130706433/",
            "http://0x7f.0.0.1/",
            "http://0177.0.0.1/",
            "https://[::1]:8443/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[fe80::1]/",
            "http://0.0.0.0:8080/",
        ] {
            assert!(
                matches!(check_url(url, false), Err(Refusal::Literal { .. })),
                "{url}"
            );
        }
        for url in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "gopher://x/",
            "http://",
        ] {
            assert_eq!(check_url(url, false), Err(Refusal::NotHttp), "{url}");
        }
        assert!(check_url("https://hooks.example.com/x", false).is_ok());
        assert!(check_url("http://93.184.215.14:8080/x", false).is_ok());
        // Names are the resolver's business at delivery, but obvious ones are caught early.
        assert!(check_url("http://localhost:8080/", false).is_ok());
        for url in [
            "http://localhost:8080/",
            "http://LOCALHOST./",
            "http://api.localhost/",
        ] {
            assert!(
                matches!(
                    check_contact_url(url, false),
                    Err(Refusal::LoopbackName { .. })
                ),
                "{url}"
            );
        }
    }

    #[test]
    fn the_opt_in_allows_private_and_loopback_but_never_link_local() {
        assert!(check_url("http://127.0.0.1:9/", true).is_ok());
        assert!(check_url("http://10.0.0.1/", true).is_ok());
        assert!(check_url("http://[fd00::1]/", true).is_ok());
        assert!(check_url("http://100.64.0.1/", true).is_ok());
        assert!(check_contact_url("http://localhost:9/", true).is_ok());
        let refusal = check_url("http://169.254.169.254/", true).unwrap_err();
        assert_eq!(
            refusal.to_string(),
            "169.254.169.254 is a link-local address, where cloud metadata services answer"
        );
        assert_eq!(refusal.hint(), "");
        let refusal = check_url("http://[::ffff:10.0.0.1]/", false).unwrap_err();
        assert_eq!(refusal.to_string(), "::ffff:10.0.0.1 is a private address");
        assert!(refusal.hint().contains("--allow-private-webhooks"));
    }

    #[tokio::test]
    async fn the_resolver_refuses_a_name_that_resolves_to_loopback() {
        let guard = GuardedResolver {
            allow_private: false,
        };
        let error = match guard.resolve("localhost".parse().unwrap()).await {
            Ok(_) => panic!("localhost resolved"),
            Err(error) => error,
        };
        let refusal = find_refusal(error.as_ref()).expect("a refusal");
        assert!(
            refusal.to_string().starts_with("localhost resolves to "),
            "{refusal}"
        );
        let allowed = GuardedResolver {
            allow_private: true,
        }
        .resolve("localhost".parse().unwrap())
        .await
        .expect("allowed");
        assert!(allowed.into_iter().all(|a| a.ip().is_loopback()));
    }
}
