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
    if committed.trim_end() != generated {
        let first = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b);
        let line =
            first.unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
        let show = |doc: &str| {
            doc.lines()
                .skip(line.saturating_sub(2))
                .take(5)
                .collect::<Vec<_>>()
                .join("\n")
        };
        panic!(
            "openapi/openapi.json is stale at line {}: run `UPDATE_OPENAPI=1 cargo test --test api openapi`\n--- committed\n{}\n--- generated\n{}",
            line + 1,
            show(&committed),
            show(&generated)
        );
    }
}

#[test]
fn every_protected_operation_names_the_bearer_scheme_and_public_ones_do_not() {
    let doc = serde_json::to_value(webfb::http::openapi()).unwrap();
    let public = [
        "/api/v1/auth/login",
        "/api/v1/auth/login/otp",
        "/api/v1/self-service/soft-tokens",
        "/api/v1/self-service/otp/registration",
        "/api/v1/self-service/otp/stop",
        "/api/v1/self-service/otp/exchange",
        "/api/v1/bank/auth/login",
        "/health",
        "/ready",
        "/openapi.json",
        "/metrics",
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

#[test]
fn every_operation_declares_the_error_codes_it_can_return() {
    let doc = serde_json::to_value(webfb::http::openapi()).unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap();
            assert!(
                webfb::http::openapi::operation_codes(id).is_some(),
                "{method} {path}: {id} has no entry in operation_codes"
            );
            for (status, response) in op["responses"].as_object().unwrap() {
                if status.starts_with('4') || status.starts_with('5') {
                    let schema = &response["content"]["application/problem+json"]["schema"];
                    let codes = schema["allOf"][1]["properties"]["code"]["enum"].as_array();
                    assert!(
                        codes.is_some_and(|c| !c.is_empty()),
                        "{id} {status}: {schema}"
                    );
                }
            }
        }
    }
}
