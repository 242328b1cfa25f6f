//! Rate limits (`serve --rate-limit 100/min`): per user and per client IP, on REST requests and
//! on task WebSocket submits. Over a limit, HTTP answers 429 with `Retry-After` in the one error
//! shape (code `RATE_LIMITED`) and the task WebSocket rejects the submit with the reason.
//!
//! The counting is governor's (GCRA, keyed limiters). The counters live in this process: each
//! runner of a cluster counts on its own, so behind a load balancer over N runners a client may
//! get up to N times the limit.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DashMapStateStore;
use governor::Quota;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use tokio_util::sync::CancellationToken;

use super::error::ApiError;
use super::metrics::LimitLabels;
use crate::task::User;

/// The largest count of a rate (and the largest burst): past a million a second the limit
/// means nothing, and governor's cell interval would round to nothing.
pub const MAX_COUNT: u32 = 1_000_000;

/// How often idle keys are dropped from the limiters.
const RETAIN_EVERY: Duration = Duration::from_secs(60);

/// The unit of a rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Per {
    Second,
    Minute,
    Hour,
}

impl Per {
    fn as_str(self) -> &'static str {
        match self {
            Per::Second => "sec",
            Per::Minute => "min",
            Per::Hour => "hour",
        }
    }
}

/// A rate, `N/sec`, `N/min` or `N/hour` (also `N/s`, `N/m`, `N/h`): N requests per unit, on
/// average; how many may come at once is the burst (by default N).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub count: NonZeroU32,
    pub per: Per,
}

impl RateLimit {
    /// governor's quota: one request back every unit/N, at most `burst` (default N) saved up.
    pub fn quota(&self, burst: Option<NonZeroU32>) -> Quota {
        let quota = match self.per {
            Per::Second => Quota::per_second(self.count),
            Per::Minute => Quota::per_minute(self.count),
            Per::Hour => Quota::per_hour(self.count),
        };
        quota.allow_burst(burst.unwrap_or(self.count))
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.count, self.per.as_str())
    }
}

impl FromStr for RateLimit {
    type Err = String;

    /// Strict: digits, a slash, a unit; nothing else (no sign, no exponent, no spaces). The
    /// message does not repeat the value (clap's own does).
    fn from_str(s: &str) -> Result<RateLimit, String> {
        const FORM: &str = "write it N/sec, N/min or N/hour (or N/s, N/m, N/h), e.g. 100/min";
        let Some((count, unit)) = s.split_once('/') else {
            return Err(format!("not a rate: {FORM}"));
        };
        let per = match unit {
            "sec" | "s" => Per::Second,
            "min" | "m" => Per::Minute,
            "hour" | "h" => Per::Hour,
            _ => {
                return Err(format!(
                    "unknown unit `{unit}`: the units are sec (s), min (m) and hour (h)"
                ))
            }
        };
        let count = parse_count(count, "count").map_err(|why| format!("{why}: {FORM}"))?;
        Ok(RateLimit { count, per })
    }
}

/// A whole number from 1 to [`MAX_COUNT`], in plain digits.
fn parse_count(s: &str, what: &str) -> Result<NonZeroU32, String> {
    if s.is_empty() {
        return Err(format!("the {what} is missing"));
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("the {what} `{s}` is not a whole number"));
    }
    let over = || format!("the {what} {s} is over {MAX_COUNT}");
    let n: u64 = s.parse().map_err(|_| over())?;
    if n == 0 {
        return Err(format!(
            "the {what} is 0, which would refuse everything (leave the limit out for none)"
        ));
    }
    if n > u64::from(MAX_COUNT) {
        return Err(over());
    }
    Ok(NonZeroU32::new(n as u32).expect("not 0"))
}

/// `--rate-burst N`: how many requests may come at once, 1 to [`MAX_COUNT`].
pub fn parse_burst(s: &str) -> Result<NonZeroU32, String> {
    parse_count(s, "burst")
}

/// What `serve` limits. Off (the default) when both rates are none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// Per user (each API key's or token's user; `local` without users).
    pub per_user: Option<RateLimit>,
    /// Per client IP (IPv6 clients by their /64).
    pub per_ip: Option<RateLimit>,
    /// Requests at once, for both; by default each rate's N.
    pub burst: Option<NonZeroU32>,
}

