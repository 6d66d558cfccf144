//! The web pages: server-rendered HTML for people in a browser, on the same `service` use cases
//! as the JSON API. Sessions live in cookies (never bearer tokens), every state-changing form
//! carries a CSRF token, and every page speaks the reader's language (zh-CN unless English is
//! asked for). Templates are compiled in (askama); styles and scripts are embedded and served
//! under content-hashed names.

pub mod assets;
pub mod error;
pub mod form;
pub mod format;
pub mod page;
pub mod pages;
pub mod session;
pub mod upload;

use actix_web::middleware::from_fn;
use actix_web::web;

/// Registers every page under one scope with the session middleware. Registered after the
/// API and the operations routes, so those match first.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(assets::serve).service(
        web::scope("")
            .wrap(from_fn(session::load))
            .configure(pages::configure)
            .default_service(web::to(pages::not_found)),
    );
}

#[cfg(test)]
mod tests {
    /// Every label a page writes through `page.t(…)` or `i18n::text(…, "…")` has its Chinese.
    #[test]
    fn every_page_label_is_in_the_chinese_catalog() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web");
        let mut missing = Vec::new();
        let mut files = vec![root];
        while let Some(p) = files.pop() {
            if p.is_dir() {
                files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            for marker in [
                "page.t(\"",
                "i18n::text(lang, \"",
                "i18n::text(\n            lang,\n            \"",
            ] {
                for piece in text.split(marker).skip(1) {
                    let label = &piece[..piece.find('"').unwrap_or(0)];
                    if !label.is_empty() && crate::i18n::zh_text(label).is_none() {
                        missing.push(format!("{}: {label}", p.display()));
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "labels without Chinese:\n{}",
            missing.join("\n")
        );
    }
}
