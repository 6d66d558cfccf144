//! Every API route, listed once: the same list registers the handlers with actix and their
//! descriptions with the OpenAPI document, so no route can be served undocumented.

pub mod applications;
pub mod attachments;
pub mod audit;
pub mod auth;
pub mod grants;
pub mod health;
pub mod me;
pub mod metrics;
pub mod organizations;
pub mod outbox;
pub mod payouts;
pub mod review;
pub mod rounds;
pub mod spending;
pub mod users;

#[allow(unused_imports)]
use crate::domain::violation::Violation;
use crate::http::error::Problem;
use crate::http::openapi::{ProblemResponses, SecurityAddon};

macro_rules! api {
    (operations: [$($op:path),* $(,)?], v1: [$($h:path),* $(,)?]) => {
        /// Routes outside `/api/v1` (health checks, metrics).
        pub fn configure_operations(cfg: &mut actix_web::web::ServiceConfig) {
            $(cfg.service($op);)*
        }

        /// Routes under `/api/v1`.
        pub fn configure_v1(cfg: &mut actix_web::web::ServiceConfig) {
            $(cfg.service($h);)*
        }

        #[derive(utoipa::OpenApi)]
        #[openapi(
            paths($($op,)* $($h,)*),
            components(schemas(Problem, Violation)),
            modifiers(&SecurityAddon, &ProblemResponses),
            info(title = "gongyi", description = "Grant management for public-benefit venture philanthropy (公益创投). Errors are RFC 9457 problem+json with a stable `code`."),
            tags(
                (name = "auth", description = "Sign-in and API tokens"),
                (name = "users", description = "Users and roles"),
                (name = "organizations", description = "The organization registry"),
                (name = "rounds", description = "Funding rounds"),
                (name = "applications", description = "Project applications and budgets"),
                (name = "review", description = "Review panels, assignments, scoring and ranking"),
                (name = "awards", description = "Award decisions: preview, public notice, objections, finalization"),
                (name = "grants", description = "Grants, tranches and milestones"),
                (name = "payouts", description = "Payout requests and maker-checker approval"),
                (name = "ledger", description = "Ledger exports (CSV with BOM, XLSX)"),
                (name = "spending", description = "Expenditures against the budget, budget execution, financial reports, budget adjustments"),
                (name = "attachments", description = "Documents of applications, grants and expenditures (multipart upload, download)"),
                (name = "notifications", description = "The email outbox"),
                (name = "audit", description = "The tamper-evident audit trail"),
                (name = "operations", description = "Health, readiness and metrics"),
            )
        )]
        pub struct ApiDoc;
    };
}

api! {
    operations: [health::healthz, health::readyz, metrics::metrics],
    v1: [
        auth::login,
        me::me,
        me::create_token,
        me::list_tokens,
        me::revoke_token,
        users::create_user,
        users::list_users,
        users::update_user,
        organizations::create_organization,
        organizations::list_organizations,
        organizations::get_organization,
        organizations::update_organization,
        rounds::create_round,
        rounds::list_rounds,
        rounds::get_round,
        rounds::update_round,
        rounds::open_round,
        rounds::close_round,
        applications::create_application,
        applications::list_applications,
        applications::get_application,
        applications::update_application,
        applications::replace_budget,
        applications::validate_application,
        applications::submit_application,
        applications::withdraw_application,
        applications::screen_application,
        review::add_reviewer,
        review::list_reviewers,
        review::assign,
        review::list_assignments,
        review::get_assignment,
        review::save_scores,
        review::submit_scores,
        review::declare_conflict,
        review::reopen_scores,
        review::ranking,
        review::preview_awards,
        review::publish_awards,
        review::get_awards,
        review::record_objection,
        review::finalize_awards,
        grants::list_grants,
        grants::get_grant,
        grants::record_milestone,
        grants::request_payout,
        grants::grant_ledger_csv,
        grants::grant_ledger_xlsx,
        grants::round_ledger_csv,
        grants::round_ledger_xlsx,
        payouts::list_payouts,
        payouts::approve_payout,
        payouts::reject_payout,
        payouts::mark_paid,
        outbox::list_outbox,
        outbox::retry_outbox_message,
        audit::list_audit,
        audit::verify_audit,
        spending::create_expenditure,
        spending::list_expenditures,
        spending::get_expenditure,
        spending::update_expenditure,
        spending::delete_expenditure,
        spending::budget_execution,
        spending::submit_report,
        spending::list_reports,
        spending::get_report,
        spending::propose_adjustment,
        spending::list_adjustments,
        spending::approve_adjustment,
        spending::reject_adjustment,
        attachments::upload_application_attachment,
        attachments::list_application_attachments,
        attachments::upload_grant_attachment,
        attachments::list_grant_attachments,
        attachments::upload_expenditure_attachment,
        attachments::list_expenditure_attachments,
        attachments::download_attachment,
        attachments::delete_attachment,
    ]
}
