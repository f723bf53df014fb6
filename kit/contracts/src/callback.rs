//! Which callback URLs may be called: the rule the async pattern applies when a job names one,
//! and the callbacks pattern applies again before each delivery. A caller chooses the URL, so
//! without these checks a job submission could make the dispatcher reach the instance metadata
//! service, a database in the VPC or anything else only the function can see (server-side
//! request forgery).
//!
//! Two moments, one rule:
//! - at submit time, [`check_url`] refuses what the URL alone shows: not https, credentials in
//!   the URL, a port the deployer did not list (443 only by default), a host that is a private,
//!   loopback or link-local address (in any form that reaches one: IPv4-compatible, -mapped or
//!   -translated IPv6, 6to4, Teredo, NAT64) or `localhost`, or an IPv4 address written other than
//!   in dotted decimal (`2852039166`, `0xa9fea9fe`: what browsers and resolvers read as IPv4);
//! - at delivery time, [`is_allowed_address`] is applied to every address the host name resolves
//!   to, and the connection goes only to an allowed one (a name can resolve to a private address,
//!   or change what it resolves to between submit and delivery).
//!
//! [`Policy::allow_loopback_http`] lets `http://` URLs on loopback through, for the local stack's
//! test receivers only; the functions switch it on only under the local stack.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use http::Uri;

/// Longer callback URLs are refused.
pub const MAX_URL_LENGTH: usize = 2048;

/// The ports an https callback may name: 443 unless the deployer lists others (the
/// `CALLBACK_PORTS` setting, comma-separated: `443,8443`, read through [`std::str::FromStr`]
/// once at init; the list lives as long as the process).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports(pub &'static [u16]);

impl Ports {
    pub const DEFAULT: Ports = Ports(&[443]);

    pub fn allows(self, port: u16) -> bool {
        self.0.contains(&port)
    }
}

impl std::str::FromStr for Ports {
    type Err = &'static str;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let ports = text
            .split(',')
            .map(|port| port.trim().parse::<u16>().ok().filter(|port| *port > 0))
            .collect::<Option<Vec<_>>>()
            .filter(|ports| !ports.is_empty())
            .ok_or("not a comma-separated list of ports (443,8443)")?;
        Ok(Ports(Vec::leak(ports)))
    }
}

/// What may be called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Also `http://` URLs whose host is a loopback address or `localhost`, on any port (local
    /// testing).
    pub allow_loopback_http: bool,
    /// The ports an https callback may name.
    pub ports: Ports,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            allow_loopback_http: false,
            ports: Ports::DEFAULT,
        }
    }
}

/// A callback URL that passed [`check_url`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackUrl {
    uri: Uri,
}

impl CallbackUrl {
    pub fn as_uri(&self) -> &Uri {
        &self.uri
    }

    /// The host as written (brackets of an IPv6 literal removed).
    pub fn host(&self) -> &str {
        host_of(&self.uri)
    }

    pub fn is_https(&self) -> bool {
        self.uri.scheme_str() == Some("https")
    }
}

impl std::fmt::Display for CallbackUrl {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.uri.fmt(formatter)
    }
}

/// Why a callback URL is refused; the text is what the API tells the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("must be at most {MAX_URL_LENGTH} characters")]
    TooLong,
    #[error("must be an absolute URL")]
    NotAUrl,
    #[error("must use https")]
    NotHttps,
    #[error("must not contain credentials")]
    HasCredentials,
    #[error("must not point at a private, loopback or link-local address")]
    PrivateAddress,
    #[error("must write an IP address in its standard form (IPv4 in dotted decimal)")]
    NonStandardAddress,
    #[error("must use a port this deployment allows")]
    PortNotAllowed,
}

/// Checks a callback URL against `policy` with what the URL itself shows.
pub fn check_url(text: &str, policy: Policy) -> Result<CallbackUrl, Refusal> {
    if text.len() > MAX_URL_LENGTH {
        return Err(Refusal::TooLong);
    }
    let uri: Uri = text.parse().map_err(|_| Refusal::NotAUrl)?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err(Refusal::NotAUrl);
    };
    if authority.as_str().contains('@') {
        return Err(Refusal::HasCredentials);
    }
    let host = host_of(&uri);
    if host.is_empty() {
        return Err(Refusal::NotAUrl);
    }
    let loopback = is_loopback_host(host);
    let local = policy.allow_loopback_http && loopback;
    match scheme {
        "https" => {}
        "http" if local => {}
        "http" => return Err(Refusal::NotHttps),
        _ => return Err(Refusal::NotHttps),
    }
    let address = host.parse::<IpAddr>().ok();
    if address.is_none() && is_numeric_host(host) {
        return Err(Refusal::NonStandardAddress);
    }
    let allowed = match address {
        Some(address) => is_allowed_address(address, policy),
        None => !is_local_name(host) || local,
    };
    if !allowed {
        return Err(Refusal::PrivateAddress);
    }
    let port = uri.port_u16().unwrap_or(443);
    if !local && !policy.ports.allows(port) {
        return Err(Refusal::PortNotAllowed);
    }
    Ok(CallbackUrl { uri })
}

