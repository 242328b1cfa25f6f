//! `browser-control serve`: starts the browser pool and the server, and shuts both down on
//! SIGINT or SIGTERM.

use std::io::Write;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::browser_args::BrowserArgs;
use crate::cli::auth_args::AuthArgs;
use crate::cli::store_args::StoreArgs;
use crate::scheduler::{Scheduler, SchedulerConfig};
use crate::server::rate_limit::{parse_burst, RateLimit, RateLimitConfig};
use crate::server::{Server, ServerConfig, SocketLimits};
use crate::store::StoreUrl;

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port to listen on. Off loopback, authentication is required (--token,
    /// --jwt-secret, --jwt-key or --api-keys).
    #[arg(
        long,
        value_name = "ADDR:PORT",
        default_value = "127.0.0.1:3400",
        env = "BROWSER_CONTROL_LISTEN"
    )]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub browser: BrowserArgs,
    /// Tasks waiting per instance beyond which a submit is rejected.
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub max_queued: usize,

    /// The approval policy: which commands need a person's yes (YAML or JSON; see "Approval
    /// gates" in the README). Without it, every command is allowed.
    #[arg(long, value_name = "FILE", env = "BROWSER_CONTROL_POLICY")]
    pub policy: Option<std::path::PathBuf>,

    /// Which tasks keep an undo checkpoint before each command that can change state.
    #[arg(long, value_enum, value_name = "WHICH", default_value = "agent")]
    pub checkpoints: crate::scheduler::Checkpoints,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub auth: AuthArgs,
    /// Also accept requests from pages of this origin (e.g. https://app.example); repeatable.
    /// Loopback origins are always accepted; `*` accepts any.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allow_origins: Vec<String>,
    /// Required from every request (Authorization: Bearer TOKEN, or ?token=TOKEN).
    /// Mandatory when listening off loopback. Empty means none; blank is refused.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "BROWSER_CONTROL_TOKEN",
        hide_env_values = true,
        value_parser = TokenParser
    )]
    pub token: Option<String>,
    /// Largest accepted message (WebSocket message or HTTP body), in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    pub max_message_bytes: usize,
    /// Bytes waiting to be written to one WebSocket client beyond which it is disconnected
    /// as too slow (besides 1024 messages). One larger message still goes out alone.
    #[arg(long, value_name = "BYTES", default_value_t = 16 << 20, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_outbound_bytes: u64,
    /// MCP sessions (/mcp and /sse together) open at once; one more is refused with 503.
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_mcp_sessions: u64,
    /// Instances one MCP session may add with browser_instance create/attach and keep open
    /// (its own browser aside); they are closed when the session ends.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub max_mcp_instances: usize,
    /// Seconds between WebSocket pings; a client silent for two intervals is dropped.
    #[arg(long, value_name = "SECS", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    pub ping_interval: u64,
    /// MCP sessions (/mcp, /sse) use the pool (least-loaded, or the instanceId argument)
    /// instead of each starting a browser of its own.
    #[arg(long)]
    pub shared_instance: bool,
    /// Requests allowed per user and per client IP, as N/sec, N/min or N/hour (e.g. 100/min):
    /// REST requests and task WebSocket submits count; /health, /metrics and WebSocket
    /// connects do not. Over it: 429 with Retry-After. Counted per node (each runner process
    /// on its own). Default (or empty, or `off`): no limit.
    #[arg(long, value_name = "RATE", env = "BROWSER_CONTROL_RATE_LIMIT", value_parser = parse_rate)]
    pub rate_limit: Option<RateFlag>,
    /// The per-client-IP limit when it should differ from --rate-limit (e.g. many users behind
    /// one address), or `off` for none; also usable alone. Counted per node.
    #[arg(long, value_name = "RATE|off", env = "BROWSER_CONTROL_IP_RATE_LIMIT", value_parser = parse_rate)]
    pub ip_rate_limit: Option<RateFlag>,
    /// Requests that may come at once under the rate limits (default: the N of each rate).
    #[arg(long, value_name = "N", env = "BROWSER_CONTROL_RATE_BURST", value_parser = parse_burst_flag)]
    pub rate_burst: Option<Burst>,
}

/// A rate flag's value: a rate, `off`, or empty (an empty environment variable: as if unset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateFlag {
    Unset,
    Off,
    Rate(RateLimit),
}

