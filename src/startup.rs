//! Builds and runs the HTTP server.

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::{from_fn, Compress, DefaultHeaders};
use actix_web::{web, App, HttpServer};
use tracing_actix_web::TracingLogger;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::config::{DatabaseSettings, Settings};
use crate::http::error::ApiError;
use crate::http::extract::authenticate;
use crate::http::{contain_panic, extractor_configs, openapi::ApiDoc, routes, AppState};
use crate::ops::metrics::Metrics;
use crate::storage::Database;

pub struct Application {
    port: u16,
    server: Server,
    db: Database,
    settings: Arc<Settings>,
    metrics: Arc<Metrics>,
}

impl Application {
    /// Binds the listener (port 0 picks a free one) and prepares the server.
    pub fn build(settings: Settings, db: Database) -> anyhow::Result<Self> {
        Self::build_with(settings, db, |_| {})
    }

    /// `build`, with more routes mounted in the same App (behind the same middleware). The
    /// server itself mounts none this way; tests use it for routes that must not exist in
    /// production (a handler that panics, one that stalls).
    pub fn build_with(
        settings: Settings,
        db: Database,
        extra_routes: fn(&mut web::ServiceConfig),
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind((
            settings.application.host.as_str(),
            settings.application.port,
        ))?;
        let port = listener.local_addr()?.port();
        // A bad sender address would fail every email later: refuse to start instead.
        settings
            .email
            .from
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| {
                anyhow::anyhow!(
                    "email.from `{}` is not an address: {e}",
                    settings.email.from
                )
            })?;
        // A short scraper token could be guessed: refuse to start with one.
        let metrics_token = secrecy::ExposeSecret::expose_secret(&settings.metrics.token).len();
        if metrics_token > 0 && metrics_token < 32 {
            anyhow::bail!("metrics.token is {metrics_token} characters long: use at least 32");
        }
        crate::notify::set_base_url(&settings.application.base_url);
        let shared = Arc::new(settings.clone());
        let metrics = Arc::new(Metrics::default());
        let server = run_with(listener, settings, &db, metrics.clone(), extra_routes)?;
        Ok(Self {
            port,
            server,
            db,
            settings: shared,
            metrics,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The process's metrics (what `GET /metrics` reports).
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Serves until shutdown. The email sender, the audit sealer and the retention job (each
    /// when enabled) run beside the server as tokio tasks and are stopped with it.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let mut background = Vec::new();
        if self.settings.email.sender_enabled {
            background.push(tokio::spawn(crate::notify::sender::run(
                self.db.clone(),
                self.settings.clone(),
            )));
        }
        if self.settings.audit.seal_enabled {
            background.push(tokio::spawn(crate::service::audit_trail::run_sealer(
                self.db.clone(),
                self.settings.clone(),
            )));
        }
        if self.settings.retention.enabled {
            background.push(tokio::spawn(crate::ops::retention::run(
                self.db.clone(),
                self.settings.clone(),
                self.metrics.clone(),
            )));
        }
        let result = self.server.await;
        for task in background {
            task.abort();
        }
        result
    }
}

/// The per-request span: tracing-actix-web's fields (request id, method, route, target, status,
/// client address, user agent) plus `user_id`, which `authenticate` fills in. Its close event is
/// the access log line (with the latency); see `telemetry`.
mod access_log {
    use actix_web::body::MessageBody;
    use actix_web::dev::{ServiceRequest, ServiceResponse};
    use tracing::Span;
    use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder};

    pub struct RootSpan;

    impl RootSpanBuilder for RootSpan {
        fn on_request_start(request: &ServiceRequest) -> Span {
            tracing_actix_web::root_span!(request, user_id = tracing::field::Empty)
        }

        fn on_request_end<B: MessageBody>(
            span: Span,
            outcome: &Result<ServiceResponse<B>, actix_web::Error>,
        ) {
            DefaultRootSpanBuilder::on_request_end(span, outcome);
        }
    }
}

/// Adds the request id from tracing-actix-web to every response.
mod request_id {
    use actix_web::body::MessageBody;
    use actix_web::dev::{ServiceRequest, ServiceResponse};
    use actix_web::http::header::{HeaderName, HeaderValue};
    use actix_web::middleware::Next;
    use actix_web::HttpMessage;
    use tracing_actix_web::RequestId;

    pub async fn add(
        req: ServiceRequest,
        next: Next<impl MessageBody>,
    ) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
        let id = req.extensions().get::<RequestId>().copied();
        let mut res = next.call(req).await?;
        if let Some(id) = id {
            if let Ok(v) = HeaderValue::from_str(&id.to_string()) {
                res.headers_mut()
                    .insert(HeaderName::from_static("x-request-id"), v);
            }
        }
        Ok(res)
    }
}

/// The whole-request deadline (`application.request_timeout_ms`): a request still unanswered
/// when it passes is dropped (its handler cancelled, an open transaction rolled back with its
/// connection) and answered 503 `request_timeout`.
mod deadline {
    use std::time::Duration;

    use actix_web::body::MessageBody;
    use actix_web::dev::{ServiceRequest, ServiceResponse};
    use actix_web::middleware::Next;

