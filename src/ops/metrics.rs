//! Metrics in the Prometheus/OpenMetrics text format, through `prometheus-client` (the
//! Prometheus project's own Rust client). Its registries are plain values, not a process-wide
//! recorder, so every `Application` (and every test server) has its own figures.
//!
//! Counted as they happen: requests (by route template, method and status) with their latency,
//! expensive requests refused as `busy`, rows deleted by the retention job. Read at scrape time:
//! the connection pools' state and, from the database, the outbox, the audit chain's backlog
//! and the live sessions. Every metric is listed in docs/OPERATIONS.md.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

use crate::storage::operations::Snapshot;
use crate::storage::Database;

/// The scrape answer's media type (what `prometheus_client::encoding::text` writes).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Latency buckets in seconds: a primary-key read takes about a millisecond, a ranking about
/// 150 ms (docs/PERFORMANCE.md), the request deadline is 30 s.
const LATENCY_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    /// The route template (`/api/v1/applications/{id}`), never the raw path: ids in paths
    /// would make a series per resource.
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RuleLabels {
    rule: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    pool: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolStateLabels {
    pool: String,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

type Seconds = Gauge<f64, AtomicU64>;

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

pub struct Metrics {
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    busy_refused: Counter,
    retention_deleted: Family<RuleLabels, Counter>,
    retention_last_run: Seconds,
    /// Every pool of the process with its label (`http-0`…, `background`), set once at start.
    pools: OnceLock<Vec<(String, Database)>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            busy_refused: Counter::default(),
            retention_deleted: Family::default(),
            retention_last_run: Seconds::default(),
            pools: OnceLock::new(),
        }
    }
}

/// A bounded method label: an unknown method (any token is a valid HTTP method) must not make
/// a new series.
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

impl Metrics {
    /// Names the pools the scrape reports (once; later calls are ignored).
    pub fn set_pools(&self, pools: Vec<(String, Database)>) {
        let _ = self.pools.set(pools);
    }

    pub fn observe_request(&self, method: &Method, route: String, status: u16, seconds: f64) {
        let method = method_label(method);
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route: route.clone(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels { method, route })
            .observe(seconds);
    }

    pub fn expensive_refused(&self) {
        self.busy_refused.inc();
    }

    pub fn retention_deleted(&self, rule: &'static str, rows: usize) {
        self.retention_deleted
            .get_or_create(&RuleLabels { rule })
            .inc_by(rows as u64);
    }

    pub fn retention_ran(&self) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        self.retention_last_run.set(now);
    }

    /// The whole exposition. `db` is what the database said at this scrape, `None` when it
    /// could not be asked (then `gongyi_database_up` is 0 and the database figures are absent
    /// rather than stale).
    pub fn encode(&self, db: Option<&Snapshot>) -> String {
        let mut reg = Registry::with_prefix("gongyi");
        reg.register(
            "build",
            "The running release",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        reg.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            self.requests.clone(),
        );
        reg.register_with_unit(
            "http_request_duration",
            "Time from a request's arrival to its response head, by method and route template",
            Unit::Seconds,
            self.latency.clone(),
        );
        reg.register(
            "expensive_refused",
            "Expensive requests (ranking, award preview, ledger exports) refused with 503 busy",
            self.busy_refused.clone(),
        );
        reg.register(
            "retention_deleted_rows",
            "Rows deleted by the retention job, by rule",
            self.retention_deleted.clone(),
        );
        reg.register_with_unit(
            "retention_last_run_timestamp",
            "When this process last completed a retention pass (Unix time; 0 = not yet)",
            Unit::Seconds,
            self.retention_last_run.clone(),
        );
        self.register_pools(&mut reg);
        register_database(&mut reg, db);
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &reg);
        out
    }

    fn register_pools(&self, reg: &mut Registry) {
        let connections = Family::<PoolStateLabels, Gauge>::default();
        let max = Family::<PoolLabels, Gauge>::default();
        let waiting = Family::<PoolLabels, Gauge>::default();
        let turns = Family::<PoolStateLabels, Gauge>::default();
        for (name, db) in self.pools.get().map(Vec::as_slice).unwrap_or_default() {
            let s = db.status();
            let in_use = s.size.saturating_sub(s.available);
            for (state, n) in [("in_use", in_use), ("idle", s.available)] {
                connections
                    .get_or_create(&PoolStateLabels {
                        pool: name.clone(),
                        state,
                    })
                    .set(n as i64);
            }
            let pool = PoolLabels { pool: name.clone() };
            max.get_or_create(&pool).set(s.max_size as i64);
            waiting.get_or_create(&pool).set(s.waiting as i64);
            let (taken, all) = db.turns();
            for (state, n) in [("in_use", taken), ("free", all.saturating_sub(taken))] {
                turns
                    .get_or_create(&PoolStateLabels {
                        pool: name.clone(),
                        state,
                    })
                    .set(n as i64);
            }
        }
        reg.register(
            "db_pool_connections",
            "Open database connections of each pool, in use or idle",
            connections,
        );
        reg.register(
            "db_pool_max_connections",
            "Most connections each pool may open",
            max,
        );
        reg.register(
            "db_pool_waiting",
            "Requests waiting for a connection of each pool",
            waiting,
        );
        reg.register(
            "db_pool_transaction_turns",
            "Transaction turns of each pool (database.write_concurrency), in use or free",
            turns,
        );
    }
}

