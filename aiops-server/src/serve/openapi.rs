//! The OpenAPI document (`GET /api/openapi.json`) and the Swagger UI (`/api/docs`), both
//! served without a token: they describe the API and hold no data.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    alerts, analysis, api, events, ingest, integrations, knowledge, logs, rules, session, topology,
    workflows, ws,
};

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API token (`aiops token create`) or an OIDC JWT"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                aiops_service::auth::session::SESSION_COOKIE,
                "The console's session cookie (POST /api/v1/session); mutations also need the x-aiops-csrf header",
            ))),
        );
    }
}

/// The API of `aiops serve`.
#[derive(OpenApi)]
#[openapi(
    info(title = "aiops", description = "Anomalies, alerts, incidents, root causes and forecasts over live telemetry."),
    modifiers(&Bearer),
    paths(
        api::health, api::ready, api::metrics, api::detect, api::list_anomalies, api::anomaly,
        ingest::remote_write, ingest::points,
        alerts::post_v2, alerts::webhook, alerts::get_v2, alerts::status_v2, alerts::list,
        alerts::acknowledge, alerts::resolve, alerts::incidents, alerts::incident, alerts::audit,
        analysis::analyze, analysis::get, analysis::forecast, analysis::recommendations,
        ws::alerts, ws::metrics,
        rules::create, rules::list, rules::get, rules::update, rules::delete,
        topology::get, topology::put, topology::dependencies,
        knowledge::runbooks, knowledge::search, events::post, events::list,
        integrations::list, integrations::dashboard,
        logs::ingest, logs::lines, logs::templates, logs::anomalies,
        workflows::list, workflows::create, workflows::get_one, workflows::update,
        workflows::delete, workflows::run, workflows::runs,
        workflows::run_record, workflows::execute, workflows::execution,
        session::login, session::whoami, session::logout,
    )
)]
pub(crate) struct ApiDoc;

/// The document as a value.
pub(crate) fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc
}
