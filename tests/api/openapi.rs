//! The committed OpenAPI document is exactly what the code generates.

use serde_json::Value;

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
            // Public operations say so with an empty requirement list.
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
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
                    let members: Vec<&Value> = match schema["oneOf"].as_array() {
                        Some(members) => members.iter().collect(),
                        None => vec![schema],
                    };
                    assert!(!members.is_empty(), "{id} {status}: {schema}");
                    // Each member is the family's schema of one code, answered with this status.
                    for member in members {
                        let name = member["$ref"].as_str().unwrap();
                        let name = name.strip_prefix("#/components/schemas/").unwrap();
                        let family = &doc["components"]["schemas"][name]["allOf"][1]["properties"];
                        let statuses = family["status"]["enum"].as_array().unwrap();
                        assert!(
                            statuses.iter().any(|s| s.as_u64() == status.parse().ok()),
                            "{id} {status}: {name}"
                        );
                        assert_eq!(
                            family["code"]["enum"].as_array().unwrap().len(),
                            1,
                            "{name}"
                        );
                    }
                }
            }
        }
    }
}