impl RateLimitConfig {
    pub fn is_off(&self) -> bool {
        self.per_user.is_none() && self.per_ip.is_none()
    }
}

/// Which limit a request was over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    User,
    Ip,
}

impl Limit {
    fn as_str(self) -> &'static str {
        match self {
            Limit::User => "user",
            Limit::Ip => "ip",
        }
    }
}

/// A request over a limit: which one, and how long until the next would pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimited {
    pub limit: Limit,
    /// The user's name or the client's address (a /64 for IPv6).
    pub key: String,
    pub rate: RateLimit,
    pub burst: u32,
    pub wait: Duration,
}

impl RateLimited {
    /// `Retry-After`: the wait in whole seconds, rounded up, at least 1.
    pub fn retry_after_secs(&self) -> u64 {
        let secs = self.wait.as_secs() + u64::from(self.wait.subsec_nanos() > 0);
        secs.max(1)
    }
}

impl fmt::Display for RateLimited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = match self.limit {
            Limit::User => format!("user {} is", self.key),
            Limit::Ip => format!("client {} is", self.key),
        };
        let per = match self.limit {
            Limit::User => "per user",
            Limit::Ip => "per client IP",
        };
        write!(
            f,
            "Rate limit exceeded: {who} over {} {per} (burst {}, counted on this node); retry in \
             {} s",
            self.rate,
            self.burst,
            self.retry_after_secs()
        )
    }
}

impl IntoResponse for RateLimited {
    /// 429 in the one error shape, with `Retry-After`.
    fn into_response(self) -> Response {
        let retry_after = self.retry_after_secs();
        let mut response = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            self.to_string(),
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        response
    }
}

type Keyed<K, C> = governor::RateLimiter<
    K,
    DashMapStateStore<K>,
    C,
    governor::middleware::NoOpMiddleware<<C as Clock>::Instant>,
>;

/// The limiters of one server: one state per user name and one per client IP.
pub struct RateLimiter<C: Clock = DefaultClock> {
    clock: C,
    user: Option<(RateLimit, u32, Keyed<Arc<str>, C>)>,
    ip: Option<(RateLimit, u32, Keyed<IpAddr, C>)>,
    /// `browser_control_rate_limited_total{limit}`.
    refused: Family<LimitLabels, Counter>,
}

impl RateLimiter {
    /// None when the configuration limits nothing. Refusals are counted in `refused`.
    pub fn new(
        config: &RateLimitConfig,
        refused: Family<LimitLabels, Counter>,
    ) -> Option<RateLimiter> {
        Self::with_clock(config, DefaultClock::default(), refused)
    }

    /// Drops idle keys every minute until `closing` is cancelled.
    pub fn spawn_retain(self: &Arc<Self>, closing: CancellationToken) {
        let limiter = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(RETAIN_EVERY);
            every.tick().await;
            loop {
                tokio::select! {
                    _ = closing.cancelled() => return,
                    _ = every.tick() => match limiter.upgrade() {
                        Some(limiter) => limiter.retain_recent(),
                        None => return,
                    },
                }
            }
        });
    }
}

impl<C: Clock + Clone> RateLimiter<C> {
    pub fn with_clock(
        config: &RateLimitConfig,
        clock: C,
        refused: Family<LimitLabels, Counter>,
    ) -> Option<RateLimiter<C>> {
        if config.is_off() {
            return None;
        }
        let burst = |rate: &RateLimit| config.burst.unwrap_or(rate.count).get();
        Some(RateLimiter {
            user: config.per_user.map(|rate| {
                let limiter = Keyed::dashmap_with_clock(rate.quota(config.burst), clock.clone());
                (rate, burst(&rate), limiter)
            }),
            ip: config.per_ip.map(|rate| {
                let limiter = Keyed::dashmap_with_clock(rate.quota(config.burst), clock.clone());
                (rate, burst(&rate), limiter)
            }),
            clock,
            refused,
        })
    }

    /// Counts one request of `user` from `ip`. The user's limit is asked first; a request it
    /// refuses is not counted against the IP.
    pub fn check(&self, user: &User, ip: IpAddr) -> Result<(), RateLimited> {
        self.check_user(user)?;
        self.check_ip(ip)
    }

    pub fn check_user(&self, user: &User) -> Result<(), RateLimited> {
        self.tally(self.user_limit(user))
    }