/// Whether a delivery may connect to `address`: public unicast addresses only, plus loopback
/// when the policy allows it.
pub fn is_allowed_address(address: IpAddr, policy: Policy) -> bool {
    let address = match address {
        // ::ffff:a.b.c.d is the IPv4 address a.b.c.d.
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    if address.is_loopback() {
        return policy.allow_loopback_http;
    }
    match address {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(address: Ipv4Addr) -> bool {
    let [a, b, ..] = address.octets();
    !(address.is_private()
        || address.is_link_local() // 169.254/16, the instance metadata service among them
        || address.is_unspecified()
        || address.is_broadcast()
        || address.is_multicast()
        || address.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT, 100.64/10
        || (a == 192 && b == 0 && address.octets()[2] == 0) // IETF protocol assignments, 192.0.0/24
        || (a == 198 && (b == 18 || b == 19)) // benchmarking, 198.18/15
        || a >= 240) // reserved
}

/// Global unicast (2000::/3) only, less the ranges that reach an IPv4 address or are not
/// routed: what is outside 2000::/3 is IPv4-compatible (`::a9fe:a9fe`), IPv4-translated
/// (`::ffff:0:a9fe:a9fe`), NAT64 (`64:ff9b::/96`), unique local, link- or site-local
/// (`fec0::/10`), multicast or reserved.
fn is_public_v6(address: Ipv6Addr) -> bool {
    let [first, second, ..] = address.segments();
    (first & 0xe000) == 0x2000
        && first != 0x2002 // 6to4, 2002::/16: an IPv4 address inside
        && !(first == 0x2001 && second == 0x0000) // Teredo, 2001::/32: an IPv4 address inside
        && !(first == 0x2001 && second == 0x0db8) // documentation
        && !(first == 0x2001 && (0x0010..0x0020).contains(&second)) // ORCHID, 2001:10::/28
}

/// A host whose last label is a number (`2852039166`, `0xa9fea9fe`, `169.254.43518`): URL
/// parsers and resolvers read it as an IPv4 address in a non-standard form; no DNS name ends in
/// one.
fn is_numeric_host(host: &str) -> bool {
    let last = host.trim_end_matches('.').rsplit('.').next().unwrap_or_default();
    let last = last.to_ascii_lowercase();
    !last.is_empty()
        && (last.bytes().all(|byte| byte.is_ascii_digit())
            || last
                .strip_prefix("0x")
                .is_some_and(|hex| hex.bytes().all(|byte| byte.is_ascii_hexdigit())))
}

fn host_of(uri: &Uri) -> &str {
    let host = uri.host().unwrap_or_default();
    host.strip_prefix('[')
        .and_then(|host| host.strip_suffix(']'))
        .unwrap_or(host)
}

fn is_loopback_host(host: &str) -> bool {
    match host.parse::<IpAddr>() {
        Ok(address) => address.is_loopback(),
        Err(_) => is_local_name(host),
    }
}

/// Names that mean this machine whatever DNS says.
fn is_local_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRODUCTION: Policy = Policy {
        allow_loopback_http: false,
        ports: Ports::DEFAULT,
    };
    const LOCAL: Policy = Policy {
        allow_loopback_http: true,
        ports: Ports::DEFAULT,
    };

    #[test]
    fn accepts_https_urls_on_public_hosts() {
        for url in [
            "https://hooks.example.com/jobs",
            "https://hooks.example.com:443/jobs?tenant=7",
            "https://93.184.216.34/hook",
            "https://[2606:2800:220:1:248:1893:25c8:1946]/hook",
        ] {
            let checked = check_url(url, PRODUCTION).unwrap_or_else(|refusal| panic!("{url}: {refusal}"));
            assert_eq!(checked.to_string(), url);
        }
    }

    #[test]
    fn refuses_what_is_not_an_https_url() {
        assert_eq!(
            check_url("http://hooks.example.com/", PRODUCTION),
            Err(Refusal::NotHttps)
        );
        assert_eq!(
            check_url("ftp://hooks.example.com/", PRODUCTION),
            Err(Refusal::NotHttps)
        );
        assert_eq!(check_url("hooks.example.com/jobs", PRODUCTION), Err(Refusal::NotAUrl));
        assert_eq!(check_url("/jobs", PRODUCTION), Err(Refusal::NotAUrl));
        assert_eq!(check_url("https://", PRODUCTION), Err(Refusal::NotAUrl));
        assert_eq!(
            check_url(&format!("https://a.example/{}", "x".repeat(MAX_URL_LENGTH)), PRODUCTION),
            Err(Refusal::TooLong)
        );
        assert_eq!(
            check_url("https://user:pw@hooks.example.com/", PRODUCTION),
            Err(Refusal::HasCredentials)
        );
    }

    #[test]
    fn refuses_private_loopback_and_link_local_hosts() {
        for url in [
            "https://10.0.0.7/",
            "https://172.16.5.4/",
            "https://192.168.1.1/",
            "https://169.254.169.254/latest/meta-data/",
            "https://127.0.0.1/",
            "https://0.0.0.0/",
            "https://100.64.0.1/",
            "https://[::1]/",
            "https://[fd00::1]/",
            "https://[fe80::1]/",
            "https://[::ffff:169.254.169.254]/",
            // IPv6 forms with an internal IPv4 address inside, and site-local.
            "https://[::a9fe:a9fe]/",
            "https://[::ffff:0:a9fe:a9fe]/",
            "https://[2002:a9fe:a9fe::1]/",
            "https://[2001:0:4136:e378:8000:63bf:5601:5601]/",
            "https://[64:ff9b::a9fe:a9fe]/",
            "https://[fec0::1]/",
            "https://localhost/",
            "https://api.localhost./",
        ] {
            assert_eq!(check_url(url, PRODUCTION), Err(Refusal::PrivateAddress), "{url}");
        }
    }

    #[test]
    fn refuses_ipv4_addresses_written_as_numbers() {
        for url in [
            "https://2852039166/",
            "https://0xa9fea9fe/",
            "https://0XA9FEA9FE/",
            "https://169.254.43518/",
            "https://0251.0376.0251.0376/",
            "https://hooks.example.123/",
        ] {
            assert_eq!(check_url(url, PRODUCTION), Err(Refusal::NonStandardAddress), "{url}");
        }
        // A label that merely starts with digits is a name.
        assert!(check_url("https://1password.example.com/", PRODUCTION).is_ok());
    }

    #[test]
    fn allows_only_the_listed_ports() {
        assert_eq!(
            check_url("https://hooks.example.com:8443/", PRODUCTION),
            Err(Refusal::PortNotAllowed)
        );
        assert_eq!(
            check_url("https://hooks.example.com:22/", PRODUCTION),
            Err(Refusal::PortNotAllowed)
        );
        let listed = Policy {
            ports: Ports(&[443, 8443]),
            ..PRODUCTION
        };
        assert!(check_url("https://hooks.example.com:8443/", listed).is_ok());
        assert_eq!(" 443, 8443".parse(), Ok(Ports(&[443, 8443])));
        for wrong in ["", "443,", "https", "0", "70000"] {
            assert!(wrong.parse::<Ports>().is_err(), "{wrong:?}");
        }
        assert!(check_url("https://hooks.example.com/", listed).is_ok());
    }

    #[test]
    fn the_local_policy_lets_loopback_through_and_nothing_else() {
        assert!(check_url("http://127.0.0.1:8123/hook", LOCAL).is_ok());
        assert!(check_url("http://localhost:8123/hook", LOCAL).is_ok());
        assert!(check_url("http://[::1]:8123/hook", LOCAL).is_ok());
        assert_eq!(
            check_url("http://127.0.0.1:8123/hook", PRODUCTION),
            Err(Refusal::NotHttps)
        );
        assert_eq!(check_url("http://hooks.example.com/", LOCAL), Err(Refusal::NotHttps));
        assert_eq!(check_url("https://10.1.2.3/", LOCAL), Err(Refusal::PrivateAddress));
        assert_eq!(
            check_url("https://169.254.169.254/", LOCAL),
            Err(Refusal::PrivateAddress)
        );
    }

    #[test]
    fn resolved_addresses_are_checked_the_same_way() {
        let public: IpAddr = "93.184.216.34".parse().unwrap();
        assert!(is_allowed_address(public, PRODUCTION));
        for private in [
            "10.1.1.1",
            "169.254.169.254",
            "127.0.0.1",
            "::1",
            "::ffff:10.0.0.1",
            "fc00::5",
            "64:ff9b::a9fe:a9fe",
            "::a9fe:a9fe",
            "::ffff:0:a9fe:a9fe",
            "2002:a9fe:a9fe::1",
            "2001:0:4136:e378:8000:63bf:5601:5601",
            "fec0::1",
        ] {
            assert!(!is_allowed_address(private.parse().unwrap(), PRODUCTION), "{private}");
        }
        assert!(is_allowed_address("127.0.0.1".parse().unwrap(), LOCAL));
        assert!(!is_allowed_address("10.1.1.1".parse().unwrap(), LOCAL));
    }
}
