//! The one route table. Every route is declared here with the [`Access`] it needs and the
//! [`Kind`] of answer it gives; the table builds the axum router, the OpenAPI document and
//! the list of routes that tests enumerate. A JSON route can only be added through
//! [`RouteTable::json`], which takes its path and method from the handler's
//! `#[utoipa::path]` annotation, so the document cannot miss it.

use axum::Router;
use axum::extract::Request;
use axum::handler::Handler;
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::routing::MethodRouter;
use opsdeck_core::auth::Permission;
use utoipa::OpenApi as _;
use utoipa::openapi::OpenApi;
use utoipa::openapi::path::PathItem;
use utoipa_axum::router::UtoipaMethodRouter;
use utoipa_axum::routes;

pub use crate::middleware::auth::{Access, Kind};
use crate::state::AppState;
use crate::{api, web};
use axum::routing::{get, post};

/// One route as served: what tests walk to prove every route is guarded and documented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    pub method: Method,
    pub path: String,
    pub access: Access,
    pub kind: Kind,
}

/// Routes, the router they build and the OpenAPI document of the JSON ones.
pub struct RouteTable {
    routes: Vec<RouteInfo>,
    router: Router<AppState>,
    openapi: OpenApi,
}

/// Every route opsdeck serves.
pub fn route_table() -> RouteTable {
    use Access::{Ingest, Public, Requires, ScrapeToken};
    use Permission::*;
    RouteTable::new()
        // Probes and scraping.
        .json(Public, routes!(api::probes::livez))
        .json(Public, routes!(api::probes::readyz))
        .text(
            Method::GET,
            "/metrics",
            ScrapeToken,
            get(api::metrics::get_metrics),
        )
        // Pings (SPEC §4), healthchecks.io's slug URLs: the ingest key in the path is the
        // credential, checked by the handler. JSON check-ins for SDKs take it as bearer.
        .pings("/ping/{key}/{slug}", api::ping::ping_success)
        .pings("/ping/{key}/{slug}/start", api::ping::ping_start)
        .pings("/ping/{key}/{slug}/fail", api::ping::ping_fail)
        .pings("/ping/{key}/{slug}/log", api::ping::ping_log)
        .pings("/ping/{key}/{slug}/{exit_status}", api::ping::ping_exit)
        .json(
            Ingest(opsdeck_core::token::Scope::Checkins),
            routes!(api::checkins::create_checkin),
        )
        .json(
            Ingest(opsdeck_core::token::Scope::Jobs),
            routes!(api::queue_snapshot::post_snapshot),
        )
        // Impersonation (SPEC §6): the key set is public, the revocation feed the
        // application's.
        .json(Public, routes!(api::impersonations::get_jwks))
        .json(
            Ingest(opsdeck_core::token::Scope::Events),
            routes!(api::impersonations::list_revoked_impersonations),
        )
        .json(
            Ingest(opsdeck_core::token::Scope::Events),
            routes!(api::events::post_events),
        )
        // Signing in and out of the dashboard.
        .html(Method::GET, "/login", Public, get(web::login::show_login))
        .html(
            Method::POST,
            "/login",
            Public,
            post(web::login::submit_login),
        )
        .html(
            Method::POST,
            "/logout",
            Requires(ReadOps),
            post(web::login::submit_logout),
        )
        // Dashboard pages (SPEC §7) and their static files.
        .html(
            Method::GET,
            "/static/{file}",
            Public,
            get(web::assets::get_static),
        )
        .html(
            Method::GET,
            "/",
            Requires(ReadOps),
            get(web::overview::show_overview),
        )
        .html(
            Method::GET,
            "/overview/live",
            Requires(ReadOps),
            get(web::overview::show_overview_live),
        )
        .html(
            Method::GET,
            "/health",
            Requires(ReadOps),
            get(web::health::show_health),
        )
        .html(
            Method::GET,
            "/health/{name}",
            Requires(ReadOps),
            get(web::health::show_check),
        )
        .html(
            Method::POST,
            "/health/{name}/run",
            Requires(OperateOps),
            post(web::health::run_check_now),
        )
        .html(
            Method::GET,
            "/cron",
            Requires(ReadOps),
            get(web::cron::list::show_monitors),
        )
        .html(
            Method::GET,
            "/cron/{slug}",
            Requires(ReadOps),
            get(web::cron::detail::show_monitor),
        )
        .html(
            Method::POST,
            "/cron/{slug}/pause",
            Requires(OperateOps),
            post(web::cron::actions::pause_monitor),
        )
        .html(
            Method::POST,
            "/cron/{slug}/resume",
            Requires(OperateOps),
            post(web::cron::actions::resume_monitor),
        )
        .html(
            Method::POST,
            "/cron/{slug}/trigger",
            Requires(OperateOps),
            post(web::cron::actions::trigger_monitor),
        )
        .html(
            Method::GET,
            web::cron::edit::NEW_MONITOR,
            Requires(Administer),
            get(web::cron::edit::show_new_monitor),
        )
        .html(
            Method::POST,
            web::cron::edit::NEW_MONITOR,
            Requires(Administer),
            post(web::cron::edit::create_monitor),
        )
        .html(
            Method::GET,
            "/cron/{slug}/edit",
            Requires(Administer),
            get(web::cron::edit::show_edit_monitor),
        )
        .html(
            Method::POST,
            "/cron/{slug}/edit",
            Requires(Administer),
            post(web::cron::edit::update_monitor),
        )
        .html(
            Method::GET,
            "/cron/{slug}/delete",
            Requires(Administer),
            get(web::cron::delete::show_delete_monitor),
        )
        .html(
            Method::POST,
            "/cron/{slug}/delete",
            Requires(Administer),
            post(web::cron::delete::delete_monitor),
        )
        .html(
            Method::GET,
            "/queues",
            Requires(ReadOps),
            get(web::queues::list::show_queues),
        )
        .html(
            Method::GET,
            "/queues/{source}/{queue}",
            Requires(ReadOps),
            get(web::queues::detail::show_queue),
        )
        .html(
            Method::GET,
            "/queues/{source}/{queue}/jobs/{id}",
            Requires(ReadOps),
            get(web::queues::job::show_job),
        )
        .html(
            Method::POST,
            "/queues/{source}/{queue}/jobs/{id}/retry",
            Requires(OperateOps),
            post(web::queues::actions::retry_job),
        )
        .html(
            Method::POST,
            "/queues/{source}/{queue}/jobs/{id}/discard",
            Requires(OperateOps),
            post(web::queues::actions::discard_job),
        )
        .html(
            Method::POST,
            "/queues/{source}/{queue}/retry",
            Requires(OperateOps),
            post(web::queues::actions::retry_jobs),
        )
        .html(
            Method::POST,
            "/queues/{source}/{queue}/discard",
            Requires(OperateOps),
            post(web::queues::actions::discard_jobs),
        )
        .html(
            Method::POST,
            "/queues/{source}/{queue}/pause",
            Requires(OperateOps),
            post(web::queues::actions::pause_queue),
        )
        .html(
            Method::POST,
            "/queues/{source}/{queue}/resume",
            Requires(OperateOps),
            post(web::queues::actions::resume_queue),
        )
        .html(
            Method::GET,
            "/tenants",
            Requires(ReadTenants),
            get(web::tenants::show_tenants),
        )
        .html(
            Method::GET,
            "/tenants/{id}",
            Requires(ReadTenants),
            get(web::tenants::show_tenant),
        )
        .html(
            Method::GET,
            "/tenants/{id}/queries/{name}",
            Requires(ReadTenants),
            get(web::tenants::show_tenant_query),
        )
        .html(
            Method::GET,
            "/tenants/{id}/impersonations",
            Requires(Impersonate),
            get(web::impersonation::show_impersonations),
        )
        .html(
            Method::POST,
            "/tenants/{id}/impersonations",
            Requires(Impersonate),
            post(web::impersonation::start_impersonation),
        )
        .html(
            Method::POST,
            "/tenants/{id}/impersonations/{jti}/end",
            Requires(Impersonate),
            post(web::impersonation::end_impersonation),
        )
        .html(
            Method::GET,
            "/alerts",
            Requires(ReadOps),
            get(web::alerts::show_alerts),
        )
        .html(
            Method::GET,
            "/audit",
            Requires(Administer),
            get(web::audit::show_audit),
        )
        .html(
            Method::GET,
            "/tokens",
            Requires(Administer),
            get(web::tokens::show_tokens),
        )
        // Operational reads.
        .json(Requires(ReadOps), routes!(api::session::get_session))
        .json(Requires(ReadOps), routes!(api::openapi::get_openapi))
        .json(Requires(ReadOps), routes!(api::instances::list_instances))
        .json(Requires(ReadOps), routes!(api::health::get_health))
        .json(Requires(ReadOps), routes!(api::health::get_check))
        .json(Requires(OperateOps), routes!(api::health::run_check))
        .json(Requires(ReadOps), routes!(api::cron::list_monitors))
        .json(Requires(ReadOps), routes!(api::cron::get_monitor))
        .json(Requires(ReadOps), routes!(api::cron::list_runs))
        .json(
            Requires(OperateOps),
            routes!(api::cron_admin::pause_monitor),
        )
        .json(
            Requires(OperateOps),
            routes!(api::cron_admin::resume_monitor),
        )
        .json(
            Requires(OperateOps),
            routes!(api::cron_admin::trigger_monitor),
        )
        .json(Requires(ReadOps), routes!(api::alerts::list_alerts))
        .json(Requires(ReadOps), routes!(api::queues::list_queues))
        .json(Requires(ReadOps), routes!(api::queues::get_queue))
        .json(Requires(ReadOps), routes!(api::queues::list_jobs))
        .json(Requires(ReadOps), routes!(api::queues::get_job))
        .json(Requires(OperateOps), routes!(api::queues::retry_job))
        .json(Requires(OperateOps), routes!(api::queues::discard_job))
        .json(Requires(OperateOps), routes!(api::queues::retry_jobs))
        .json(Requires(OperateOps), routes!(api::queues::discard_jobs))
        .json(Requires(OperateOps), routes!(api::queues::pause_queue))
        .json(Requires(OperateOps), routes!(api::queues::resume_queue))
        // Tenants (SPEC §6).
        .json(Requires(ReadTenants), routes!(api::tenants::list_tenants))
        .json(Requires(ReadTenants), routes!(api::tenants::get_tenant))
        .json(
            Requires(ReadTenants),
            routes!(api::tenants::get_tenant_query),
        )
        .json(
            Requires(Impersonate),
            routes!(api::impersonations::start_impersonation),
        )
        .json(
            Requires(Impersonate),
            routes!(api::impersonations::list_impersonations),
        )
        .json(
            Requires(Impersonate),
            routes!(api::impersonations::end_impersonation),
        )
        // Administration.
        .json(
            Requires(Administer),
            routes!(api::cron_admin::create_monitor),
        )
        .json(
            Requires(Administer),
            routes!(api::cron_admin::update_monitor),
        )
        .json(
            Requires(Administer),
            routes!(api::cron_admin::delete_monitor),
        )
        .json(Requires(Administer), routes!(api::tokens::list_tokens))
        .json(Requires(Administer), routes!(api::tokens::create_token))
        .json(Requires(Administer), routes!(api::tokens::revoke_token))
        .json(Requires(Administer), routes!(api::audit::list_audit))
        .json(Requires(Administer), routes!(api::audit::verify_audit))
        .with_closed_all_of()
}

