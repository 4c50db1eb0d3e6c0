//! The OpenAPI 3.1 document, assembled by the route table from the handlers' annotations
//! and served as rendered once at start-up.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::state::AppState;

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "opsdeck",
        description = "Health, cron monitoring, queues and tenant diagnostics for on-call engineers. \
                       Every route under /ops needs an authenticated principal with the right role.",
    ),
    components(schemas(crate::error::ErrorBody)),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "probes", description = "Liveness and readiness, public"),
        (name = "ops", description = "Operational views for admins"),
        (name = "tenants", description = "Tenant diagnostics, for support and admins"),
        (name = "ingest", description = "What the application sends with an ingest key: \
            check-ins, queue snapshots, and events (errors, audit events and usage per tenant; \
            POST /api/v1/events answers 200 with one result per event: stored, duplicate or \
            rejected with its field)"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// This document.
#[utoipa::path(get, path = "/ops/openapi.json", tag = "ops",
    responses(
        (status = 200, description = "the OpenAPI 3.1 document of every JSON route"),
        (status = 401, description = "no principal", body = crate::error::ErrorBody),
    ))]
pub async fn get_openapi(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        state.openapi_json().to_owned(),
    )
        .into_response()
}
