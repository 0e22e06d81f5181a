//! The sealed audit trail: each event carries a MAC, a sealer chains committed events in
//! the order it sees them commit, and `verify` names the first event changed, removed or
//! inserted by someone holding the database role (who can drop the append-only triggers).

use diesel::connection::SimpleConnection;
use serde_json::json;

use webfb::db::DbConn;
use webfb::service::audit::{self, Verdict};

use crate::helpers::*;
use webfb_test_macros::engine_test;

/// A story with a few dozen audit events, all sealed.
async fn sealed_story(app: &TestApp) -> i64 {
    let company = app.company("acme").await;
    app.user(&company, "user.one").await;
    app.activate(&company, "per_user").await;
    app.login("acme.admin", "Wrong-Pass-2026").await;
    let sealed = app
        .with_services(|db, svc| audit::seal(db, svc).unwrap())
        .await;
    assert!(sealed >= 8, "{sealed} events sealed");
    let verdict = app
        .with_services(|db, svc| audit::verify(db, svc, None).unwrap())
        .await;
    let Verdict::Intact { sealed, waiting } = verdict else {
        panic!("{verdict:?}");
    };
    assert_eq!(waiting, 0);
    sealed
}

async fn verdict(app: &TestApp) -> Verdict {
    app.with_services(|db, svc| audit::verify(db, svc, None).unwrap())
        .await
}

/// What someone with the database role can do: drop the append-only triggers.
fn drop_guards(conn: &mut DbConn) {
    let sql = match conn {
        DbConn::Sqlite(_) => {
            "DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete; \
             DROP TRIGGER audit_seals_no_update; DROP TRIGGER audit_seals_no_delete;"
        }
        DbConn::Postgres(_) => {
            "DROP TRIGGER audit_events_append_only ON audit_events; \
             DROP TRIGGER audit_seals_append_only ON audit_seals;"
        }
    };
    conn.batch_execute(sql).unwrap();
}

/// The event sealed at `position`.
fn event_at(conn: &mut DbConn, position: i64) -> i64 {
    use diesel::prelude::*;
    use webfb::db::schema::audit_seals::dsl as s;
    s::audit_seals
        .filter(s::position.eq(position))
        .select(s::event_id)
        .first(conn)
        .unwrap()
}

#[engine_test]
async fn an_untouched_trail_verifies_and_a_changed_event_is_named(app: TestApp) {
    let sealed = sealed_story(&app).await;
    let middle = sealed / 2;
    let id = app
        .with_db(move |conn, _| {
            let id = event_at(conn, middle);
            drop_guards(conn);
            conn.batch_execute(&format!(
                "UPDATE audit_events SET outcome = 'success' WHERE id = {id}"
            ))
            .unwrap();
            conn.batch_execute(&format!(
                "UPDATE audit_events SET client_addr = '198.51.100.1' WHERE id = {id}"
            ))
            .unwrap();
            id
        })
        .await;
    assert_eq!(
        verdict(&app).await,
        Verdict::Broken(format!("event {id} (position {middle}) was changed"))
    );
}

#[engine_test]
async fn a_removed_event_is_named_even_with_its_seal_gone(app: TestApp) {
    let sealed = sealed_story(&app).await;
    let middle = sealed / 2;
    app.with_db(move |conn, _| {
        let id = event_at(conn, middle);
        drop_guards(conn);
        conn.batch_execute(&format!(
            "DELETE FROM audit_seals WHERE position = {middle}; DELETE FROM audit_events WHERE id = {id};"
        ))
        .unwrap();
    })
    .await;
    assert_eq!(
        verdict(&app).await,
        Verdict::Broken(format!(
            "the event sealed at position {middle} was removed, with its seal"
        ))
    );
}

#[engine_test]
async fn an_inserted_event_is_named_and_never_sealed(app: TestApp) {
    sealed_story(&app).await;
    let id = app
        .with_db(|conn, _| {
            use diesel::prelude::*;
            use webfb::db::schema::audit_events::dsl as a;
            conn.batch_execute(
                "INSERT INTO audit_events (occurred_at, actor_kind, action, outcome, flagged, uid, mac, mac_key_id) \
                 VALUES ('2026-11-24 10:00:00', 'operator', 'token_reset', 'success', FALSE, 'forged', 'ab', 'test')",
            )
            .unwrap();
            a::audit_events.select(diesel::dsl::max(a::id)).first::<Option<i64>>(conn).unwrap().unwrap()
        })
        .await;
    let sealed = app
        .with_services(|db, svc| audit::seal(db, svc).unwrap())
        .await;
    assert_eq!(sealed, 0, "the sealer refuses a row it did not see written");
    assert_eq!(
        verdict(&app).await,
        Verdict::Broken(format!(
            "event {id} was inserted or changed behind the application's back"
        ))
    );
}

