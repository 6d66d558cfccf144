//! One broken rule, as clients see it in `violations` of a 422 answer.

use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Violation {
    /// Stable snake_case name of the rule (e.g. `personnel_ratio`, `application_quota`).
    pub rule: String,
    /// A sentence for people.
    pub message: String,
    /// The limit the rule sets, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    /// The observed value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
    /// The request field concerned, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl Violation {
    pub fn new(rule: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            rule: rule.into(),
            message: message.into(),
            limit: None,
            actual: None,
            field: None,
        }
    }
    pub fn limit(mut self, limit: impl ToString) -> Self {
        self.limit = Some(limit.to_string());
        self
    }
    pub fn actual(mut self, actual: impl ToString) -> Self {
        self.actual = Some(actual.to_string());
        self
    }
    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}
