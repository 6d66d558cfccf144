// Diesel table definitions, kept by hand in step with `migrations/`.

diesel::table! {
    organizations (id) {
        id -> Uuid,
        name -> Text,
        credit_code -> Nullable<Text>,
        org_type -> Text,
        registration_date -> Nullable<Date>,
        district -> Text,
        contact_person -> Text,
        contact_phone -> Text,
        contact_email -> Text,
        rating -> Nullable<Text>,
        rating_valid_until -> Nullable<Date>,
        party_building_status -> Text,
        party_member_count -> Int4,
        party_assessment -> Text,
        blacklisted_until -> Nullable<Date>,
        blacklist_reason -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        email -> Text,
        name -> Text,
        role -> Text,
        organization_id -> Nullable<Uuid>,
        language -> Text,
        password_hash -> Text,
        active -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> Uuid,
        user_id -> Uuid,
        kind -> Text,
        name -> Text,
        digest -> Bytea,
        created_at -> Timestamptz,
        expires_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    web_sessions (id) {
        id -> Uuid,
        user_id -> Uuid,
        digest -> Bytea,
        csrf_token -> Text,
        created_at -> Timestamptz,
        last_seen_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    login_failures (id) {
        id -> Int8,
        email_lower -> Text,
        failed_at -> Timestamptz,
    }
}

diesel::table! {
    rounds (id) {
        id -> Uuid,
        name -> Text,
        year -> Int4,
        kind -> Text,
        status -> Text,
        total_pool -> Numeric,
        grant_min -> Numeric,
        grant_max -> Numeric,
        opens_at -> Timestamptz,
        closes_at -> Timestamptz,
        project_start -> Nullable<Date>,
        project_end -> Nullable<Date>,
        focus_areas -> Array<Text>,
        rules -> Jsonb,
        rubric -> Jsonb,
        party_points -> Jsonb,
        tranche_schedule -> Jsonb,
        created_by -> Uuid,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    applications (id) {
        id -> Uuid,
        round_id -> Uuid,
        organization_id -> Uuid,
        status -> Text,
        title -> Text,
        focus_area -> Text,
        summary -> Text,
        beneficiaries -> Text,
        beneficiary_count -> Int4,
        start_date -> Nullable<Date>,
        end_date -> Nullable<Date>,
        requested_grant -> Numeric,
        co_funding -> Numeric,
        team -> Jsonb,
        party_activity_count -> Int4,
        party_activity_description -> Text,
        red_project -> Bool,
        previous_application_id -> Nullable<Uuid>,
        budget_total -> Numeric,
        budget_personnel -> Numeric,
        budget_grant -> Numeric,
        budget_self -> Numeric,
        submitted_at -> Nullable<Timestamptz>,
        screening_reason -> Nullable<Text>,
        created_by -> Uuid,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        award_amount -> Nullable<Numeric>,
    }
}

diesel::table! {
    budget_lines (id) {
        id -> Uuid,
        application_id -> Uuid,
        position -> Int4,
        category -> Text,
        description -> Text,
        quantity -> Numeric,
        unit_cost -> Numeric,
        amount -> Numeric,
        funded_by -> Text,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Int8,
        at -> Timestamptz,
        actor_id -> Nullable<Uuid>,
        actor_role -> Nullable<Text>,
        action -> Text,
        entity_type -> Text,
        entity_id -> Uuid,
        before -> Nullable<Jsonb>,
        after -> Nullable<Jsonb>,
        // `txid xid8` (the writing transaction) is not mapped: it has a database default and
        // only the sealer reads it, in SQL (storage/audit_chain.rs).
    }
}

diesel::table! {
    audit_seals (seq) {
        seq -> Int8,
        event_id -> Int8,
        prev_hash -> Bytea,
        hash -> Bytea,
        sealed_at -> Timestamptz,
    }
}

diesel::table! {
    email_outbox (id) {
        id -> Int8,
        message_id -> Uuid,
        recipient -> Text,
        recipient_name -> Text,
        language -> Text,
        kind -> Text,
        subject -> Text,
        body_text -> Text,
        body_html -> Text,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        sent_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    panel_members (round_id, reviewer_id) {
        round_id -> Uuid,
        reviewer_id -> Uuid,
        affiliations -> Array<Uuid>,
        added_by -> Uuid,
        added_at -> Timestamptz,
    }
}

diesel::table! {
    assignments (id) {
        id -> Uuid,
        round_id -> Uuid,
        application_id -> Uuid,
        reviewer_id -> Uuid,
        status -> Text,
        scores -> Json,
        judged_total -> Nullable<Numeric>,
        comment -> Text,
        conflict_reason -> Nullable<Text>,
        assigned_by -> Uuid,
        submitted_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    award_decisions (round_id) {
        round_id -> Uuid,
        status -> Text,
        pool -> Numeric,
        total_awarded -> Numeric,
        notice_until -> Timestamptz,
        version -> Int4,
        published_by -> Uuid,
        published_at -> Timestamptz,
        finalized_by -> Nullable<Uuid>,
        finalized_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    awards (round_id, application_id) {
        round_id -> Uuid,
        application_id -> Uuid,
        rank -> Nullable<Int4>,
        final_score -> Nullable<Numeric>,
        outcome -> Text,
        requested -> Numeric,
        amount -> Numeric,
    }
}

diesel::table! {
    award_objections (id) {
        id -> Uuid,
        round_id -> Uuid,
        application_id -> Nullable<Uuid>,
        objection -> Text,
        resolution -> Nullable<Text>,
        recorded_by -> Uuid,
        recorded_at -> Timestamptz,
    }
}

diesel::table! {
    grants (id) {
        id -> Uuid,
        application_id -> Uuid,
        round_id -> Uuid,
        organization_id -> Uuid,
        amount -> Numeric,
        status -> Text,
        previous_grant_id -> Nullable<Uuid>,
        requested_total -> Numeric,
        committed_total -> Numeric,
        paid_total -> Numeric,
        clawback_amount -> Nullable<Numeric>,
        terminated_at -> Nullable<Timestamptz>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    tranches (id) {
        id -> Uuid,
        grant_id -> Uuid,
        number -> Int4,
        percent -> Numeric,
        amount -> Numeric,
        milestone -> Text,
        status -> Text,
        requested_total -> Numeric,
        committed_total -> Numeric,
        paid_total -> Numeric,
        due_at -> Nullable<Timestamptz>,
        paid_at -> Nullable<Timestamptz>,
        cancelled_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    milestone_events (id) {
        id -> Uuid,
        grant_id -> Uuid,
        milestone -> Text,
        score -> Nullable<Numeric>,
        grade -> Nullable<Text>,
        passed -> Bool,
        note -> Text,
        recorded_by -> Nullable<Uuid>,
        recorded_at -> Timestamptz,
    }
}

diesel::table! {
    payouts (id) {
        id -> Uuid,
        grant_id -> Uuid,
        tranche_id -> Uuid,
        amount -> Numeric,
        status -> Text,
        note -> Text,
        requested_by -> Uuid,
        requested_at -> Timestamptz,
        approved_by -> Nullable<Uuid>,
        approved_at -> Nullable<Timestamptz>,
        rejected_by -> Nullable<Uuid>,
        rejected_at -> Nullable<Timestamptz>,
        rejected_reason -> Nullable<Text>,
        paid_by -> Nullable<Uuid>,
        paid_at -> Nullable<Timestamptz>,
        bank_reference -> Nullable<Text>,
        value_date -> Nullable<Date>,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    idempotency_keys (user_id, key) {
        user_id -> Uuid,
        key -> Text,
        request_hash -> Bytea,
        response_status -> Nullable<Int2>,
        response_body -> Nullable<Jsonb>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    financial_reports (id) {
        id -> Uuid,
        grant_id -> Uuid,
        period -> Text,
        status -> Text,
        expenditure_count -> Int4,
        period_total -> Numeric,
        cumulative_total -> Numeric,
        execution -> Jsonb,
        party_elements -> Jsonb,
        note -> Text,
        submitted_by -> Uuid,
        submitted_at -> Timestamptz,
    }
}

diesel::table! {
    expenditures (id) {
        id -> Uuid,
        grant_id -> Uuid,
        category -> Text,
        budget_line_id -> Nullable<Uuid>,
        description -> Text,
        amount -> Numeric,
        spent_on -> Date,
        payee -> Text,
        report_id -> Nullable<Uuid>,
        created_by -> Uuid,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    budget_adjustments (id) {
        id -> Uuid,
        grant_id -> Uuid,
        status -> Text,
        reason -> Text,
        moves -> Jsonb,
        lines -> Jsonb,
        version -> Nullable<Int4>,
        proposed_by -> Uuid,
        proposed_at -> Timestamptz,
        decided_by -> Nullable<Uuid>,
        decided_at -> Nullable<Timestamptz>,
        decision_note -> Nullable<Text>,
    }
}

diesel::table! {
    attachments (id) {
        id -> Uuid,
        owner_type -> Text,
        owner_id -> Uuid,
        organization_id -> Uuid,
        kind -> Text,
        filename -> Text,
        content_type -> Text,
        size -> Int8,
        sha256 -> Bytea,
        uploaded_by -> Uuid,
        uploaded_at -> Timestamptz,
    }
}

diesel::table! {
    attachment_contents (attachment_id) {
        attachment_id -> Uuid,
        bytes -> Bytea,
    }
}

diesel::joinable!(users -> organizations (organization_id));
diesel::joinable!(api_tokens -> users (user_id));
diesel::joinable!(web_sessions -> users (user_id));
diesel::joinable!(applications -> rounds (round_id));
diesel::joinable!(applications -> organizations (organization_id));
diesel::joinable!(budget_lines -> applications (application_id));
diesel::joinable!(assignments -> applications (application_id));
diesel::joinable!(assignments -> users (reviewer_id));
diesel::joinable!(awards -> applications (application_id));
diesel::joinable!(grants -> applications (application_id));
diesel::joinable!(grants -> rounds (round_id));
diesel::joinable!(grants -> organizations (organization_id));
diesel::joinable!(tranches -> grants (grant_id));
diesel::joinable!(milestone_events -> grants (grant_id));
diesel::joinable!(payouts -> grants (grant_id));
diesel::joinable!(payouts -> tranches (tranche_id));
diesel::joinable!(audit_seals -> audit_events (event_id));
diesel::joinable!(financial_reports -> grants (grant_id));
diesel::joinable!(expenditures -> grants (grant_id));
diesel::joinable!(budget_adjustments -> grants (grant_id));
diesel::joinable!(attachment_contents -> attachments (attachment_id));

diesel::allow_tables_to_appear_in_same_query!(
    organizations,
    users,
    api_tokens,
    login_failures,
    web_sessions,
    rounds,
    applications,
    budget_lines,
    audit_events,
    panel_members,
    assignments,
    award_decisions,
    awards,
    award_objections,
    grants,
    tranches,
    milestone_events,
    payouts,
    idempotency_keys,
    audit_seals,
    email_outbox,
    financial_reports,
    expenditures,
    budget_adjustments,
    attachments,
    attachment_contents,
);
