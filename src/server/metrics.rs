//! Prometheus metrics: another renderer of the event stream (command durations), plus gauges
//! read from the scheduler when scraped.

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::events::EventKind;
use crate::scheduler::Scheduler;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommandLabels {
    tool: String,
    action: String,
    /// `success` or `error`.
    outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InstanceLabels {
    instance: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NodeLabels {
    node: String,
    store: String,
}

/// Which rate limit refused (`user` or `ip`).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LimitLabels {
    pub limit: String,
}

/// 1 ms to about 65 s.
fn command_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

pub struct Metrics {
    registry: Registry,
    command_seconds: Family<CommandLabels, Histogram, fn() -> Histogram>,
    tasks: Family<StatusLabels, Gauge>,
    queue_depth: Family<InstanceLabels, Gauge>,
    node: Family<NodeLabels, Gauge>,
    cluster_nodes: Gauge,
    cluster_instances: Gauge,
    /// Connected task-protocol WebSocket clients.
    pub clients: Gauge,
    /// Bytes waiting in the outgoing buffers of every WebSocket connection.
    pub outbound_bytes: Gauge,
    /// Task and instance subscriptions held by task WebSocket connections.
    pub subscriptions: Gauge,
    /// Open MCP sessions (streamable HTTP and SSE).
    pub mcp_sessions: Gauge,
    /// Requests and submits refused by a rate limit (this node's count).
    pub rate_limited: Family<LimitLabels, Counter>,
    /// Serializes scrapes: the gauges are reset and refilled each time.
    scrape: Mutex<()>,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("browser_control");
        let command_seconds =
            Family::<CommandLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                command_histogram,
            );
        registry.register(
            "command_duration_seconds",
            "How long commands took, by tool, action and outcome",
            command_seconds.clone(),
        );
        let tasks = Family::<StatusLabels, Gauge>::default();
        registry.register("tasks", "Tasks in the store, by status", tasks.clone());
        let queue_depth = Family::<InstanceLabels, Gauge>::default();
        registry.register(
            "queue_depth",
            "Tasks waiting on each instance (the running one not counted)",
            queue_depth.clone(),
        );
        let node = Family::<NodeLabels, Gauge>::default();
        registry.register(
            "node",
            "The runner that answered (1), and its store",
            node.clone(),
        );
        let cluster_nodes = Gauge::default();
        registry.register(
            "cluster_nodes",
            "Runners sharing the task store",
            cluster_nodes.clone(),
        );
        let cluster_instances = Gauge::default();
        registry.register(
            "cluster_instances",
            "Browser instances of every runner sharing the task store",
            cluster_instances.clone(),
        );
        let clients = Gauge::default();
        registry.register(
            "websocket_clients",
            "Connected task WebSocket clients",
            clients.clone(),
        );
        let outbound_bytes = Gauge::default();
        registry.register(
            "outbound_bytes",
            "Bytes waiting to be written to WebSocket clients (task socket and panel stream)",
            outbound_bytes.clone(),
        );
        let subscriptions = Gauge::default();
        registry.register(
            "subscriptions",
            "Task and instance subscriptions held by task WebSocket connections",
            subscriptions.clone(),
        );
        let mcp_sessions = Gauge::default();
        registry.register(
            "mcp_sessions",
            "Open MCP sessions (streamable HTTP and SSE)",
            mcp_sessions.clone(),
        );
        let rate_limited = Family::<LimitLabels, Counter>::default();
        registry.register(
            "rate_limited",
            "Requests and task submits refused by a rate limit on this node, by limit (user, ip)",
            rate_limited.clone(),
        );
        Metrics {
            registry,
            command_seconds,
            tasks,
            queue_depth,
            node,
            cluster_nodes,
            cluster_instances,
            clients,
            outbound_bytes,
            subscriptions,
            mcp_sessions,
            rate_limited,
            scrape: Mutex::new(()),
        }
    }

    /// Records command durations from the event stream until `stop`.
    pub async fn record(&self, scheduler: Scheduler, stop: CancellationToken) {
        let mut events = scheduler.events().subscribe();
        loop {
            let event = tokio::select! {
                _ = stop.cancelled() => return,
                event = events.recv() => event,
            };
            match event {
                Ok(event) => match event.kind {
                    EventKind::CommandSucceeded {
                        tool_name,
                        action,
                        duration_ms,
                        ..
                    } => self.observe(tool_name, action, "success", duration_ms),
                    EventKind::CommandFailed {
                        tool_name,
                        action,
                        duration_ms,
                        ..
                    } => self.observe(tool_name, action, "error", duration_ms),
                    _ => {}
                },
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!("metrics missed {n} events: the event stream outran them")
                }
                Err(RecvError::Closed) => return,
            }
        }
    }

    fn observe(&self, tool: String, action: &str, outcome: &str, duration_ms: u64) {
        self.command_seconds
            .get_or_create(&CommandLabels {
                tool,
                action: action.into(),
                outcome: outcome.into(),
            })
            .observe(duration_ms as f64 / 1000.0);
    }

    /// The Prometheus text exposition, with the gauges read now.
    pub async fn render(&self, scheduler: &Scheduler) -> String {
        let counts = scheduler
            .tasks()
            .count_by_status()
            .await
            .unwrap_or_default();
        let instances = scheduler.instances().await;
        let cluster = scheduler.tasks().cluster().await.unwrap_or_default();
        let _scrape = self.scrape.lock().unwrap();
        self.node
            .get_or_create(&NodeLabels {
                node: scheduler.node().id.clone(),
                store: scheduler.store_kind().into(),
            })
            .set(1);
        self.cluster_nodes.set(cluster.nodes as i64);
        self.cluster_instances.set(cluster.instances as i64);
        for (status, count) in counts {
            self.tasks
                .get_or_create(&StatusLabels {
                    status: status.as_str().into(),
                })
                .set(count as i64);
        }
        // Closed instances disappear from the exposition.
        self.queue_depth.clear();
        for instance in instances {
            self.queue_depth
                .get_or_create(&InstanceLabels {
                    instance: instance.id,
                })
                .set(instance.queued as i64);
        }
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
