//! Where the platform may POST a push message. An endpoint is a URL the subscribing browser
//! (or anyone posting to the subscription API) chose, so it must not make the platform reach
//! its own network: only HTTPS on port 443 (the push services' port) to a host name whose
//! addresses are all public. The name is checked when subscribing (a clear refusal) and again
//! at every connection, by the sender's resolver (DNS can change after the check).
//! `PARVIS_PUSH_ALLOW_LOOPBACK_HTTP` lets tests use a push service on `http://127.0.0.1:port`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use crate::notifications::push::{InvalidSubscription, MAX_ENDPOINT};

/// What the policy lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointPolicy {
    /// Loopback addresses (any port, HTTP or HTTPS) are allowed: a local push service in tests.
    pub allow_loopback: bool,
}

/// Whether the platform may connect to this address: public unicast only (loopback too when
/// the policy allows it).
pub fn allowed_address(ip: IpAddr, policy: EndpointPolicy) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    if ip.is_loopback() {
        return policy.allow_loopback;
    }
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_unspecified()
                || v4.is_documentation()
                // 0.0.0.0/8 "this network", 100.64.0.0/10 carrier-grade NAT, 240.0.0.0/4 reserved.
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            !(v6.is_unspecified()
                || v6.is_multicast()
                || v6.is_unique_local()
                || v6.is_unicast_link_local()
                // fec0::/10, the deprecated site-local range, still routed inside some networks.
                || (first & 0xffc0) == 0xfec0
                // 64:ff9b::/96 NAT64 can point back at private IPv4 addresses.
                || first == 0x64)
        }
    }
}

/// The endpoint in canonical form (`https://push.example/…`: trailing dots of the host
/// removed), or why it is refused. Names are not resolved here: see [`check_addresses`].
pub fn check_url(text: &str, policy: EndpointPolicy) -> Result<url::Url, InvalidSubscription> {
    if text.len() > MAX_ENDPOINT {
        return Err(InvalidSubscription::Endpoint);
    }
    let mut url = url::Url::parse(text.trim()).map_err(|_| InvalidSubscription::Endpoint)?;
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err(InvalidSubscription::Endpoint);
    }
    match url.host() {
        Some(url::Host::Ipv4(ip)) => literal(IpAddr::V4(ip), &url, policy)?,
        Some(url::Host::Ipv6(ip)) => literal(IpAddr::V6(ip), &url, policy)?,
        Some(url::Host::Domain(host)) => {
            // `localhost.` is `localhost`: a trailing dot only makes the name absolute.
            let name = host.trim_end_matches('.').to_ascii_lowercase();
            if url.scheme() != "https" || url.port().is_some_and(|p| p != 443) {
                return Err(InvalidSubscription::Port);
            }
            if !name.contains('.') || name == "localhost" || name.ends_with(".localhost") {
                return Err(InvalidSubscription::Endpoint);
            }
            if name != host {
                url.set_host(Some(&name))
                    .map_err(|_| InvalidSubscription::Endpoint)?;
            }
        }
        None => return Err(InvalidSubscription::Endpoint),
    }
    Ok(url)
}

/// An IP literal is only a loopback test service, when the policy allows it.
fn literal(ip: IpAddr, url: &url::Url, policy: EndpointPolicy) -> Result<(), InvalidSubscription> {
    let loopback_test =
        policy.allow_loopback && ip.is_loopback() && matches!(url.scheme(), "http" | "https");
    if loopback_test {
        Ok(())
    } else {
        Err(InvalidSubscription::Endpoint)
    }
}

/// Resolves the endpoint's host and refuses it unless every address is allowed (a name with
/// one private address among public ones is refused: the connection may pick any).
pub async fn check_addresses(
    url: &url::Url,
    policy: EndpointPolicy,
) -> Result<(), InvalidSubscription> {
    let Some(url::Host::Domain(host)) = url.host() else {
        // IP literals were checked by `check_url`.
        return Ok(());
    };
    let addresses = resolve(host, policy)
        .await
        .map_err(|_| InvalidSubscription::Unreachable)?;
    if addresses.is_empty() {
        return Err(InvalidSubscription::Unreachable);
    }
    Ok(())
}

