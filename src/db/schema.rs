//! Diesel table definitions, one schema for both engines (see `migrations/`).

diesel::table! {
    bank_operators (id) {
        id -> Text,
        login_id -> Text,
        name -> Text,
        password_hash -> Text,
        failed_logins -> Integer,
        locked_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        locks -> Integer,
        disabled -> Bool,
    }
}

diesel::table! {
    companies (id) {
        id -> Text,
        name -> Text,
        transfer_limit -> BigInt,
        otp_mode -> Nullable<Text>,
        otp_status -> Text,
        otp_activated_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        kind -> Text,
        closed_at -> Nullable<Timestamp>,
        login_method -> Text,
        approval_min_amount -> Nullable<BigInt>,
        approvals_required -> Integer,
    }
}

diesel::table! {
    person_certificates (id) {
        id -> Text,
        user_id -> Text,
        fingerprint -> Text,
        serial -> Text,
        subject -> Text,
        not_before -> Timestamp,
        not_after -> Timestamp,
        registered_at -> Timestamp,
        registered_by -> Text,
        revoked_at -> Nullable<Timestamp>,
        revoked_by -> Nullable<Text>,
    }
}

diesel::table! {
    company_accounts (id) {
        id -> Text,
        company_id -> Text,
        branch_code -> Text,
        account_number -> Text,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        company_id -> Text,
        login_id -> Text,
        name -> Text,
        role -> Text,
        can_transfer -> Bool,
        disabled -> Bool,
        password_hash -> Text,
        failed_logins -> Integer,
        login_locked_at -> Nullable<Timestamp>,
        transfer_password_hash -> Text,
        transfer_password_failures -> Integer,
        transfer_password_locked_at -> Nullable<Timestamp>,
        approval_password_hash -> Nullable<Text>,
        approval_failures -> Integer,
        approval_locked_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        login_locked_until -> Nullable<Timestamp>,
        login_locks -> Integer,
        email -> Nullable<Text>,
        can_approve -> Bool,
    }
}

diesel::table! {
    webhook_subscriptions (id) {
        id -> Text,
        url -> Text,
        event_types -> Text,
        key_id -> Text,
        sealed_secret -> Binary,
        created_by -> Text,
        created_at -> Timestamp,
        removed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    outbox (id) {
        id -> Text,
        channel -> Text,
        destination -> Text,
        event_type -> Text,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        claimed_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        kind -> Text,
        subject_id -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
        ended_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    soft_tokens (id) {
        id -> Text,
        token_id -> Text,
        company_id -> Nullable<Text>,
        source -> Text,
        algorithm -> Text,
        digits -> Integer,
        period -> Integer,
        key_id -> Text,
        sealed_secret -> Binary,
        issued_by -> Nullable<Text>,
        issued_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        holder_id -> Nullable<Text>,
        registered_at -> Nullable<Timestamp>,
        last_used_step -> BigInt,
        failed_attempts -> Integer,
        locked_at -> Nullable<Timestamp>,
        suspended_at -> Nullable<Timestamp>,
        otp_kind -> Text,
        time_drift -> BigInt,
    }
}

diesel::table! {
    sign_in_challenges (id) {
        id -> Text,
        user_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    otp_step_uses (id) {
        id -> Text,
        soft_token_id -> Text,
        step -> BigInt,
        used_by -> Text,
        purpose -> Text,
        transfer_id -> Nullable<Text>,
        used_at -> Timestamp,
    }
}

diesel::table! {
    transfers (id) {
        id -> Text,
        company_id -> Text,
        created_by -> Text,
        idempotency_key -> Text,
        request_hash -> Text,
        content_hash -> Text,
        debit_account -> Text,
        payee_bank_code -> Text,
        payee_branch_code -> Text,
        payee_account_type -> Text,
        payee_account_number -> Text,
        payee_name -> Text,
        amount -> BigInt,
        execution_date -> Date,
        memo -> Nullable<Text>,
        status -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        confirmed_at -> Nullable<Timestamp>,
        confirmation_method -> Nullable<Text>,
        confirmed_step -> Nullable<BigInt>,
        cancelled_at -> Nullable<Timestamp>,
        cancelled_by -> Nullable<Text>,
        content_key_id -> Nullable<Text>,
        approvals_required -> Integer,
        approvals_given -> Integer,
    }
}

diesel::table! {
    transfer_approvals (id) {
        id -> Text,
        transfer_id -> Text,
        person_id -> Text,
        decision -> Text,
        method -> Nullable<Text>,
        step -> Nullable<BigInt>,
        reason -> Nullable<Text>,
        decided_at -> Timestamp,
    }
}

diesel::table! {
    bank_procedures (id) {
        id -> Text,
        kind -> Text,
        target_id -> Text,
        company_id -> Nullable<Text>,
        reason -> Text,
        evidence -> Text,
        status -> Text,
        requested_by -> Text,
        requested_at -> Timestamp,
        expires_at -> Timestamp,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
        decision_note -> Nullable<Text>,
    }
}

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        occurred_at -> Timestamp,
        company_id -> Nullable<Text>,
        actor_kind -> Text,
        actor_id -> Nullable<Text>,
        action -> Text,
        target_kind -> Nullable<Text>,
        target_id -> Nullable<Text>,
        outcome -> Text,
        flagged -> Bool,
        client_addr -> Nullable<Text>,
        detail -> Nullable<Text>,
        uid -> Nullable<Text>,
        mac -> Nullable<Text>,
        mac_key_id -> Nullable<Text>,
        request_id -> Nullable<Text>,
    }
}

diesel::table! {
    audit_seals (position) {
        position -> BigInt,
        event_id -> BigInt,
        chain -> Text,
        key_id -> Text,
        sealed_at -> Timestamp,
    }
}

diesel::table! {
    audit_chain_start (legacy_until) {
        legacy_until -> BigInt,
    }
}

diesel::joinable!(company_accounts -> companies (company_id));
diesel::joinable!(users -> companies (company_id));
diesel::joinable!(transfers -> companies (company_id));
diesel::joinable!(audit_seals -> audit_events (event_id));

diesel::allow_tables_to_appear_in_same_query!(
    bank_operators,
    companies,
    company_accounts,
    users,
    sessions,
    soft_tokens,
    otp_step_uses,
    transfers,
    audit_events,
    sign_in_challenges,
    person_certificates,
    audit_seals,
    audit_chain_start,
    webhook_subscriptions,
    outbox,
    transfer_approvals,
    bank_procedures,
);
