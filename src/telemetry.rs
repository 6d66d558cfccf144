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
    let _ = result;
}
