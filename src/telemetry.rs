//! Structured logs with `tracing`: pretty for people, JSON for collectors. Secrets are never
//! logged: settings types redact them in `Debug`, and request bodies are not logged.

use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::{fmt, prelude::*, EnvFilter};

use crate::config::{LogFormat, LogSettings};

/// Installs the global subscriber once; later calls (tests) are ignored.
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match settings.format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    // The request span's close event is the access log line.
                    .with_span_events(FmtSpan::CLOSE)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Pretty => registry
            .with(
                fmt::layer()
                    .with_target(false)
                    .with_span_events(FmtSpan::CLOSE)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    if result.is_ok() {
        log_panics();
    }
}

/// Panics become error events of the subscriber, inside the span that was current: one
/// raised while a request is served carries its request id (and method, route, user). The
/// answer to that request is `http::contain_panic`'s business.
fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| info.payload().downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(a panic without a message)");
        let location = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_default();
        let thread = std::thread::current();
        // Captured only when RUST_BACKTRACE (or RUST_LIB_BACKTRACE) asks for it.
        let backtrace = std::backtrace::Backtrace::capture();
        tracing::error!(
            panic = message,
            location,
            thread = thread.name().unwrap_or("unnamed"),
            backtrace = %backtrace,
            "panicked"
        );
    }));
}
