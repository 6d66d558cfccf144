use serde_json::json;
use uuid::Uuid;

use crate::auth::password::{self, HashParams};
use crate::auth::Caller;
use crate::config::AuthSettings;
use crate::domain::user::{EmailAddress, Language, Password, Role};
use crate::domain::violation::Violation;
use crate::service::{run_transaction, Error};
use crate::storage::models::{UserInsertForm, UserRow, UserUpdateForm};
use crate::storage::{users, Database};

pub struct NewUserInput {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub organization_id: Option<Uuid>,
    pub password: String,
    pub language: Language,
}

pub async fn create(
    db: &Database,
    auth: &AuthSettings,
    input: NewUserInput,
    actor: Option<&Caller>,
) -> Result<UserRow, Error> {
    let mut violations = Vec::new();
    let email = EmailAddress::parse(&input.email)
        .map_err(|m| violations.push(Violation::new("email", m).field("email")))
        .ok();
    let password = Password::parse(input.password)
        .map_err(|m| {
            violations.push(
                Violation::new("password_length", m)
                    .limit(format!("{}..{}", Password::MIN_CHARS, Password::MAX_CHARS))
                    .field("password"),
            )
        })
        .ok();
    let name = input.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        violations.push(
            Violation::new("length", "name has 1 to 100 characters")
                .limit("1..100")
                .field("name"),
        );
    }
    match (input.role, input.organization_id) {
        (Role::Applicant, None) => violations.push(
            Violation::new(
                "applicant_organization",
                "an applicant user belongs to an organization",
            )
            .field("organization_id"),
        ),
        (role, Some(_)) if role != Role::Applicant => violations.push(
            Violation::new(
                "applicant_organization",
                "only applicant users belong to an organization",
            )
            .field("organization_id"),
        ),
        _ => {}
    }
    let (Some(email), Some(password)) = (email, password) else {
        return Err(Error::Validation(violations));
    };
    if !violations.is_empty() {
        return Err(Error::Validation(violations));
    }
    let hash = password::hash(password.expose().to_string(), HashParams::from(auth)).await?;
    let form = UserInsertForm {
        id: Uuid::new_v4(),
        email: email.as_str().to_string(),
        name,
        role: input.role.as_str().to_string(),
        organization_id: input.organization_id,
        language: input.language.as_str().to_string(),
        password_hash: hash,
        active: true,
    };
    run_transaction(db, async move |conn| {
            let row = users::insert(conn, &form).await?;
            super::audit(
                conn,
                actor,
                "user.created",
                "user",
                row.id,
                None::<&()>,
                Some(&json!({"email": row.email, "role": row.role, "organization_id": row.organization_id})),
            )
            .await?;
            Ok(row)
        })
    .await
}

pub async fn update(
    db: &Database,
    id: Uuid,
    form: UserUpdateForm,
    actor: &Caller,
) -> Result<UserRow, Error> {
    run_transaction(db, async move |conn| {
        let before = users::get(conn, id).await?;
        let row = users::update(conn, id, &form).await?;
        // Deactivation signs the user out of every browser at once.
        if form.active == Some(false) {
            crate::storage::sessions::delete_for_user(conn, id).await?;
        }
        super::audit(
            conn,
            Some(actor),
            "user.updated",
            "user",
            id,
            Some(
                &json!({"name": before.name, "active": before.active, "language": before.language}),
            ),
            Some(&json!({"name": row.name, "active": row.active, "language": row.language})),
        )
        .await?;
        Ok(row)
    })
    .await
}
