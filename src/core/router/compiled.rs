//! The route table turned into the form the hot path wants: prefixes sorted longest first,
//! hosts normalised, eligible slots with cumulative weights, header values and error bodies
//! built once per table instead of once per request.

use super::respond;
use super::respond::Reject;
use super::{RouteMatch, RouteTable, SlotTarget, StickyBy};
use crate::core::metrics::{ReplicaStats, SlotMetrics, monotonic_ms};
use crate::core::types::SlotName;
use crate::core::workspace::OutlierSpec;
use hyper::body::Bytes;
use hyper::header::{COOKIE, HeaderMap, HeaderName, HeaderValue};
use hyper::http::uri::Authority;
use std::fmt::Write as _;
use std::sync::Arc;

/// The request header that forces a slot.
pub(super) const X_NAAP_SLOT: HeaderName = HeaderName::from_static("x-naap-slot");
/// The response header naming the version that answered.
pub(super) const X_NAAP_VERSION: HeaderName = HeaderName::from_static("x-naap-version");

/// A route table ready for routing.
pub(super) struct Compiled {
    pub(super) source: Arc<RouteTable>,
    pub(super) plugins: Vec<CompiledPlugin>,
    hosts: Vec<(String, usize)>,
    prefixes: Vec<PrefixRoute>,
    /// "/expenses → expense-tracker, host notes.localhost → notes", for 404 bodies.
    pub(super) known_routes: String,
}

struct PrefixRoute {
    prefix: String,
    strip: bool,
    plugin: usize,
}

/// Which plugin a request goes to, and how much of its path to strip.
pub(super) struct Found {
    pub(super) plugin: usize,
    pub(super) strip_len: usize,
}

pub(super) struct CompiledPlugin {
    name: String,
    sticky: Option<Sticky>,
    slots: Vec<Arc<Target>>,
    /// Healthy slots with weight, each with the end of its range in `0..total_weight`.
    eligible: Vec<(u32, Arc<Target>)>,
    /// Healthy slots without weight (a warm previous version): the last resort of a retry.
    standby: Vec<Arc<Target>>,
    total_weight: u32,
    /// The 503 body when no slot is eligible, e.g. "(blue: unhealthy, weight 100; ...)".
    no_slot_body: Bytes,
}

enum Sticky {
    Header(HeaderName),
    Cookie(String),
}

/// One slot, with its replicas and its response headers prepared.
pub(super) struct Target {
    pub(super) plugin: String,
    pub(super) slot: SlotName,
    pub(super) metrics: Arc<SlotMetrics>,
    pub(super) replicas: Vec<Replica>,
    pub(super) outlier: OutlierSpec,
    slot_header: HeaderValue,
    version_header: HeaderValue,
}

/// One process of a slot.
pub(super) struct Replica {
    pub(super) index: u32,
    pub(super) addr: std::net::SocketAddr,
    pub(super) authority: Authority,
    pub(super) stats: Arc<ReplicaStats>,
    healthy: bool,
}

impl Target {
    /// The replica for a request: among the healthy ones not ejected, the one with the
    /// fewest requests outstanding (ties broken from a random start, so equal replicas
    /// share the load); when every healthy one is ejected, the least loaded healthy one;
    /// when none is healthy (a pinned slot), the first. `except` is a replica that just
    /// failed this request.
    pub(super) fn pick(&self, except: Option<usize>) -> Option<usize> {
        let count = self.replicas.len();
        if count == 1 {
            return (except != Some(0)).then_some(0);
        }
        let now = monotonic_ms();
        let start = fastrand::usize(0..count.max(1));
        let mut best: Option<(bool, u64, usize)> = None;
        for offset in 0..count {
            let at = (start + offset) % count;
            let replica = &self.replicas[at];
            if Some(at) == except || !replica.healthy {
                continue;
            }
            // Rank: in rotation first, then fewest outstanding.
            let rank = (
                replica.stats.is_ejected(now),
                replica.stats.outstanding(),
                at,
            );
            if best.is_none_or(|b| (rank.0, rank.1) < (b.0, b.1)) {
                best = Some(rank);
            }
        }
        best.map(|(_, _, at)| at)
            .or_else(|| (0..count).find(|at| Some(*at) != except))
    }

    /// Whether another replica of the slot than `replica` is healthy and in rotation:
    /// the last one is never ejected.
    pub(super) fn others_in_rotation(&self, replica: usize) -> bool {
        let now = monotonic_ms();
        self.replicas
            .iter()
            .enumerate()
            .any(|(at, r)| at != replica && r.healthy && !r.stats.is_ejected(now))
    }

    /// Whether this replica passes its health checks (and is not draining).
    pub(super) fn replica_healthy(&self, replica: usize) -> bool {
        self.replicas.get(replica).is_some_and(|r| r.healthy)
    }

