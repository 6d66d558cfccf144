//! The role guard of a route: which roles may ever call it, checked before the handler's
//! extractors read the path, the query or the body, so a refused caller gets 403 (or 401
//! without a token) whatever it sent.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::HttpMessage;
use futures_util::future::{ready, LocalBoxFuture, Ready};

use super::error::ApiError;
use crate::auth::Caller;
use crate::domain::user::Role;

/// Route middleware: `#[post("/rounds", wrap = "RequireRole(roles::ADMIN)")]`. Reads the
/// `Caller` that `extract::authenticate` put into the request (none → 401 `unauthorized`) and
/// refuses a role outside the set with 403 `forbidden`, the answer `Caller::require` gives.
/// Scopes, ownership and state checks stay with the handler and its service.
#[derive(Clone, Copy)]
pub struct RequireRole(pub &'static [Role]);

impl<S, B> Transform<S, ServiceRequest> for RequireRole
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = RequireRoleService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequireRoleService {
            service,
            allowed: self.0,
        }))
    }
}

pub struct RequireRoleService<S> {
    service: S,
    allowed: &'static [Role],
}

impl<S, B> Service<ServiceRequest> for RequireRoleService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let refusal = match req.extensions().get::<Caller>() {
            None => Some(ApiError::Unauthorized),
            Some(caller) => caller.require(self.allowed).err().map(ApiError::from),
        };
        match refusal {
            // Answered here as a handler's error would be (a response, not an error passed
            // up), inside the request's language scope.
            Some(e) => {
                let res = req.error_response(e).map_into_right_body();
                Box::pin(ready(Ok(res)))
            }
            None => {
                let fut = self.service.call(req);
                Box::pin(async move { Ok(fut.await?.map_into_left_body()) })
            }
        }
    }
}
