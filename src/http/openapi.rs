//! The OpenAPI document (generated from the handlers' annotations) and its bearer scheme.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::Modify;

pub use super::routes::ApiDoc;

pub struct SecurityAddon;

impl Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A token from POST /api/v1/auth/login or POST /api/v1/me/tokens",
                    ))
                    .build(),
            ),
        );
    }
}

/// Makes the document say what every handler really answers, whatever its annotation lists:
/// error bodies are `application/problem+json` (not `application/json`); every operation may
/// answer 400 (malformed parameters or JSON), 422 (validation) and 503 (database unavailable),
/// every `/api/v1` operation 401 (and 403 where a role is checked), and every operation with a body 413; `?limit=` is 1..=200.
/// Found by the spec fuzzer (scripts/fuzz.sh), which checks responses against this document.
pub struct ProblemResponses;

const PROBLEM: &str = "application/problem+json";

impl Modify for ProblemResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::ParameterIn;
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};

        let problem = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        PROBLEM,
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("Problem")))
                            .build(),
                    )
                    .build(),
            )
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.options,
                &mut item.head,
                &mut item.patch,
                &mut item.trace,
            ];
            for op in operations.into_iter().flatten() {
                for (status, response) in op.responses.responses.iter_mut() {
                    let is_error = status.starts_with('4') || status.starts_with('5');
                    if let (true, RefOr::T(response)) = (is_error, response) {
                        if let Some(content) = response.content.shift_remove("application/json") {
                            response.content.insert(PROBLEM.to_string(), content);
                        }
                    }
                }
                let mut generic = vec![
                    ("400", "malformed parameters or JSON (`bad_request`)"),
                    ("422", "validation failed (`validation_failed`)"),
                    ("503", "the database is unavailable (`service_unavailable`)"),
                ];
                if path.starts_with("/api/v1/") {
                    generic.push(("401", "no or bad token (`unauthorized`)"));
                }
                if path.starts_with("/api/v1/")
                    && path != "/api/v1/auth/login"
                    && !path.starts_with("/api/v1/me")
                {
                    // Every such route checks the caller's role before anything else.
                    generic.push(("403", "the caller's role forbids it (`forbidden`)"));
                }
                if op.request_body.is_some() {
                    generic.push(("413", "body too large (`payload_too_large`)"));
                }
                for (status, description) in generic {
                    op.responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| problem(description));
                }
                for p in op.parameters.iter_mut().flatten() {
                    if p.name == "limit" && matches!(p.parameter_in, ParameterIn::Query) {
                        p.schema = Some(RefOr::T(
                            ObjectBuilder::new()
                                .schema_type(Type::Integer)
                                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                                .minimum(Some(1))
                                .maximum(Some(super::pagination::MAX_LIMIT as i32))
                                .default(Some(super::pagination::DEFAULT_LIMIT.into()))
                                .into(),
                        ));
                    }
                }
            }
        }
    }
}