    /// Whether a request that failed on one replica could go to another of this slot.
    pub(super) fn has_other_replicas(&self) -> bool {
        self.replicas.iter().filter(|r| r.healthy).count() > 1
    }

    /// Marks a response with the slot and version that produced it.
    pub(super) fn stamp(&self, headers: &mut HeaderMap) {
        headers.insert(X_NAAP_SLOT, self.slot_header.clone());
        headers.insert(X_NAAP_VERSION, self.version_header.clone());
    }
}

impl Compiled {
    pub(super) fn new(table: RouteTable) -> Compiled {
        let mut hosts: Vec<(String, usize)> = Vec::new();
        let mut prefixes: Vec<PrefixRoute> = Vec::new();
        let mut known = Vec::new();
        for (index, route) in table.plugins.iter().enumerate() {
            match &route.matcher {
                RouteMatch::Host(host) => {
                    let host = normalize_host(host);
                    known.push(format!("host {host} → {}", route.name));
                    if hosts.iter().any(|(h, _)| *h == host) {
                        tracing::warn!(plugin = %route.name, %host, "host already routed to another plugin; ignoring this route");
                    } else {
                        hosts.push((host, index));
                    }
                }
                RouteMatch::Prefix { prefix, strip } => {
                    let prefix = normalize_prefix(prefix);
                    known.push(format!("{prefix} → {}", route.name));
                    if prefixes.iter().any(|p| p.prefix == prefix) {
                        tracing::warn!(plugin = %route.name, %prefix, "prefix already routed to another plugin; ignoring this route");
                    } else {
                        // Stripping "/" would change nothing, and would cut the path's slash.
                        let strip = *strip && prefix != "/";
                        prefixes.push(PrefixRoute {
                            prefix,
                            strip,
                            plugin: index,
                        });
                    }
                }
            }
        }
        // Longest prefix first, so the first match is the most specific one.
        prefixes.sort_by_key(|p| std::cmp::Reverse(p.prefix.len()));
        let plugins = table.plugins.iter().map(CompiledPlugin::new).collect();
        Compiled {
            source: Arc::new(table),
            plugins,
            hosts,
            prefixes,
            known_routes: known.join(", "),
        }
    }

    /// A slot to retry a request on after `failed` of `plugin` failed before answering.
    pub(super) fn fallback(&self, plugin: &str, failed: SlotName) -> Option<Arc<Target>> {
        self.plugins
            .iter()
            .find(|p| p.name == plugin)
            .and_then(|p| p.fallback(failed))
    }

    /// The plugin for a request: a host route first, else the longest matching prefix.
    pub(super) fn find(&self, host: Option<&str>, path: &str) -> Option<Found> {
        if let Some(host) = host {
            let host = strip_port(host);
            let host = host.strip_suffix('.').unwrap_or(host);
            if let Some((_, plugin)) = self
                .hosts
                .iter()
                .find(|(h, _)| h.eq_ignore_ascii_case(host))
            {
                return Some(Found {
                    plugin: *plugin,
                    strip_len: 0,
                });
            }
        }
        self.prefixes
            .iter()
            .find(|p| prefix_matches(&p.prefix, path))
            .map(|p| Found {
                plugin: p.plugin,
                strip_len: if p.strip { p.prefix.len() } else { 0 },
            })
    }
}

impl CompiledPlugin {
    fn new(route: &super::PluginRoute) -> CompiledPlugin {
        let slots: Vec<Arc<Target>> = route
            .slots
            .iter()
            .filter(|s| !s.replicas.is_empty())
            .map(|s| Arc::new(Target::new(&route.name, s, &route.outlier)))
            .collect();
        let mut eligible = Vec::new();
        let mut standby = Vec::new();
        let mut total_weight: u32 = 0;
        for (spec, target) in route
            .slots
            .iter()
            .filter(|s| !s.replicas.is_empty())
            .zip(&slots)
        {
            // A preview is reached by its header only, never by weight or by a retry.
            if !spec.healthy || spec.slot.is_preview() {
                continue;
            }
            if spec.weight > 0 {
                total_weight = total_weight.saturating_add(spec.weight);
                eligible.push((total_weight, Arc::clone(target)));
            } else {
                standby.push(Arc::clone(target));
            }
        }
        let sticky = route.sticky.as_ref().and_then(|s| match s {
            StickyBy::Header(name) => match HeaderName::try_from(name.trim()) {
                Ok(name) => Some(Sticky::Header(name)),
                Err(_) => {
                    tracing::warn!(plugin = %route.name, header = %name, "sticky header name is not a valid HTTP header name; stickiness is off");
                    None
                }
            },
            StickyBy::Cookie(name) => Some(Sticky::Cookie(name.trim().to_owned())),
        });
        CompiledPlugin {
            name: route.name.clone(),
            sticky,
            no_slot_body: Bytes::from(
                route
                    .closed
                    .clone()
                    .unwrap_or_else(|| no_slot_message(&route.name, &route.slots)),
            ),
            slots,
            eligible,
            standby,
            total_weight,
        }
    }

