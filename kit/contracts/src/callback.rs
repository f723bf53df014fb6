//! Which callback URLs may be called: the rule the async pattern applies when a job names one,
//! and the callbacks pattern applies again before each delivery. A caller chooses the URL, so
//! without these checks a job submission could make the dispatcher reach the instance metadata
//! service, a database in the VPC or anything else only the function can see (server-side
//! request forgery).
//!
//! Two moments, one rule:
//! - at submit time, [`check_url`] refuses what the URL alone shows: not https, credentials in
//!   the URL, a host that is a private, loopback or link-local address or `localhost`;
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

/// What may be called.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    /// Also `http://` URLs whose host is a loopback address or `localhost` (local testing).
    pub allow_loopback_http: bool,
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
    match scheme {
        "https" => {}
        "http" if policy.allow_loopback_http && loopback => {}
        "http" => return Err(Refusal::NotHttps),
        _ => return Err(Refusal::NotHttps),
    }
    let allowed = match host.parse::<IpAddr>() {
        Ok(address) => is_allowed_address(address, policy),
        Err(_) => !is_local_name(host) || (policy.allow_loopback_http && loopback),
    };
    if !allowed {
        return Err(Refusal::PrivateAddress);
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

fn is_public_v6(address: Ipv6Addr) -> bool {
    let first = address.segments()[0];
    !(address.is_unspecified()
        || address.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local, fc00::/7
        || (first & 0xffc0) == 0xfe80 // link-local, fe80::/10
        || first == 0x2001 && address.segments()[1] == 0x0db8 // documentation
        || first == 0x0064 && address.segments()[1] == 0xff9b) // NAT64, 64:ff9b::/96, can reach IPv4 inside
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
    };
    const LOCAL: Policy = Policy {
        allow_loopback_http: true,
    };

    #[test]
    fn accepts_https_urls_on_public_hosts() {
        for url in [
            "https://hooks.example.com/jobs",
            "https://hooks.example.com:8443/jobs?tenant=7",
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
            "https://localhost/",
            "https://api.localhost./",
        ] {
            assert_eq!(check_url(url, PRODUCTION), Err(Refusal::PrivateAddress), "{url}");
        }
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
        ] {
            assert!(!is_allowed_address(private.parse().unwrap(), PRODUCTION), "{private}");
        }
        assert!(is_allowed_address("127.0.0.1".parse().unwrap(), LOCAL));
        assert!(!is_allowed_address("10.1.1.1".parse().unwrap(), LOCAL));
    }
}