/// The host's allowed addresses; an error if it resolves to none, or to a forbidden one.
async fn resolve(host: &str, policy: EndpointPolicy) -> std::io::Result<Vec<SocketAddr>> {
    let found: Vec<SocketAddr> = tokio::net::lookup_host((host, 0u16)).await?.collect();
    if let Some(bad) = found.iter().find(|a| !allowed_address(a.ip(), policy)) {
        return Err(std::io::Error::other(format!(
            "{host} resolves to {}, a non-public address",
            bad.ip()
        )));
    }
    Ok(found)
}

/// The push sender's DNS resolver: the addresses reqwest connects to are the ones checked.
#[derive(Debug, Clone, Copy)]
pub struct PublicResolver {
    /// What is allowed.
    pub policy: EndpointPolicy,
}

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy;
        let host = name.as_str().trim_end_matches('.').to_string();
        Box::pin(async move {
            let found = resolve(&host, policy).await?;
            if found.is_empty() {
                return Err(format!("{host} has no address").into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

impl PublicResolver {
    /// The resolver as reqwest's builder takes it.
    pub fn shared(policy: EndpointPolicy) -> Arc<PublicResolver> {
        Arc::new(PublicResolver { policy })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: EndpointPolicy = EndpointPolicy {
        allow_loopback: false,
    };

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn only_public_addresses() -> TestResult {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
        ] {
            let ip: IpAddr = bad.parse()?;
            assert!(!allowed_address(ip, STRICT), "{bad}");
        }
        for good in ["142.250.74.110", "2a00:1450:4007:80a::200a"] {
            let ip: IpAddr = good.parse()?;
            assert!(allowed_address(ip, STRICT), "{good}");
        }
        let tests = EndpointPolicy {
            allow_loopback: true,
        };
        assert!(allowed_address("127.0.0.1".parse()?, tests));
        assert!(!allowed_address("10.0.0.1".parse()?, tests));
        Ok(())
    }

    #[test]
    fn only_https_on_443_to_a_name() -> TestResult {
        let ok = check_url("https://fcm.googleapis.com./fcm/send/x", STRICT)?;
        assert_eq!(ok.as_str(), "https://fcm.googleapis.com/fcm/send/x");
        assert!(
            check_url(
                "https://updates.push.services.mozilla.com:443/wpush/v2/x",
                STRICT
            )
            .is_ok()
        );
        for (bad, why) in [
            (
                "https://redis.internal.corp:6379/x",
                InvalidSubscription::Port,
            ),
            ("https://push.example:8443/x", InvalidSubscription::Port),
            ("http://push.example/x", InvalidSubscription::Port),
            ("https://localhost./x", InvalidSubscription::Endpoint),
            ("https://LOCALHOST../x", InvalidSubscription::Endpoint),
            ("https://api.localhost/x", InvalidSubscription::Endpoint),
            ("https://127.0.0.1/x", InvalidSubscription::Endpoint),
            ("https://[::1]/x", InvalidSubscription::Endpoint),
            ("https://2130706433/x", InvalidSubscription::Endpoint),
        ] {
            assert_eq!(check_url(bad, STRICT).err(), Some(why), "{bad}");
        }
        Ok(())
    }

    #[tokio::test]
    async fn the_resolver_drops_loopback_names() -> TestResult {
        use reqwest::dns::Resolve as _;
        let resolver = PublicResolver { policy: STRICT };
        let name: reqwest::dns::Name = "localhost".parse().map_err(|_| "name")?;
        assert!(resolver.resolve(name).await.is_err());
        let url = url::Url::parse("https://localhost/x")?;
        assert_eq!(
            check_addresses(&url, STRICT).await,
            Err(InvalidSubscription::Unreachable)
        );
        Ok(())
    }
}