    /// The slot for a request, and whether the `x-naap-slot` override chose it; else the
    /// sticky key's range, else a weighted random pick among healthy slots.
    pub(super) fn select(&self, headers: &HeaderMap) -> Result<(&Arc<Target>, bool), Reject> {
        if let Some(value) = headers.get(X_NAAP_SLOT) {
            let Some(slot) = parse_slot(value.as_bytes()) else {
                return Err(respond::bad_request(
                    "naap: header x-naap-slot must be `blue`, `green` or `preview-<id>`\n"
                        .to_owned(),
                ));
            };
            if slot.is_preview() && !self.slots.iter().any(|t| t.slot == slot) {
                return Err(respond::no_such_preview(&self.name, slot));
            }
            // An operator override: honoured whatever the slot's health or weight.
            let pinned = self.slots.iter().find(|t| t.slot == slot).ok_or_else(|| {
                respond::service_unavailable(Bytes::from(format!(
                    "naap: x-naap-slot asks for slot {slot} of plugin {}, but it has no running process\n",
                    self.name
                )))
            })?;
            return Ok((pinned, true));
        }
        if self.total_weight == 0 {
            // No healthy slot has weight (the live one just died, say): a healthy warm one
            // serves rather than nobody, as an nginx `backup` server does, until the engine
            // moves the weights.
            return match self.standby.first() {
                Some(warm) => Ok((warm, false)),
                None => Err(respond::service_unavailable(self.no_slot_body.clone())),
            };
        }
        let point = match self.sticky_key(headers) {
            Some(key) => (fnv1a(key) % u64::from(self.total_weight)) as u32,
            None => fastrand::u32(0..self.total_weight),
        };
        let index = self.eligible.partition_point(|(end, _)| *end <= point);
        // `point < total_weight`, the last range's end, so some range contains it.
        Ok((&self.eligible[index].1, false))
    }

    /// Whether a retry could find a slot other than the one a request went to; checked
    /// before the request head is copied for a retry, so a plugin with one slot pays nothing.
    pub(super) fn has_other_slots(&self, target: &Target) -> bool {
        self.eligible.len() + self.standby.len() > 1 || target.has_other_replicas()
    }

    /// A healthy slot other than `failed` for a retry: one with weight first, else a warm one.
    fn fallback(&self, failed: SlotName) -> Option<Arc<Target>> {
        self.eligible
            .iter()
            .map(|(_, t)| t)
            .chain(&self.standby)
            .find(|t| t.slot != failed)
            .cloned()
    }

    fn sticky_key<'h>(&self, headers: &'h HeaderMap) -> Option<&'h [u8]> {
        let key = match self.sticky.as_ref()? {
            Sticky::Header(name) => headers.get(name).map(HeaderValue::as_bytes),
            Sticky::Cookie(name) => cookie_value(headers, name.as_bytes()),
        }?;
        (!key.is_empty()).then_some(key)
    }
}

impl Target {
    fn new(plugin: &str, spec: &SlotTarget, outlier: &OutlierSpec) -> Target {
        Target {
            plugin: plugin.to_owned(),
            slot: spec.slot,
            metrics: Arc::clone(&spec.metrics),
            replicas: spec
                .replicas
                .iter()
                .map(|r| Replica {
                    index: r.index,
                    addr: r.addr,
                    // A SocketAddr always renders as a valid authority ("127.0.0.1:80").
                    authority: Authority::try_from(r.addr.to_string().as_str())
                        .expect("a socket address is a valid URI authority"),
                    stats: Arc::clone(&r.stats),
                    healthy: r.healthy,
                })
                .collect(),
            outlier: outlier.clone(),
            slot_header: header_value_lossy(&spec.slot.as_str()),
            version_header: header_value_lossy(&spec.version),
        }
    }
}

/// A header value from free text, with anything but printable ASCII replaced by '?'
/// (HTTP allows other bytes only as obsolete text that many clients refuse to read).
fn header_value_lossy(text: &str) -> HeaderValue {
    let printable = |c: char| c == '\t' || (' '..='~').contains(&c);
    let cleaned: String = text
        .chars()
        .map(|c| if printable(c) { c } else { '?' })
        .collect();
    // Only tab and printable ASCII remain, which a header value always accepts.
    HeaderValue::from_str(&cleaned).unwrap_or(HeaderValue::from_static("invalid"))
}