    pub fn check_ip(&self, ip: IpAddr) -> Result<(), RateLimited> {
        self.tally(self.ip_limit(ip))
    }

    /// Counts a refusal in the metrics.
    fn tally(&self, checked: Result<(), RateLimited>) -> Result<(), RateLimited> {
        if let Err(limited) = &checked {
            self.refused
                .get_or_create(&LimitLabels {
                    limit: limited.limit.as_str().into(),
                })
                .inc();
        }
        checked
    }

    fn user_limit(&self, user: &User) -> Result<(), RateLimited> {
        let Some((rate, burst, limiter)) = &self.user else {
            return Ok(());
        };
        limiter
            .check_key(&user.name)
            .map_err(|not_until| RateLimited {
                limit: Limit::User,
                key: user.name.to_string(),
                rate: *rate,
                burst: *burst,
                wait: not_until.wait_time_from(self.clock.now()),
            })
    }

    fn ip_limit(&self, ip: IpAddr) -> Result<(), RateLimited> {
        let Some((rate, burst, limiter)) = &self.ip else {
            return Ok(());
        };
        let key = ip_key(ip);
        limiter.check_key(&key).map_err(|not_until| RateLimited {
            limit: Limit::Ip,
            key: match key {
                IpAddr::V4(v4) => v4.to_string(),
                IpAddr::V6(v6) => format!("{v6}/64"),
            },
            rate: *rate,
            burst: *burst,
            wait: not_until.wait_time_from(self.clock.now()),
        })
    }