fn parse_rate(s: &str) -> Result<RateFlag, String> {
    match s {
        "" => Ok(RateFlag::Unset),
        "off" => Ok(RateFlag::Off),
        _ => s
            .parse()
            .map(RateFlag::Rate)
            .map_err(|e| format!("{e}; or `off` for no limit")),
    }
}

/// `--rate-burst`: a count, or empty (as if unset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Burst(pub Option<NonZeroU32>);

fn parse_burst_flag(s: &str) -> Result<Burst, String> {
    match s {
        "" => Ok(Burst(None)),
        _ => parse_burst(s).map(|n| Burst(Some(n))),
    }
}

impl ServeArgs {
    /// The limits the flags ask for: --rate-limit per user and per IP, --ip-rate-limit instead
    /// for the IP.
    pub fn rate_limit(&self) -> Result<RateLimitConfig, String> {
        let per_user = match self.rate_limit {
            Some(RateFlag::Rate(rate)) => Some(rate),
            _ => None,
        };
        let config = RateLimitConfig {
            per_user,
            per_ip: match self.ip_rate_limit {
                Some(RateFlag::Rate(rate)) => Some(rate),
                Some(RateFlag::Off) => None,
                Some(RateFlag::Unset) | None => per_user,
            },
            burst: self.rate_burst.and_then(|b| b.0),
        };
        if config.is_off() && config.burst.is_some() {
            return Err(
                "--rate-burst without a rate: give --rate-limit or --ip-rate-limit too".into(),
            );
        }
        Ok(config)
    }
}

pub async fn serve(args: ServeArgs) -> ExitCode {
    let rate_limit = match args.rate_limit() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let opened = async {
        let url = args.store.url(StoreUrl::default_sqlite)?;
        args.store.open(&url).await
    };
    let store = match opened.await {
        Ok(store) => store,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    // What a killed earlier run left in the temp folder (profiles, Chromium's singletons).
    let _ = tokio::task::spawn_blocking(crate::browser::remove_leftovers).await;
    let policy = match &args.policy {
        None => crate::task::approval::Policy::default(),
        Some(path) => match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|text| {
                crate::task::approval::Policy::parse_file(&text).map_err(|e| e.to_string())
            }) {
            Ok(policy) => policy,
            Err(e) => {
                eprintln!("error: --policy {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
    };
    let config = SchedulerConfig {
        policy: std::sync::Arc::new(policy),
        checkpoints: args.checkpoints,
        instances: usize::from(args.browser.instances),
        source: args.browser.source(),
        executor: args.browser.executor(),
        max_queued: args.max_queued,
        retention: args.store.retention(),
        lease: args.store.lease(),
        store,
        capture_on_failure: true,
        panic_on_intention: None,
        user_limits: args.auth.user_limits(),
        public_values: args.browser.public_values(),
    };
    let scheduler = match Scheduler::start(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {}: {e:#}", args.browser.start_failure());
            return ExitCode::from(2);
        }
    };
    let server_config = ServerConfig {
        listen: args.listen,
        allow_origins: args.allow_origins.clone(),
        token: args.token.clone().filter(|t| !t.is_empty()),
        jwt: args.auth.jwt(),
        api_keys: args.auth.api_keys,
        limits: SocketLimits {
            ping_interval: Duration::from_secs(args.ping_interval),
            max_message_bytes: args.max_message_bytes,
            outbound_bytes: usize::try_from(args.max_outbound_bytes).unwrap_or(usize::MAX),
            ..SocketLimits::default()
        },
        mcp: crate::mcp::McpOptions {
            // With --attach, the attached browser is the one to use.
            shared_instance: args.shared_instance || args.browser.attach.is_some(),
        },
        mcp_limits: crate::mcp::McpLimits {
            max_sessions: usize::try_from(args.max_mcp_sessions).unwrap_or(usize::MAX),
            max_instances: args.max_mcp_instances,
        },
        rate_limit,
    };
    let server = match Server::start(server_config, scheduler.clone()).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("error: {e:#}");
            scheduler.shutdown().await;
            return ExitCode::from(2);
        }
    };
    // Scripts (and tools/bench) read this first line to learn the port.
    println!("listening on http://{}", server.local_addr());
    println!(
        "store: {} (this runner is {})",
        scheduler.store_description(),
        scheduler.node().id
    );
    println!("auth: {}", server.auth_description());
    let _ = std::io::stdout().flush();

    let signal = shutdown_signal().await;
    eprintln!("{signal}: shutting down (cancelling tasks, except those waiting for an approval, which go on after a restart; closing browsers)");
    server.shutdown().await;
    ExitCode::SUCCESS
}

/// `--token`: refused before anything starts when it cannot be used (blank, padded), with a
/// message that never repeats it (clap's own would quote the value).
#[derive(Clone)]
struct TokenParser;

impl clap::builder::TypedValueParser for TokenParser {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        let refuse = |why: String| {
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("--token: {why}\n"),
            )
            .with_cmd(cmd)
        };
        let token = value
            .to_str()
            .ok_or_else(|| refuse("the token is not valid UTF-8".into()))?;
        // Empty means no token (an empty BROWSER_CONTROL_TOKEN is an unset one).
        if !token.is_empty() {
            crate::server::security::check_token(token).map_err(refuse)?;
        }
        Ok(token.to_string())
    }
}