impl std::fmt::Debug for RouteTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteTable")
            .field("routes", &self.routes)
            .finish_non_exhaustive()
    }
}

impl RouteTable {
    fn new() -> Self {
        Self {
            routes: Vec::new(),
            router: Router::new(),
            openapi: api::openapi::ApiDoc::openapi(),
        }
    }

    /// Adds a JSON route documented by its handler's `#[utoipa::path]`.
    fn json(mut self, access: Access, route: UtoipaMethodRouter<AppState>) -> Self {
        let (schemas, mut paths, method_router) = route;
        for item in paths.paths.values_mut() {
            document_shared_errors(item, access);
        }
        for (path, item) in &paths.paths {
            for method in methods_of(item) {
                self.add_info(method, path, access, Kind::Json);
            }
            self.router = self
                .router
                .route(path, guard(method_router.clone(), access, Kind::Json));
        }
        let components = self.openapi.components.get_or_insert_with(Default::default);
        components.schemas.extend(schemas);
        // Several handlers may share a path (GET and POST /ops/tokens): merge, not replace.
        self.openapi.paths.merge(paths);
        self
    }

    /// Adds a server-rendered page or form target.
    fn html(
        mut self,
        method: Method,
        path: &str,
        access: Access,
        handler: MethodRouter<AppState>,
    ) -> Self {
        self.add_info(method, path, access, Kind::Html);
        self.router = self.router.route(path, guard(handler, access, Kind::Html));
        self
    }