    /// Forgets the keys whose state is back to fresh, so memory follows the active clients.
    pub fn retain_recent(&self) {
        if let Some((_, _, limiter)) = &self.user {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        if let Some((_, _, limiter)) = &self.ip {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// Keys held (users, addresses).
    pub fn len(&self) -> usize {
        let users = self.user.as_ref().map_or(0, |(_, _, l)| l.len());
        let ips = self.ip.as_ref().map_or(0, |(_, _, l)| l.len());
        users + ips
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The key of a client address: IPv4 as is (IPv4-mapped IPv6 too), IPv6 by its /64, which one
/// host usually holds whole.
fn ip_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

/// Not counted as REST requests: the WebSocket upgrades (their submits are counted one by one
/// instead, and the panel stream sends none) and what monitoring polls.
fn exempt(request: &Request) -> bool {
    let path = request.uri().path();
    if super::security::is_public_asset(request.method(), path) {
        return true;
    }
    match path {
        "/health" | "/metrics" | "/ws" => true,
        "/" => request
            .headers()
            .get(header::UPGRADE)
            .and_then(|u| u.to_str().ok())
            .is_some_and(|u| u.eq_ignore_ascii_case("websocket")),
        _ => false,
    }
}

/// The layer in front of the routes, inside the guard (which has named the user): each request
/// that is not exempt counts once, for its user and its client IP.
pub async fn limit_requests(
    State(limiter): State<Option<Arc<RateLimiter>>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(limiter) = limiter else {
        return next.run(request).await;
    };
    if exempt(&request) {
        return next.run(request).await;
    }
    let local;
    let user = match request.extensions().get::<User>() {
        Some(user) => user,
        None => {
            local = User::local();
            &local
        }
    };
    let checked = limiter.check_user(user).and_then(|()| {
        match request.extensions().get::<ConnectInfo<SocketAddr>>() {
            Some(ConnectInfo(peer)) => limiter.check_ip(peer.ip()),
            None => Ok(()),
        }
    });
    match checked {
        Ok(()) => next.run(request).await,
        Err(limited) => {
            tracing::debug!(
                method = %request.method(),
                path = %request.uri().path(),
                "refused: {limited}"
            );
            limited.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    fn rate(s: &str) -> RateLimit {
        s.parse().unwrap()
    }

    #[test]
    fn rates_parse_in_every_unit_spelling() {
        for (text, count, per) in [
            ("100/min", 100, Per::Minute),
            ("100/m", 100, Per::Minute),
            ("2/sec", 2, Per::Second),
            ("2/s", 2, Per::Second),
            ("5000/hour", 5000, Per::Hour),
            ("1/h", 1, Per::Hour),
            ("1000000/sec", 1_000_000, Per::Second),
        ] {
            let parsed = rate(text);
            assert_eq!((parsed.count.get(), parsed.per), (count, per), "{text}");
        }
        assert_eq!(rate("100/m").to_string(), "100/min");
        assert_eq!(rate("3/h").to_string(), "3/hour");
    }

    #[test]
    fn bad_rates_are_refused_with_what_is_wrong() {
        for (bad, says) in [
            ("0/min", "the count is 0"),
            ("abc", "not a rate"),
            ("100", "not a rate"),
            ("", "not a rate"),
            ("100/week", "unknown unit `week`"),
            ("100/", "unknown unit ``"),
            ("100/MIN", "unknown unit `MIN`"),
            ("1e20/min", "the count `1e20` is not a whole number"),
            ("-5/min", "the count `-5` is not a whole number"),
            ("+5/min", "the count `+5` is not a whole number"),
            (" 5/min", "is not a whole number"),
            ("5/min ", "unknown unit"),
            ("1.5/sec", "not a whole number"),
            ("/min", "the count is missing"),
            ("1000001/sec", "the count 1000001 is over 1000000"),
            ("99999999999999999999999/min", "is over 1000000"),
            ("5/min/sec", "unknown unit `min/sec`"),
        ] {
            let err = bad.parse::<RateLimit>().unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
        // Every refusal of a malformed count shows the form.
        assert!("1e20/min"
            .parse::<RateLimit>()
            .unwrap_err()
            .contains("e.g. 100/min"));
    }

    #[test]
    fn bursts_parse_strictly() {
        assert_eq!(parse_burst("1").unwrap().get(), 1);
        assert_eq!(parse_burst("250").unwrap().get(), 250);
        for (bad, says) in [
            ("0", "the burst is 0"),
            ("-1", "not a whole number"),
            ("ten", "not a whole number"),
            ("", "missing"),
            ("2000000", "over 1000000"),
        ] {
            let err = parse_burst(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn the_quota_is_the_rate_and_the_burst() {
        let quota = rate("100/min").quota(None);
        assert_eq!(quota.burst_size().get(), 100);
        assert_eq!(quota.replenish_interval(), Duration::from_millis(600));
        let quota = rate("2/sec").quota(NonZeroU32::new(5));
        assert_eq!(quota.burst_size().get(), 5);
        assert_eq!(quota.replenish_interval(), Duration::from_millis(500));
    }

    #[test]
    fn retry_after_rounds_up_to_a_whole_second() {
        let limited = |wait| RateLimited {
            limit: Limit::User,
            key: "ann".into(),
            rate: rate("2/sec"),
            burst: 2,
            wait,
        };
        assert_eq!(limited(Duration::ZERO).retry_after_secs(), 1);
        assert_eq!(limited(Duration::from_millis(1)).retry_after_secs(), 1);
        assert_eq!(limited(Duration::from_secs(1)).retry_after_secs(), 1);
        assert_eq!(limited(Duration::from_millis(1001)).retry_after_secs(), 2);
        assert_eq!(limited(Duration::from_secs(30)).retry_after_secs(), 30);
        let message = limited(Duration::from_millis(400)).to_string();
        assert_eq!(
            message,
            "Rate limit exceeded: user ann is over 2/sec per user (burst 2, counted on this \
             node); retry in 1 s"
        );
    }

    fn limiter(config: RateLimitConfig) -> (RateLimiter<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::with_clock(&config, clock.clone(), Family::default());
        (limiter.unwrap(), clock)
    }

    #[test]
    fn no_rate_no_limiter() {
        assert!(RateLimiter::new(&RateLimitConfig::default(), Family::default()).is_none());
        let burst_alone = RateLimitConfig {
            burst: NonZeroU32::new(3),
            ..Default::default()
        };
        assert!(RateLimiter::new(&burst_alone, Family::default()).is_none());
    }

    #[test]
    fn each_user_has_a_bucket_of_their_own() {
        let (limiter, clock) = limiter(RateLimitConfig {
            per_user: Some(rate("2/sec")),
            ..Default::default()
        });
        let (ann, bob) = (User::named("ann", false), User::named("bob", false));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(limiter.check(&ann, ip).is_ok());
        assert!(limiter.check(&ann, ip).is_ok());
        let refused = limiter.check(&ann, ip).unwrap_err();
        assert_eq!(refused.limit, Limit::User);
        assert_eq!(refused.key, "ann");
        assert_eq!(refused.wait, Duration::from_millis(500));
        assert_eq!(refused.retry_after_secs(), 1);
        // Same address, another user: a full bucket (no per-IP limit here).
        assert!(limiter.check(&bob, ip).is_ok());
        assert!(limiter.check(&bob, ip).is_ok());
        assert!(limiter.check(&bob, ip).is_err());
        // One cell comes back every 500 ms.
        clock.advance(Duration::from_millis(500));
        assert!(limiter.check(&ann, ip).is_ok());
        assert!(limiter.check(&ann, ip).is_err());
        assert_eq!(limiter.len(), 2);
    }

    #[test]
    fn each_address_has_a_bucket_of_its_own() {
        let (limiter, clock) = limiter(RateLimitConfig {
            per_ip: Some(rate("60/min")),
            burst: NonZeroU32::new(1),
            ..Default::default()
        });
        let ann = User::named("ann", false);
        let (one, two): (IpAddr, IpAddr) =
            ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        assert!(limiter.check(&ann, one).is_ok());
        let refused = limiter.check(&ann, one).unwrap_err();
        assert_eq!(refused.limit, Limit::Ip);
        assert_eq!(refused.key, "10.0.0.1");
        assert_eq!(refused.wait, Duration::from_secs(1));
        assert!(refused
            .to_string()
            .contains("client 10.0.0.1 is over 60/min per client IP"));
        assert!(limiter.check(&ann, two).is_ok());
        assert!(limiter.check(&ann, two).is_err());
        clock.advance(Duration::from_secs(1));
        assert!(limiter.check(&ann, one).is_ok());
    }

    #[test]
    fn ipv6_clients_count_by_their_64_and_mapped_ipv4_as_ipv4() {
        let (limiter, _clock) = limiter(RateLimitConfig {
            per_ip: Some(rate("1/min")),
            ..Default::default()
        });
        let user = User::local();
        assert!(limiter
            .check(&user, "2001:db8:1:2::1".parse().unwrap())
            .is_ok());
        let refused = limiter
            .check(&user, "2001:db8:1:2:ffff::9".parse().unwrap())
            .unwrap_err();
        assert_eq!(refused.key, "2001:db8:1:2::/64");
        assert!(limiter
            .check(&user, "2001:db8:1:3::1".parse().unwrap())
            .is_ok());
        assert!(limiter.check(&user, "10.1.1.1".parse().unwrap()).is_ok());
        let refused = limiter
            .check(&user, "::ffff:10.1.1.1".parse().unwrap())
            .unwrap_err();
        assert_eq!(refused.key, "10.1.1.1");
    }

    #[test]
    fn both_limits_apply_and_the_user_is_asked_first() {
        let (limiter, _clock) = limiter(RateLimitConfig {
            per_user: Some(rate("1/min")),
            per_ip: Some(rate("2/min")),
            ..Default::default()
        });
        let (ann, bob, cy) = (
            User::named("ann", false),
            User::named("bob", false),
            User::named("cy", false),
        );
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(limiter.check(&ann, ip).is_ok());
        // Refused by ann's own limit: the address's count is untouched.
        assert_eq!(limiter.check(&ann, ip).unwrap_err().limit, Limit::User);
        assert!(limiter.check(&bob, ip).is_ok());
        // A third user from the same address is over the address's limit.
        assert_eq!(limiter.check(&cy, ip).unwrap_err().limit, Limit::Ip);
        let refused = |limit: &str| {
            limiter
                .refused
                .get_or_create(&LimitLabels {
                    limit: limit.into(),
                })
                .get()
        };
        assert_eq!((refused("user"), refused("ip")), (1, 1));
    }

    #[test]
    fn idle_keys_are_forgotten() {
        let (limiter, clock) = limiter(RateLimitConfig {
            per_user: Some(rate("10/sec")),
            per_ip: Some(rate("10/sec")),
            ..Default::default()
        });
        for i in 0..50 {
            let user = User::named(&format!("user{i}"), false);
            let ip = IpAddr::from([10, 0, 0, i as u8]);
            limiter.check(&user, ip).unwrap();
        }
        assert_eq!(limiter.len(), 100);
        limiter.retain_recent();
        assert_eq!(limiter.len(), 100, "still recent");
        clock.advance(Duration::from_secs(2));
        limiter.retain_recent();
        assert!(limiter.is_empty());
    }
}