#[engine_test]
async fn the_log_is_read_in_sealed_order_and_a_late_commit_is_never_skipped(app: TestApp) {
    let company = app.company("acme").await;
    let operator = company.operator_token.clone();
    let page = |after: Option<i64>| {
        let path = match after {
            Some(a) => format!("/api/v1/bank/audit-events?limit=200&after={a}"),
            None => "/api/v1/bank/audit-events?limit=200".to_owned(),
        };
        let app = &app;
        let operator = operator.clone();
        async move { body(app.get(&path, Some(&operator)).await).await }
    };
    let first = page(None).await;
    let items = first["items"].as_array().unwrap();
    let positions: Vec<i64> = items
        .iter()
        .map(|e| e["position"].as_i64().unwrap())
        .collect();
    assert!(
        positions.windows(2).all(|w| w[1] == w[0] + 1),
        "{positions:?}"
    );
    let last = *positions.last().unwrap();

    // An event written in a transaction that commits after a later one was sealed: it
    // is sealed after it, and the next page (after the last position seen) shows it.
    let database = app.database.clone();
    let (late, later) = app
        .with_db(move |conn, svc| {
            use webfb::domain::audit::{ActorKind, AuditAction, Event, Outcome};
            let event = |detail: &str| {
                Event::new(AuditAction::TokenReset, Outcome::Success, ActorKind::System)
                    .detail(json!({ "case": detail }))
            };
            let mut other = database.connect().unwrap();
            other.batch_execute("BEGIN").unwrap();
            audit::record(&mut other, svc, event("late")).unwrap();
            // SQLite has one writer at a time: there the late one commits first, and
            // the order of ids is the order of commits.
            if matches!(conn, DbConn::Sqlite(_)) {
                other.batch_execute("COMMIT").unwrap();
            }
            audit::record(conn, svc, event("later")).unwrap();
            audit::seal(&mut webfb::db::Db::single(conn), svc).unwrap();
            if matches!(conn, DbConn::Postgres(_)) {
                other.batch_execute("COMMIT").unwrap();
            }
            ("late", "later")
        })
        .await;
    let next = page(Some(last)).await;
    let cases: Vec<&str> = next["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["detail"]["case"].as_str().map(str::to_owned))
        .map(|c| if c == late { late } else { later })
        .collect();
    assert_eq!(cases.len(), 2, "{next}");
    assert!(cases.contains(&late) && cases.contains(&later), "{next}");
    assert!(matches!(verdict(&app).await, Verdict::Intact { .. }));
}

#[engine_test(spawn_app_sealing_as_it_serves)]
async fn the_server_seals_as_it_serves_without_anyone_reading(app: TestApp) {
    app.company("acme").await;
    // Waits for the sealer's thread, however slow the machine (a minute at most, so a
    // sealer that never runs fails instead of hanging).
    for _ in 0..3000 {
        if let Verdict::Intact { sealed, waiting: 0 } = verdict(&app).await
            && sealed > 0
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the sealer never sealed: {:?}", verdict(&app).await);
}

#[engine_test]
async fn events_cut_from_the_end_are_named_against_a_logged_head(app: TestApp) {
    let sealed = sealed_story(&app).await;
    let head = app
        .with_db(move |conn, _| {
            use diesel::prelude::*;
            use webfb::db::schema::audit_seals::dsl as s;
            let chain: String = s::audit_seals
                .filter(s::position.eq(sealed))
                .select(s::chain)
                .first(conn)
                .unwrap();
            let id = event_at(conn, sealed);
            drop_guards(conn);
            conn.batch_execute(&format!(
                "DELETE FROM audit_seals WHERE position = {sealed}; DELETE FROM audit_events WHERE id = {id};"
            ))
            .unwrap();
            chain
        })
        .await;
    let verdict = app
        .with_services(move |db, svc| audit::verify(db, svc, Some((sealed, &head))).unwrap())
        .await;
    assert_eq!(
        verdict,
        Verdict::Broken(format!(
            "the trail ends at position {} before the anchor at {sealed}: events were removed from its end",
            sealed - 1
        ))
    );
}

#[engine_test]
async fn a_copy_of_an_event_is_named(app: TestApp) {
    sealed_story(&app).await;
    let copy = app
        .with_db(|conn, _| {
            use diesel::prelude::*;
            use webfb::db::schema::audit_events::dsl as a;
            conn.batch_execute(
                "DROP INDEX audit_events_uid; \
                 INSERT INTO audit_events (occurred_at, company_id, actor_kind, actor_id, action, target_kind, target_id, outcome, flagged, client_addr, detail, uid, mac, mac_key_id) \
                 SELECT occurred_at, company_id, actor_kind, actor_id, action, target_kind, target_id, outcome, flagged, client_addr, detail, uid, mac, mac_key_id \
                 FROM audit_events WHERE id = (SELECT MAX(id) FROM audit_events)",
            )
            .unwrap();
            a::audit_events.select(diesel::dsl::max(a::id)).first::<Option<i64>>(conn).unwrap().unwrap()
        })
        .await;
    assert_eq!(
        verdict(&app).await,
        Verdict::Broken(format!(
            "event {copy} was inserted or changed behind the application's back"
        ))
    );
}