    /// Adds a route that answers with plain text (not part of the JSON API document).
    fn text(
        mut self,
        method: Method,
        path: &str,
        access: Access,
        handler: MethodRouter<AppState>,
    ) -> Self {
        self.add_info(method, path, access, Kind::Text);
        self.router = self.router.route(path, guard(handler, access, Kind::Text));
        self
    }

    /// Adds a public plain-text route answering HEAD, GET and POST alike: a ping URL, whose
    /// credential is in its path.
    fn pings<H, T>(mut self, path: &str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        for method in [Method::HEAD, Method::GET, Method::POST] {
            self.add_info(method, path, Access::Public, Kind::Text);
        }
        let methods = get(handler.clone()).head(handler.clone()).post(handler);
        self.router = self
            .router
            .route(path, guard(methods, Access::Public, Kind::Text));
        self
    }

    fn add_info(&mut self, method: Method, path: &str, access: Access, kind: Kind) {
        let info = RouteInfo {
            method,
            path: path.to_owned(),
            access,
            kind,
        };
        assert!(
            !self.routes.contains(&info),
            "route {} {} declared twice",
            info.method,
            info.path
        );
        self.routes.push(info);
    }

    /// Merges each `allOf` that includes a closed object (`additionalProperties: false`, from
    /// `deny_unknown_fields`) into one closed object: as written, such an `allOf` admits no
    /// document at all (the closed part refuses the other parts' fields), so a client or a
    /// fuzzer generating from the schema could never build a valid body.
    fn with_closed_all_of(mut self) -> Self {
        use utoipa::openapi::schema::{AdditionalProperties, Object, Schema};
        use utoipa::openapi::{RefOr, Type};
        let Some(components) = self.openapi.components.as_mut() else {
            return self;
        };
        let named = components.schemas.clone();
        let object_of = |part: &RefOr<Schema>| -> Option<Object> {
            let schema = match part {
                RefOr::Ref(reference) => named.get(
                    reference
                        .ref_location
                        .trim_start_matches("#/components/schemas/"),
                )?,
                inline => inline,
            };
            match schema {
                RefOr::T(Schema::Object(object)) => Some(object.clone()),
                _ => None,
            }
        };
        let closed = |object: &Object| {
            matches!(
                object.additional_properties.as_deref(),
                Some(AdditionalProperties::FreeForm(false))
            )
        };
        for schema in components.schemas.values_mut() {
            let RefOr::T(Schema::AllOf(all_of)) = schema else {
                continue;
            };
            let Some(parts) = all_of
                .items
                .iter()
                .map(object_of)
                .collect::<Option<Vec<_>>>()
            else {
                continue;
            };
            if !parts.iter().any(closed) {
                continue;
            }
            let mut merged = Object::with_type(Type::Object);
            merged.description.clone_from(&all_of.description);
            for part in parts {
                merged.properties.extend(part.properties);
                for name in part.required {
                    if !merged.required.contains(&name) {
                        merged.required.push(name);
                    }
                }
            }
            merged.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
            *schema = RefOr::T(Schema::Object(merged));
        }
        self
    }