    use crate::http::error::ApiError;

    pub async fn enforce(
        limit: Duration,
        req: ServiceRequest,
        next: Next<impl MessageBody>,
    ) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
        match tokio::time::timeout(limit, next.call(req)).await {
            Ok(res) => res,
            Err(_) => Err(ApiError::Overloaded {
                code: "request_timeout",
                detail: format!(
                    "the request took longer than {} ms and was abandoned",
                    limit.as_millis()
                ),
                retry_after_secs: 1,
            }
            .into()),
        }
    }
}

/// The HTTP server. Its workers open their own pools (see below); `Application` keeps the
/// caller's pool (`background`) for what runs beside the server (email sender, audit sealer,
/// retention job). `metrics` reports on all of them.
pub fn run(
    listener: TcpListener,
    settings: Settings,
    background: &Database,
    metrics: Arc<Metrics>,
) -> anyhow::Result<Server> {
    run_with(listener, settings, background, metrics, |_| {})
}

fn run_with(
    listener: TcpListener,
    settings: Settings,
    background: &Database,
    metrics: Arc<Metrics>,
    extra_routes: fn(&mut web::ServiceConfig),
) -> anyhow::Result<Server> {
    let workers = match settings.application.workers {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2),
        n => n,
    };
    let shutdown = settings.application.shutdown_timeout_secs;
    let request_timeout = Duration::from_millis(settings.application.request_timeout_ms);
    let deadline = Duration::from_millis(settings.application.request_timeout_ms);
    // One pool per HTTP worker, `pool_max_size` shared out between them. A pooled connection's
    // driver task runs on the thread that opened it; when that is the worker using it, a query
    // wakes no other thread (docs/PERFORMANCE.md: about 15% more reads per second).
    let per_worker = DatabaseSettings {
        pool_max_size: settings.database.pool_max_size.div_ceil(workers).max(1),
        write_concurrency: settings.database.write_concurrency.div_ceil(workers).max(1),
        ..settings.database.clone()
    };
    let pools = (0..workers)
        .map(|_| Database::new(&per_worker))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let next_pool = Arc::new(AtomicUsize::new(0));
    metrics.set_pools(
        pools
            .iter()
            .enumerate()
            .map(|(i, p)| (format!("http-{i}"), p.clone()))
            .chain([("background".to_string(), background.clone())])
            .collect(),
    );
    let shared = Arc::new(AppState::new(pools[0].clone(), settings).with_metrics(metrics.clone()));
    // Serialized once and shared: each worker holding its own OpenApi tree (as SwaggerUi::url
    // does) cost about 6 MB of heap per copy.
    let openapi_json =
        web::Bytes::from(serde_json::to_vec(&ApiDoc::openapi()).map_err(std::io::Error::other)?);
    let server = HttpServer::new(move || {
        // Called once on each worker thread (again if actix restarts a worker).
        let pool = pools[next_pool.fetch_add(1, Ordering::Relaxed) % pools.len()].clone();
        let state = web::Data::new(shared.with_db(pool));
        let metrics = metrics.clone();
        App::new()
            .app_data(state)
            .configure(extractor_configs)
            // Innermost, so it holds every route and the request id is known: a panic answers
            // its own request 500 and leaves the worker to the others.
            .wrap(from_fn(contain_panic::contain))
            .wrap(from_fn(move |req, next| {
                deadline::enforce(deadline, req, next)
            }))
            .wrap(from_fn(crate::http::language))
            .wrap(Compress::default())
            .wrap(DefaultHeaders::new().add(("X-Content-Type-Options", "nosniff")))
            .wrap(from_fn(request_id::add))
            .wrap(TracingLogger::<access_log::RootSpan>::new())
            // Outermost: counts every answer, the deadline's 503s and error responses included.
            .wrap(from_fn(move |req, next| {
                crate::ops::metrics::record(metrics.clone(), req, next)
            }))
            .configure(routes::configure_operations)
            .service(
                web::scope("/api/v1")
                    .wrap(from_fn(authenticate))
                    .configure(routes::configure_v1),
            )
            .service(openapi_document(openapi_json.clone()))
            .service(
                SwaggerUi::new("/docs/{_:.*}")
                    .config(utoipa_swagger_ui::Config::new(["/openapi.json"])),
            )
            .service(web::redirect("/docs", "/docs/"))
            // Before the pages, whose scope takes every other path.
            .configure(extra_routes)
            .configure(crate::web::configure)
            .default_service(web::to(|| async {
                Err::<actix_web::HttpResponse, _>(ApiError::from(crate::service::Error::NotFound))
            }))
    })
    .workers(workers)
    .client_request_timeout(request_timeout)
    .shutdown_timeout(shutdown)
    .listen(listener)?
    .run();
    Ok(server)
}

/// `GET /openapi.json`: the document serialized at start, one copy for every worker.
fn openapi_document(json: web::Bytes) -> actix_web::Resource {
    web::resource("/openapi.json").route(web::get().to(move || {
        let json = json.clone();
        async move {
            actix_web::HttpResponse::Ok()
                .content_type(actix_web::http::header::ContentType::json())
                .body(json)
        }
    }))
}
