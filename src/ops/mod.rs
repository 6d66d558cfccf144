//! What operators need beside the API: metrics for a Prometheus scraper, and the retention job
//! that keeps operational tables from growing for ever. See docs/OPERATIONS.md.

pub mod metrics;
pub mod retention;
