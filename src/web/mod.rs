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