    pub fn routes(&self) -> &[RouteInfo] {
        &self.routes
    }

    pub fn openapi(&self) -> &OpenApi {
        &self.openapi
    }

    pub fn into_parts(self) -> (Router<AppState>, OpenApi, Vec<RouteInfo>) {
        (self.router, self.openapi, self.routes)
    }
}

fn guard(handler: MethodRouter<AppState>, access: Access, kind: Kind) -> MethodRouter<AppState> {
    handler.route_layer(middleware::from_fn(move |request: Request, next: Next| {
        crate::middleware::auth::authorize(access, kind, request, next)
    }))
}

/// Adds the answers any route of its kind may give, whatever its handler: 503 (opsdeck's
/// database or a source unreachable, shutting down), 429 for a caller over its rate limit,
/// and for a request with a body 408 (it did not arrive in time) and 413 (too large).
fn document_shared_errors(item: &mut PathItem, access: Access) {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let error = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build()
    };
    let operations = [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ];
    for operation in operations.into_iter().flatten() {
        let mut shared = Vec::new();
        if access != Access::Public {
            shared.push(("429", "over the caller's rate limit; see Retry-After"));
            shared.push((
                "503",
                "opsdeck's database or a source does not answer; see Retry-After",
            ));
        }
        if operation.request_body.is_some() {
            shared.push(("408", "the request body did not arrive in time"));
            shared.push(("413", "the request body is over the limit"));
            shared.push(("415", "the request body is not JSON"));
        }
        for (status, description) in shared {
            operation
                .responses
                .responses
                .entry(status.to_owned())
                .or_insert_with(|| error(description).into());
        }
    }
}

/// The HTTP methods an OpenAPI path item documents.
pub fn methods_of(item: &PathItem) -> Vec<Method> {
    [
        (Method::GET, item.get.is_some()),
        (Method::PUT, item.put.is_some()),
        (Method::POST, item.post.is_some()),
        (Method::DELETE, item.delete.is_some()),
        (Method::OPTIONS, item.options.is_some()),
        (Method::HEAD, item.head.is_some()),
        (Method::PATCH, item.patch.is_some()),
        (Method::TRACE, item.trace.is_some()),
    ]
    .into_iter()
    .filter_map(|(m, present)| present.then_some(m))
    .collect()
}