async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler installs");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<ServeArgs, String> {
        let mut argv = vec!["browser-control", "serve"];
        argv.extend_from_slice(args);
        match crate::cli::Cli::try_parse_from(argv) {
            Ok(cli) => match cli.command {
                crate::cli::Command::Serve(serve) => Ok(serve),
                _ => unreachable!(),
            },
            Err(e) => Err(e.to_string()),
        }
    }

    fn limits(args: &[&str]) -> Result<RateLimitConfig, String> {
        parse(args)?.rate_limit()
    }

    #[test]
    fn rate_limit_flags_give_per_user_and_per_ip_limits() {
        let rate = |s: &str| Some(s.parse::<RateLimit>().unwrap());
        assert!(limits(&[]).unwrap().is_off());
        let both = limits(&["--rate-limit", "100/min"]).unwrap();
        assert_eq!(
            (both.per_user, both.per_ip),
            (rate("100/min"), rate("100/min"))
        );
        assert_eq!(both.burst, None);
        let own_ip = limits(&["--rate-limit", "100/min", "--ip-rate-limit", "1000/m"]).unwrap();
        assert_eq!(
            (own_ip.per_user, own_ip.per_ip),
            (rate("100/min"), rate("1000/min"))
        );
        let no_ip = limits(&["--rate-limit", "5/s", "--ip-rate-limit", "off"]).unwrap();
        assert_eq!((no_ip.per_user, no_ip.per_ip), (rate("5/sec"), None));
        let ip_only = limits(&["--ip-rate-limit", "10/h", "--rate-burst", "3"]).unwrap();
        assert_eq!((ip_only.per_user, ip_only.per_ip), (None, rate("10/hour")));
        assert_eq!(ip_only.burst.map(NonZeroU32::get), Some(3));
        // `off` and empty (an empty environment variable) are no limit.
        assert!(limits(&["--rate-limit", "off"]).unwrap().is_off());
        assert!(limits(&["--rate-limit", "", "--rate-burst", ""])
            .unwrap()
            .is_off());
        let empty_ip = limits(&["--rate-limit", "7/m", "--ip-rate-limit", ""]).unwrap();
        assert_eq!(empty_ip.per_ip, rate("7/min"));
    }

    #[test]
    fn bad_rate_limit_flags_are_refused_with_the_reason() {
        for (args, says) in [
            (&["--rate-limit", "0/min"][..], "the count is 0"),
            (&["--rate-limit", "abc"][..], "not a rate"),
            (&["--rate-limit", "100/week"][..], "unknown unit `week`"),
            (
                &["--rate-limit", "1e20/min"][..],
                "the count `1e20` is not a whole number",
            ),
            (&["--ip-rate-limit", "none"][..], "or `off` for no limit"),
            (
                &["--rate-limit", "5/s", "--rate-burst", "0"][..],
                "the burst is 0",
            ),
        ] {
            let err = parse(args).unwrap_err();
            assert!(err.contains(says), "{args:?}: {err}");
            assert!(err.contains("invalid value"), "{args:?}: {err}");
        }
        let err = limits(&["--rate-burst", "5"]).unwrap_err();
        assert!(err.contains("--rate-burst without a rate"), "{err}");
    }
}
