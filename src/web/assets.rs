//! Styles and scripts, embedded in the binary (the machines are offline: no CDN) and served
//! under names that carry a hash of their content, so browsers may cache them for a year.

use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::{get, web, HttpResponse};
use sha2::{Digest, Sha256};

struct Asset {
    /// The name templates ask for (`app.css`).
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

static FILES: &[Asset] = &[
    Asset {
        name: "pico.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("static/pico-2.1.1.classless.min.css"),
    },
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("static/app.css"),
    },
    Asset {
        name: "htmx.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("static/htmx-2.0.8.min.js"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("static/app.js"),
    },
];

/// (hashed file name, asset) pairs, computed once.
fn hashed() -> &'static [(String, &'static Asset)] {
    static HASHED: OnceLock<Vec<(String, &'static Asset)>> = OnceLock::new();
    HASHED.get_or_init(|| {
        FILES
            .iter()
            .map(|a| {
                let digest = hex::encode(&Sha256::digest(a.bytes)[..6]);
                let (stem, ext) = a.name.rsplit_once('.').unwrap_or((a.name, ""));
                (format!("{stem}.{digest}.{ext}"), a)
            })
            .collect()
    })
}

/// The URL of an embedded asset by its plain name (`/static/app.3f2a9c1b0d4e.css`).
pub fn url(name: &str) -> String {
    hashed()
        .iter()
        .find(|(_, a)| a.name == name)
        .map(|(h, _)| format!("/static/{h}"))
        .unwrap_or_else(|| format!("/static/{name}"))
}

#[get("/static/{file}")]
pub async fn serve(file: web::Path<String>) -> HttpResponse {
    match hashed().iter().find(|(h, _)| *h == *file) {
        Some((_, a)) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, a.content_type))
            .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
            .body(a.bytes),
        None => HttpResponse::NotFound()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_carry_a_content_hash() {
        let u = url("app.css");
        assert!(u.starts_with("/static/app.") && u.ends_with(".css"), "{u}");
        assert_eq!(u.len(), "/static/app.".len() + 12 + ".css".len());
        assert_ne!(url("pico.css"), url("app.css"));
    }
}
