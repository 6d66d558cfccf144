//! A panic while a request is served answers that request 500 `internal_error` and nothing
//! else: actix-web runs handlers on its worker threads without catching panics, so one would
//! end the worker and drop every connection it serves. Wrapped around the whole App (see
//! `startup::run`), this covers every route, extractor and middleware inside it.

use std::any::Any;
use std::panic::AssertUnwindSafe;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::HttpMessage;
use futures_util::FutureExt;
use tracing_actix_web::RequestId;

use super::error::ApiError;
use crate::service;

/// Polls the rest of the request inside `catch_unwind`. A panic's unwinding drops whatever the
/// request held (a pooled connection in a transaction is discarded, as on a timeout), so the
/// state other requests see is not left half-changed: `AssertUnwindSafe` is sound here.
///
/// The answer is an error (problem+json from `ApiError`) rather than a response, because the
/// request itself went down with the panic; actix renders it like any other refused request.
pub async fn contain(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let request_id = req.extensions().get::<RequestId>().copied();
    // Copies, not a clone of the request: routing needs the request to itself.
    let method = req.method().clone();
    let path = req.path().to_string();
    match AssertUnwindSafe(next.call(req)).catch_unwind().await {
        Ok(res) => res,
        Err(payload) => {
            let message = panic_message(payload.as_ref());
            // Inside the request span too, but named here so the line stands on its own.
            tracing::error!(
                request_id = request_id.map(|id| id.to_string()).unwrap_or_default(),
                method = %method,
                path,
                panic = message,
                "a request panicked; answered 500 internal_error"
            );
            let error = service::Error::Internal(anyhow::anyhow!("request panicked: {message}"));
            Err(ApiError::from(error).into())
        }
    }
}

/// The text a panic was raised with (`panic!("...")`, `expect("...")`, an overflow message).
pub fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(a panic without a message)")
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use actix_web::middleware::from_fn;
    use actix_web::test as atest;
    use actix_web::{web, App, HttpResponse};
    use tracing_actix_web::TracingLogger;

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[actix_web::test]
    async fn a_panic_is_a_logged_500_with_the_request_id() {
        let logs = Buffer::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let app = atest::init_service(
            App::new()
                .wrap(from_fn(contain))
                .wrap(TracingLogger::default())
                .route(
                    "/boom",
                    web::get().to(|| async {
                        let v: Vec<u8> = std::hint::black_box(Vec::new());
                        HttpResponse::Ok().body(v[1].to_string())
                    }),
                )
                .route("/fine", web::get().to(HttpResponse::Ok)),
        )
        .await;
        // The server renders the error as it renders every refusal.
        let err =
            atest::try_call_service(&app, atest::TestRequest::get().uri("/boom").to_request())
                .await
                .err()
                .expect("the panic becomes an error");
        let res = err.error_response();
        assert_eq!(res.status(), 500);
        assert_eq!(
            res.headers().get("content-type").unwrap(),
            "application/problem+json"
        );
        let body = actix_web::body::to_bytes(res.into_body()).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["code"], "internal_error");
        assert!(
            !body["detail"]
                .as_str()
                .unwrap()
                .contains("index out of bounds"),
            "the cause stays in the log: {body}"
        );
        // The same service goes on answering.
        let res =
            atest::call_service(&app, atest::TestRequest::get().uri("/fine").to_request()).await;
        assert_eq!(res.status(), 200);
        let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
        let line = text
            .lines()
            .find(|l| l.contains("a request panicked"))
            .unwrap_or_else(|| panic!("no panic line in {text}"));
        let line: serde_json::Value = serde_json::from_str(line).unwrap();
        let id = line["fields"]["request_id"].as_str().unwrap();
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{line}");
        assert!(
            line["fields"]["panic"]
                .as_str()
                .unwrap()
                .contains("index out of bounds"),
            "{line}"
        );
        assert_eq!(line["fields"]["path"], "/boom");
    }

    #[test]
    fn messages_of_both_payload_kinds() {
        let s: Box<dyn Any + Send> = Box::new("static");
        let o: Box<dyn Any + Send> = Box::new(String::from("owned"));
        let n: Box<dyn Any + Send> = Box::new(7u8);
        assert_eq!(panic_message(s.as_ref()), "static");
        assert_eq!(panic_message(o.as_ref()), "owned");
        assert_eq!(panic_message(n.as_ref()), "(a panic without a message)");
    }
}
