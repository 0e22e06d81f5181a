//! The committed OpenAPI document is exactly what the code generates.

#[test]
fn the_committed_openapi_document_matches_the_code() {
    let generated = webfb::http::openapi().to_pretty_json().unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    if std::env::var("UPDATE_OPENAPI").is_ok() {
        std::fs::write(path, format!("{generated}\n")).unwrap();
        return;
    }
    assert_eq!(
        committed.trim_end(),
        generated,
        "openapi/openapi.json is stale: run `cargo run -- openapi > openapi/openapi.json` (or UPDATE_OPENAPI=1 cargo test openapi)"
    );
}

#[test]
fn every_protected_operation_names_the_bearer_scheme_and_public_ones_do_not() {
    let doc = serde_json::to_value(webfb::http::openapi()).unwrap();
    let public = [
        "/api/v1/auth/login",
        "/api/v1/bank/auth/login",
        "/health",
        "/ready",
        "/openapi.json",
    ];
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let secured = op.get("security").is_some();
            assert_eq!(secured, !public.contains(&path.as_str()), "{method} {path}");
            assert!(
                op["operationId"].is_string(),
                "{method} {path} has an operationId"
            );
        }
    }
}