fn gauge(v: i64) -> Gauge {
    let g = Gauge::default();
    g.set(v);
    g
}

fn seconds(v: f64) -> Seconds {
    let g = Seconds::default();
    g.set(v);
    g
}

fn register_database(reg: &mut Registry, db: Option<&Snapshot>) {
    reg.register(
        "database_up",
        "1 when this scrape could read the database figures below, else 0",
        gauge(i64::from(db.is_some())),
    );
    let Some(s) = db else { return };
    let outbox = Family::<StatusLabels, Gauge>::default();
    outbox
        .get_or_create(&StatusLabels { status: "pending" })
        .set(s.outbox_pending);
    outbox
        .get_or_create(&StatusLabels { status: "failed" })
        .set(s.outbox_failed);
    reg.register(
        "outbox_messages",
        "Emails in the outbox waiting to be sent (pending) or given up on (failed)",
        outbox,
    );
    reg.register_with_unit(
        "outbox_oldest_pending_age",
        "Age of the oldest pending email (0 when none)",
        Unit::Seconds,
        seconds(s.outbox_oldest_pending_secs),
    );
    reg.register(
        "audit_unsealed_events",
        "Audit events not yet sealed into the hash chain",
        gauge(s.audit_unsealed),
    );
    reg.register_with_unit(
        "audit_seal_lag",
        "Age of the oldest audit event not yet sealed (0 when none)",
        Unit::Seconds,
        seconds(s.audit_seal_lag_secs),
    );
    let tokens = Family::<KindLabels, Gauge>::default();
    for kind in ["session", "api"] {
        tokens
            .get_or_create(&KindLabels { kind: kind.into() })
            .set(0);
    }
    for (kind, n) in &s.live_tokens {
        tokens
            .get_or_create(&KindLabels { kind: kind.clone() })
            .set(*n);
    }
    reg.register(
        "live_tokens",
        "Bearer tokens neither expired nor revoked: sign-in sessions and API tokens",
        tokens,
    );
    reg.register(
        "web_sessions_active",
        "Browser sessions not yet expired",
        gauge(s.web_sessions),
    );
}

/// Middleware: counts and times every request the application answers, errors included.
pub async fn record(
    metrics: Arc<Metrics>,
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let method = req.method().clone();
    // Found from the router's resource map, so it is known before the request is routed.
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let res = next.call(req).await;
    let status = match &res {
        Ok(r) => r.status().as_u16(),
        Err(e) => e.as_response_error().status_code().as_u16(),
    };
    metrics.observe_request(&method, route, status, start.elapsed().as_secs_f64());
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_labelled_by_template_and_the_exposition_ends_with_eof() {
        let m = Metrics::default();
        m.observe_request(&Method::GET, "/api/v1/grants/{id}".into(), 200, 0.003);
        m.observe_request(&Method::GET, "/api/v1/grants/{id}".into(), 200, 0.2);
        m.observe_request(
            &Method::from_bytes(b"BREW").unwrap(),
            "unmatched".into(),
            404,
            0.0,
        );
        m.expensive_refused();
        let text = m.encode(None);
        assert!(text.contains(
            r#"gongyi_http_requests_total{method="GET",route="/api/v1/grants/{id}",status="200"} 2"#
        ), "{text}");
        assert!(text.contains(r#"method="other",route="unmatched",status="404""#));
        assert!(text.contains(
            r#"gongyi_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/api/v1/grants/{id}"} 1"#
        ), "{text}");
        assert!(text.contains("gongyi_expensive_refused_total 1"));
        assert!(text.contains("gongyi_database_up 0"));
        assert!(!text.contains("gongyi_outbox_messages"));
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn database_figures_appear_when_read() {
        let m = Metrics::default();
        let s = Snapshot {
            outbox_pending: 3,
            outbox_failed: 1,
            outbox_oldest_pending_secs: 12.5,
            audit_unsealed: 7,
            audit_seal_lag_secs: 2.0,
            live_tokens: vec![("session".into(), 4)],
            web_sessions: 2,
        };
        let text = m.encode(Some(&s));
        for line in [
            "gongyi_database_up 1",
            r#"gongyi_outbox_messages{status="pending"} 3"#,
            r#"gongyi_outbox_messages{status="failed"} 1"#,
            "gongyi_outbox_oldest_pending_age_seconds 12.5",
            "gongyi_audit_unsealed_events 7",
            "gongyi_audit_seal_lag_seconds 2.0",
            r#"gongyi_live_tokens{kind="session"} 4"#,
            r#"gongyi_live_tokens{kind="api"} 0"#,
            "gongyi_web_sessions_active 2",
        ] {
            assert!(text.contains(line), "missing {line}:\n{text}");
        }
    }
}
