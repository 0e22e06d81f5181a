//! Start-up refuses what it cannot serve, quickly and clearly.

use webfb::clock::SystemClock;
use webfb::db::{Database, DbConn};
use webfb::startup::Application;

use crate::helpers::{Engine, spawn_app, test_settings};

#[test]
fn a_database_url_with_an_unknown_scheme_names_the_accepted_forms() {
    let err = Database::parse("mysql://u:secret@localhost/webfb")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("sqlite://") && err.contains("postgres://"),
        "{err}"
    );
    assert!(!err.contains("secret"));
}

#[tokio::test]
async fn an_unreachable_postgres_fails_with_the_database_s_own_message() {
    let dir = tempfile::tempdir().unwrap();
    // Port 1 on loopback: nothing listens, the refusal is immediate.
    let database = Database::parse("postgres://webfb:wrong@127.0.0.1:1/webfb").unwrap();
    let result = Application::build(
        test_settings(database, dir.path()),
        std::sync::Arc::new(SystemClock),
    )
    .await;
    let err = result.err().expect("start-up fails").to_string();
    assert!(err.contains("cannot connect to the database"), "{err}");
    assert!(
        err.contains("127.0.0.1") || err.to_lowercase().contains("refused"),
        "{err}"
    );
}

#[tokio::test]
async fn a_sqlite_path_in_a_missing_directory_is_an_error_not_a_new_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("webfb.db");
    let database = Database::parse(&format!("sqlite://{}", path.display())).unwrap();
    let result = Application::build(
        test_settings(database, dir.path()),
        std::sync::Arc::new(SystemClock),
    )
    .await;
    assert!(result.is_err());
    assert!(!path.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_key_that_does_not_open_the_stored_seeds_stops_start_up() {
    use crate::helpers::{Engine, spawn_app};
    let app = spawn_app(Engine::Sqlite).await;
    let company = app.company("acme").await;
    app.issue_token(&company.admin_token).await;
    let dir = tempfile::tempdir().unwrap();

    let wrong = test_settings(app.database.clone(), dir.path());
    let err = Application::build(wrong, std::sync::Arc::new(SystemClock))
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("do not open") && err.contains("\"test\""),
        "{err}"
    );

    // Rotated: a new current key, the old one kept to open what it sealed.
    let mut rotated = test_settings(app.database.clone(), dir.path());
    rotated.master_key_id = "k2".into();
    rotated.previous_master_keys =
        vec![("test".into(), secrecy::SecretBox::new(Box::new(app.key)))];
    assert!(
        Application::build(rotated, std::sync::Arc::new(SystemClock))
            .await
            .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_database_is_private_and_every_commit_reaches_the_disk() {
    use diesel::RunQueryDsl;
    use std::os::unix::fs::PermissionsExt;
    use webfb::db::Database;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("webfb.db");
    let database = Database::Sqlite(path.clone());
    let mut conn = database.connect().unwrap();
    webfb::db::run_migrations(&mut conn).unwrap();
    for file in [path.clone(), dir.path().join("webfb.db-wal")] {
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }
    #[derive(diesel::QueryableByName)]
    struct Synchronous {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        synchronous: i32,
    }
    let webfb::db::DbConn::Sqlite(sqlite) = &mut conn else {
        panic!("SQLite")
    };
    let got: Vec<Synchronous> = diesel::sql_query("PRAGMA synchronous")
        .load(sqlite)
        .unwrap();
    assert_eq!(got[0].synchronous, 2, "FULL");
}

/// PostgreSQL only: an embedded SQLite database has no server to end a connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(webfb_postgres_tests),
    ignore = "PostgreSQL: set TEST_DATABASE_URL=postgres://… and run again"
)]
async fn connections_the_database_ended_fail_one_request_each_and_are_then_replaced() {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Ended {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        ended: i64,
    }
    let app = spawn_app(Engine::Postgres).await;
    let company = app.company("ended").await;
    let me = || app.get("/api/v1/me", Some(&company.admin_token));
    assert_eq!(me().await.status(), 200);
    let ended = app
        .with_db(|conn, _| {
            let DbConn::Postgres(pg) = conn else {
                unreachable!("a PostgreSQL test")
            };
            diesel::sql_query(
                "SELECT count(pg_terminate_backend(pid)) AS ended FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )
            .get_result::<Ended>(pg)
            .unwrap()
            .ended
        })
        .await;
    assert!(ended > 0, "the server's connections were ended");
    let mut statuses = Vec::new();
    for _ in 0..20 {
        statuses.push(me().await.status().as_u16());
    }
    // A connection answered on recently is lent without a probe, so a request can fail
    // on it; it is probed before it is lent again, and a new one replaces it: at most
    // one failure for each connection ended.
    let recovered = statuses
        .iter()
        .position(|s| *s == 200)
        .unwrap_or_else(|| panic!("no request succeeded: {statuses:?}"));
    assert!(
        statuses[recovered..].iter().all(|s| *s == 200),
        "{statuses:?}"
    );
    assert!(recovered as i64 <= ended, "{ended} ended: {statuses:?}");
}