fn no_slot_message(plugin: &str, slots: &[SlotTarget]) -> String {
    let mut msg = format!("naap: no healthy slot for plugin {plugin} (");
    for (i, name) in SlotName::ALL.iter().enumerate() {
        if i > 0 {
            msg.push_str("; ");
        }
        match slots.iter().find(|s| s.slot == *name) {
            Some(s) => {
                let health = if s.healthy { "healthy" } else { "unhealthy" };
                let _ = write!(msg, "{name}: {health}, weight {}", s.weight);
            }
            None => {
                let _ = write!(msg, "{name}: stopped");
            }
        }
    }
    msg.push_str(")\n");
    msg
}

fn parse_slot(value: &[u8]) -> Option<SlotName> {
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// The value of cookie `name` in the request's Cookie headers.
fn cookie_value<'h>(headers: &'h HeaderMap, name: &[u8]) -> Option<&'h [u8]> {
    headers
        .get_all(COOKIE)
        .iter()
        .flat_map(|v| v.as_bytes().split(|b| *b == b';'))
        .find_map(|pair| {
            let pair = pair.trim_ascii();
            let eq = pair.iter().position(|b| *b == b'=')?;
            (pair[..eq].trim_ascii() == name).then(|| pair[eq + 1..].trim_ascii())
        })
}

/// FNV-1a: stable across runs and builds (unlike `RandomState`), so a sticky user keeps
/// their slot across router restarts too.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

fn normalize_prefix(prefix: &str) -> String {
    let trimmed = prefix.trim().trim_end_matches('/');
    if trimmed.is_empty() {
        "/".to_owned()
    } else if trimmed.starts_with('/') {
        trimmed.to_owned()
    } else {
        format!("/{trimmed}")
    }
}

fn normalize_host(host: &str) -> String {
    let host = strip_port(host.trim());
    host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase()
}

/// `/expenses` matches `/expenses` and `/expenses/x`, not `/expensesx`; `/` matches all.
fn prefix_matches(prefix: &str, path: &str) -> bool {
    prefix == "/"
        || (path.starts_with(prefix)
            && (path.len() == prefix.len() || path.as_bytes()[prefix.len()] == b'/'))
}

/// "example.com:8080" → "example.com", "[::1]:8080" → "[::1]".
pub(super) fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return match host.find(']') {
            Some(end) => &host[..=end],
            None => host,
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_whole_segments_only() {
        assert!(prefix_matches("/expenses", "/expenses"));
        assert!(prefix_matches("/expenses", "/expenses/x"));
        assert!(!prefix_matches("/expenses", "/expensesx"));
        assert!(!prefix_matches("/expenses", "/"));
        assert!(prefix_matches("/", "/anything"));
    }

    #[test]
    fn prefixes_and_hosts_are_normalised() {
        assert_eq!(normalize_prefix("expenses/"), "/expenses");
        assert_eq!(normalize_prefix(""), "/");
        assert_eq!(normalize_prefix("/"), "/");
        assert_eq!(normalize_host("Notes.Localhost:8080"), "notes.localhost");
        assert_eq!(strip_port("[::1]:8080"), "[::1]");
        assert_eq!(strip_port("[::1]"), "[::1]");
        assert_eq!(strip_port("example.com"), "example.com");
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("a=1; user=alice ; usr=x"));
        headers.append(COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie_value(&headers, b"user"), Some(&b"alice"[..]));
        assert_eq!(cookie_value(&headers, b"b"), Some(&b"2"[..]));
        assert_eq!(cookie_value(&headers, b"us"), None);
    }

    #[test]
    fn slot_override_parses_leniently() {
        assert_eq!(parse_slot(b" Blue "), Some(SlotName::Blue));
        assert_eq!(parse_slot(b"GREEN"), Some(SlotName::Green));
        assert_eq!(parse_slot(b"red"), None);
        assert_eq!(
            parse_slot(b"preview-00abcd"),
            Some(SlotName::Preview(crate::core::types::PreviewId(0xabcd)))
        );
        assert_eq!(parse_slot(b"preview-"), None);
    }

    #[test]
    fn version_header_survives_bad_bytes() {
        assert_eq!(header_value_lossy("1.2.3"), "1.2.3");
        assert_eq!(header_value_lossy("1.2\n3"), "1.2?3");
        assert_eq!(header_value_lossy("vé"), "v?");
    }

    #[test]
    fn no_slot_message_names_each_slot() {
        let slots = vec![SlotTarget::single(
            SlotName::Blue,
            "127.0.0.1:1".parse().expect("literal address"),
            "1".into(),
            100,
            false,
            Arc::new(crate::core::metrics::SlotMetrics::new()),
        )];
        assert_eq!(
            no_slot_message("x", &slots),
            "naap: no healthy slot for plugin x (blue: unhealthy, weight 100; green: stopped)\n"
        );
    }
}
