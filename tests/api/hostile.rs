//! Hostile input against every operation of the API. The operations are read from the
//! OpenAPI document, so a new endpoint is covered without a line here: each path, query
//! and header parameter and each field of each body gets each hostile value once, and
//! each body is also sent broken. Every request goes anonymous and signed in (the
//! company's administrator, or a bank operator under /api/v1/bank/), on a server whose
//! lockouts never trigger, so that every request reaches as deep as its values allow
//! whatever came before it. No answer may be a 5xx, every refusal is problem+json with a
//! string `code`, and a failure lists every offending request at once.
//!
//! Bodies nested deep enough to overflow a parser's stack abort the whole process; they
//! go to a `webfb` process of their own (SQLite: the body is read before the database),
//! so that a crash is reported instead of ending the test binary.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue};
use serde_json::{Value, json};
use webfb::clock::Clock;

use crate::helpers::*;
use webfb_test_macros::engine_test;

/// A hostile value: what the report calls it, and the bytes sent.
struct Hostile {
    label: &'static str,
    raw: Vec<u8>,
}

fn h(label: &'static str, raw: impl Into<Vec<u8>>) -> Hostile {
    Hostile {
        label,
        raw: raw.into(),
    }
}

/// Path segments and query values as they go on the wire: percent-encoded where the
/// encoding is the point, the rest encoded by the client.
fn in_url() -> Vec<Hostile> {
    vec![
        h("NUL", "%00"),
        h("x NUL y", "x%00y"),
        h("5000 chars", "a".repeat(5000)),
        h("dot-dot slash", "..%2F.."),
        h("bidi override", "%E2%80%AE"),
        h("UUID then NUL", "00000000-0000-0000-0000-000000000000%00"),
        h("emoji", "😀"),
        h("SQL", "' OR 1=1 --"),
        h("invalid UTF-8", "%FF%FE"),
        h("encoded surrogate", "%ED%A0%80"),
        h("lone percent", "%"),
        h("CR LF", "%0D%0A"),
        h("empty", ""),
    ]
}

/// Query values: those of the path, numbers out of range, and cursors that decode to
/// garbage.
fn in_query() -> Vec<Hostile> {
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let mut values = in_url();
    values.extend([
        h("-1", "-1"),
        h("zero", "0"),
        h("i64 max", "9223372036854775807"),
        h("i64 max + 1", "9223372036854775808"),
        h("i64 min - 1", "-9223372036854775809"),
        h("exponent", "1e3"),
        h("fraction", "1.5"),
        h("base64 of NUL", b64(b"\0")),
        h(
            "base64 of garbage",
            b64(&[0xff, 0xfe, 0x00, 0x80, 0x7f, 0xc3]),
        ),
        h("base64 of a cursor naming NUL", b64(b"1|\0")),
        h(
            "base64 of a cursor at i64 max",
            b64(b"9223372036854775807|x"),
        ),
        h(
            "base64 of a cursor at i64 min",
            b64(b"-9223372036854775808|x"),
        ),
        h(
            "base64 of a cursor naming a bidi override",
            b64("1|\u{202E}".as_bytes()),
        ),
        h(
            "base64 of a 5000-char cursor",
            b64(format!("1|{}", "a".repeat(5000)).as_bytes()),
        ),
        h("padded base64", "MXx4=="),
    ]);
    values
}

/// Header values: what HTTP can carry (no NUL, no line breaks).
fn in_header() -> Vec<Hostile> {
    vec![
        h("bidi override", "\u{202E}"),
        h("emoji", "😀"),
        h("SQL", "' OR 1=1 --"),
        h("5000 chars", "a".repeat(5000)),
        h("empty", ""),
        h("spaces", "   "),
        h("invalid UTF-8", vec![0xff, 0xfe]),
        h("percent-encoded NUL", "%00"),
    ]
}

/// Authorization headers that are not a session.
fn in_authorization() -> Vec<Hostile> {
    vec![
        h("5000-char token", format!("Bearer {}", "a".repeat(5000))),
        h("SQL token", "Bearer ' OR 1=1 --"),
        h(
            "token of invalid UTF-8",
            [b"Bearer ".as_slice(), &[0xff, 0xfe]].concat(),
        ),
        h(
            "unsigned JWT",
            "Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiIxIn0.",
        ),
        h("three dots", "Bearer ..."),
        h("basic credentials", "Basic YWRtaW46YWRtaW4="),
        h("scheme only", "Bearer"),
    ]
}

/// Raw JSON text put in place of a string field.
fn in_json_string() -> Vec<Hostile> {
    let quoted = |s: String| format!("\"{s}\"");
    vec![
        h("NUL", r#""\u0000""#),
        h("a NUL b", r#""a\u0000b""#),
        h("bidi override", r#""\u202e""#),
        h(
            "escaped control characters",
            r#""\u0001\u0008\u001b\u007f""#,
        ),
        h("raw control character", "\"a\u{1}b\""),
        h("lone high surrogate", r#""\ud800""#),
        h("lone low surrogate", r#""\udfff""#),
        h("reversed surrogate pair", r#""\udc00\ud800""#),
        h(
            "invalid UTF-8",
            [b"\"".as_slice(), &[0xff, 0xfe], b"\""].concat(),
        ),
        h("emoji", "\"😀\""),
        h("SQL", r#""' OR 1=1 --""#),
        h("5000 chars", quoted("a".repeat(5000))),
        h("100 KB", quoted("a".repeat(100 * 1024))),
        h("empty", r#""""#),
        h("null", "null"),
        h("number instead", "12345678901234567890"),
        h("object instead", r#"{"$gt": ""}"#),
    ]
}

/// Raw JSON text put in place of a number field.
fn in_json_number() -> Vec<Hostile> {
    vec![
        h("-1", "-1"),
        h("zero", "0"),
        h("i64 max + 1", "9223372036854775808"),
        h("i64 min - 1", "-9223372036854775809"),
        h("1e999", "1e999"),
        h("fraction", "1.5"),
        h("numeric string", r#""1""#),
        h("NUL", r#""\u0000""#),
    ]
}

/// Whole bodies sent as application/json.
fn broken_json() -> Vec<Hostile> {
    vec![
        h("not JSON", "{not json"),
        h("empty", ""),
        h("a JSON array", "[]"),
        h("JSON null", "null"),
        h(
            "10000 nested arrays",
            "[".repeat(10_000) + &"]".repeat(10_000),
        ),
        h(
            "10000 nested objects",
            "{\"a\":".repeat(10_000) + "1" + &"}".repeat(10_000),
        ),
        h("invalid UTF-8", vec![b'{', 0xff, b'}']),
        h("byte order mark", "\u{feff}{}"),
    ]
}

/// A vendor's token file (PSKC) with a place for hostile text in each value.
const PSKC: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc">
  <KeyPackage>
    <DeviceInfo><Manufacturer>Vendor</Manufacturer><SerialNo>{SerialNo}</SerialNo></DeviceInfo>
    <Key Id="1" Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:totp">
      <AlgorithmParameters><ResponseFormat Length="6" Encoding="DECIMAL"/></AlgorithmParameters>
      <Data>
        <Secret><PlainValue>{Secret}</PlainValue></Secret>
        <TimeInterval><PlainValue>{TimeInterval}</PlainValue></TimeInterval>
      </Data>
    </Key>
  </KeyPackage>
</KeyContainer>"#;

const PSKC_VALUES: [(&str, &str); 3] = [
    ("{SerialNo}", "VSST12345678"),
    ("{Secret}", "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA="),
    ("{TimeInterval}", "30"),
];

/// Text put in place of a value of an XML body.
fn in_xml_text() -> Vec<Hostile> {
    vec![
        h("NUL", "\0"),
        h("character reference to NUL", "&#0;"),
        h("bidi override", "\u{202E}"),
        h("closing tags", "</SerialNo></DeviceInfo>"),
        h("CDATA end", "]]>"),
        h("undefined entity", "&undefined;"),
        h("emoji", "😀"),
        h("SQL", "' OR 1=1 --"),
        h("invalid UTF-8", vec![0xff, 0xfe]),
        h("5000 chars", "A".repeat(5000)),
        h("100 KB", "A".repeat(100 * 1024)),
        h("empty", ""),
    ]
}

/// Whole bodies sent with an XML content type.
fn broken_xml() -> Vec<Hostile> {
    let laughs = (1..10).fold("<!ENTITY l0 \"lol\">".to_owned(), |dtd, n| {
        dtd + &format!("<!ENTITY l{n} \"{}\">", format!("&l{};", n - 1).repeat(10))
    });
    vec![
        h("not XML", "{not xml"),
        h("empty", ""),
        h(
            "billion laughs",
            format!(
                "<?xml version=\"1.0\"?><!DOCTYPE k [{laughs}]><KeyContainer>&l9;</KeyContainer>"
            ),
        ),
        h(
            "external entity",
            "<?xml version=\"1.0\"?><!DOCTYPE k [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><KeyContainer>&x;</KeyContainer>",
        ),
        h("invalid UTF-8", vec![b'<', 0xff, b'/', b'>']),
    ]
}

/// Real things of the company, so that the other values of a request are valid and a
/// hostile one travels as deep as it can.
struct Fixtures {
    company: Company,
    operator_login_id: String,
    user_id: String,
    transfer_id: String,
    token_id: String,
    tomorrow: String,
}

/// An id that names nothing, for a parameter the fixtures do not know.
const UNKNOWN_ID: &str = "00000000-0000-4000-8000-000000000000";

impl Fixtures {
    fn path_value(&self, name: &str) -> String {
        match name {
            "company_id" => self.company.id.clone(),
            "user_id" => self.user_id.clone(),
            "transfer_id" => self.transfer_id.clone(),
            _ => UNKNOWN_ID.to_owned(),
        }
    }

    fn field_value(&self, operation: &str, name: &str) -> Option<Value> {
        Some(match (operation, name) {
            ("login", "login_id") => json!(self.company.admin_login_id),
            ("bankLogin", "login_id") => json!(self.operator_login_id),
            (_, name) => return self.any_field_value(name),
        })
    }

    fn any_field_value(&self, name: &str) -> Option<Value> {
        Some(match name {
            "debit_account" => json!(self.company.account),
            "user_ids" => json!([self.user_id]),
            "token_id" | "new_token_id" => json!(self.token_id),
            "password" => json!(PASSWORD),
            "approval_password" => json!(APPROVAL),
            "transfer_password" => json!(TRANSFER),
            _ => return None,
        })
    }
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap();
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => schema,
    }
}

/// A valid value of `schema` for a field called `name`: the fixture, the first choice,
/// the documented example, or the smallest value of its type.
fn valid(doc: &Value, schema: &Value, name: &str, op: &str, fx: &Fixtures) -> Value {
    let schema = resolve(doc, schema);
    if let Some(v) = fx.field_value(op, name) {
        return v;
    }
    if let Some(alternatives) = schema["oneOf"].as_array() {
        let alternative = alternatives.iter().find(|a| a["type"] != "null").unwrap();
        return valid(doc, alternative, name, op, fx);
    }
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    if let Some(example) = schema.get("example") {
        return example.clone();
    }
    let ty = match &schema["type"] {
        Value::String(t) => t.as_str(),
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ if schema.get("properties").is_some() => "object",
        _ => "null",
    };
    match ty {
        "object" => Value::Object(
            schema["properties"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, s)| (k.clone(), valid(doc, s, k, op, fx)))
                .collect(),
        ),
        "array" => json!([valid(doc, &schema["items"], name, op, fx)]),
        "string" => match schema["format"].as_str() {
            Some("date") => json!(fx.tomorrow),
            Some("uuid") => json!(UNKNOWN_ID),
            Some("password") => json!(PASSWORD),
            _ => json!("x".repeat(schema["minLength"].as_u64().unwrap_or(1).max(1) as usize)),
        },
        "integer" | "number" => schema.get("minimum").cloned().unwrap_or_else(|| json!(1)),
        "boolean" => json!(false),
        _ => Value::Null,
    }
}

/// One valid body per alternative of the schema.
fn valid_bodies(doc: &Value, schema: &Value, op: &str, fx: &Fixtures) -> Vec<Value> {
    let schema = resolve(doc, schema);
    match schema["oneOf"].as_array() {
        Some(alternatives) => alternatives
            .iter()
            .filter(|a| a["type"] != "null")
            .map(|a| valid(doc, a, "", op, fx))
            .collect(),
        None => vec![valid(doc, schema, "", op, fx)],
    }
}

/// JSON pointers to the string and number fields of a body, nested ones included.
fn leaves(value: &Value, pointer: String, out: &mut Vec<(String, bool)>) {
    match value {
        Value::Object(fields) => {
            for (k, v) in fields {
                leaves(v, format!("{pointer}/{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                leaves(v, format!("{pointer}/{i}"), out);
            }
        }
        Value::String(_) => out.push((pointer, true)),
        Value::Number(_) => out.push((pointer, false)),
        _ => {}
    }
}

/// The body's JSON text with the raw bytes in place of the field at `pointer`.
fn with_raw(body: &Value, pointer: &str, raw: &[u8]) -> Vec<u8> {
    const MARK: &str = "\u{1}hostile value\u{1}";
    let mut b = body.clone();
    *b.pointer_mut(pointer).unwrap() = json!(MARK);
    let text = serde_json::to_string(&b).unwrap();
    let (before, after) = text
        .split_once(&serde_json::to_string(MARK).unwrap())
        .unwrap();
    [before.as_bytes(), raw, after.as_bytes()].concat()
}

/// One request of the corpus, sent anonymous and signed in unless it brings its own
/// Authorization header.
struct Request {
    method: Method,
    template: String,
    place: String,
    path: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Option<(String, Vec<u8>)>,
    own_authorization: bool,
}

/// A parameter of an operation, from its `parameters`.
struct Parameter {
    name: String,
    location: String,
}

fn substitute(
    template: &str,
    params: &[Parameter],
    fx: &Fixtures,
    hostile: (&str, &str),
) -> String {
    params
        .iter()
        .filter(|p| p.location == "path")
        .fold(template.to_owned(), |path, p| {
            let value = if p.name == hostile.0 {
                hostile.1.to_owned()
            } else {
                fx.path_value(&p.name)
            };
            path.replace(&format!("{{{}}}", p.name), &value)
        })
}

/// Every request of the corpus, for every operation of the document.
fn corpus(doc: &Value, fx: &Fixtures) -> Vec<Request> {
    let mut requests = Vec::new();
    let mut n = 0;
    let mut next_key = || {
        n += 1;
        HeaderValue::from_str(&format!("hostile-{n}")).unwrap()
    };
    for (template, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let params: Vec<Parameter> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| Parameter {
                    name: p["name"].as_str().unwrap().to_owned(),
                    location: p["in"].as_str().unwrap().to_owned(),
                })
                .collect();
            let mut headers = |hostile: Option<(&str, HeaderValue)>| {
                params
                    .iter()
                    .filter(|p| p.location == "header")
                    .map(|p| {
                        let value = match &hostile {
                            Some((name, v)) if *name == p.name => v.clone(),
                            _ => next_key(),
                        };
                        (HeaderName::from_bytes(p.name.as_bytes()).unwrap(), value)
                    })
                    .collect::<Vec<_>>()
            };
            // The body sent beside hostile parameters, and the bodies made hostile.
            let mut valid_body = None;
            let mut hostile_bodies: Vec<(String, (String, Vec<u8>))> = Vec::new();
            let content = op["requestBody"]["content"].as_object();
            for (content_type, media) in content.into_iter().flatten() {
                if content_type == "application/json" {
                    let id = op["operationId"].as_str().unwrap_or_default();
                    for body in valid_bodies(doc, &media["schema"], id, fx) {
                        let text = serde_json::to_vec(&body).unwrap();
                        valid_body.get_or_insert((content_type.clone(), text.clone()));
                        hostile_bodies.push(("valid body".into(), (content_type.clone(), text)));
                        let mut fields = Vec::new();
                        leaves(&body, String::new(), &mut fields);
                        for (pointer, is_string) in fields {
                            let values = if is_string {
                                in_json_string()
                            } else {
                                in_json_number()
                            };
                            for v in values {
                                hostile_bodies.push((
                                    format!("body {pointer} = {}", v.label),
                                    (content_type.clone(), with_raw(&body, &pointer, &v.raw)),
                                ));
                            }
                        }
                    }
                    for v in broken_json() {
                        hostile_bodies
                            .push((format!("body: {}", v.label), (content_type.clone(), v.raw)));
                    }
                } else if content_type.contains("xml") {
                    let fill = |skip: &str| {
                        PSKC_VALUES
                            .iter()
                            .filter(|(mark, _)| *mark != skip)
                            .fold(PSKC.to_owned(), |doc, (mark, value)| {
                                doc.replace(mark, value)
                            })
                    };
                    let text = fill("").into_bytes();
                    valid_body.get_or_insert((content_type.clone(), text.clone()));
                    hostile_bodies.push(("valid body".into(), (content_type.clone(), text)));
                    for (mark, _) in PSKC_VALUES {
                        let doc = fill(mark);
                        let (before, after) = doc.split_once(mark).unwrap();
                        let field = mark.trim_matches(['{', '}']);
                        for v in in_xml_text() {
                            let text = [before.as_bytes(), &v.raw, after.as_bytes()].concat();
                            hostile_bodies.push((
                                format!("body {field} = {}", v.label),
                                (content_type.clone(), text),
                            ));
                        }
                    }
                    for v in broken_xml() {
                        hostile_bodies
                            .push((format!("body: {}", v.label), (content_type.clone(), v.raw)));
                    }
                } else {
                    for v in broken_json().into_iter().chain(broken_xml()) {
                        hostile_bodies
                            .push((format!("body: {}", v.label), (content_type.clone(), v.raw)));
                    }
                }
            }
            let base_path = substitute(template, &params, fx, ("", ""));
            let mut push = |place: String,
                            path: String,
                            headers: Vec<(HeaderName, HeaderValue)>,
                            body: Option<(String, Vec<u8>)>,
                            own_authorization: bool| {
                requests.push(Request {
                    method: method.clone(),
                    template: template.clone(),
                    place,
                    path,
                    headers,
                    body,
                    own_authorization,
                })
            };
            if hostile_bodies.is_empty() {
                push(
                    "as documented".into(),
                    base_path.clone(),
                    headers(None),
                    None,
                    false,
                );
            }
            for (place, body) in hostile_bodies {
                push(place, base_path.clone(), headers(None), Some(body), false);
            }
            for p in &params {
                match p.location.as_str() {
                    "path" => {
                        for v in in_url() {
                            let raw = String::from_utf8(v.raw).unwrap();
                            push(
                                format!("path {} = {}", p.name, v.label),
                                substitute(template, &params, fx, (&p.name, &raw)),
                                headers(None),
                                valid_body.clone(),
                                false,
                            );
                        }
                    }
                    "query" => {
                        let twice = h("given twice", format!("1&{}=2", p.name));
                        for v in in_query().into_iter().chain([twice]) {
                            let raw = String::from_utf8(v.raw).unwrap();
                            push(
                                format!("query {} = {}", p.name, v.label),
                                format!("{base_path}?{}={raw}", p.name),
                                headers(None),
                                valid_body.clone(),
                                false,
                            );
                        }
                    }
                    "header" => {
                        for v in in_header() {
                            let value = HeaderValue::from_bytes(&v.raw).unwrap();
                            push(
                                format!("header {} = {}", p.name, v.label),
                                base_path.clone(),
                                headers(Some((&p.name, value))),
                                valid_body.clone(),
                                false,
                            );
                        }
                    }
                    other => panic!("{method} {template}: a parameter in {other} is not covered"),
                }
            }
            if op["security"].as_array().is_some_and(|s| !s.is_empty()) {
                for v in in_authorization() {
                    let mut with = headers(None);
                    with.push((AUTHORIZATION, HeaderValue::from_bytes(&v.raw).unwrap()));
                    push(
                        format!("header Authorization = {}", v.label),
                        base_path.clone(),
                        with,
                        valid_body.clone(),
                        true,
                    );
                }
            }
        }
    }
    // Cancelling ends the transfer the confirmations use, signing out the sessions the
    // other requests use: last.
    requests.sort_by_key(|r| match r.template.rsplit('/').next() {
        Some("cancel") => 1,
        Some("logout") => 2,
        _ => 0,
    });
    requests
}

/// What is wrong with an answer, if anything.
fn fault(status: u16, content_type: &str, body: &[u8]) -> Option<String> {
    if (200..300).contains(&status) {
        return None;
    }
    let problem = content_type.starts_with("application/problem+json");
    let code = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|b| b["code"].as_str().map(str::to_owned));
    let shown = || {
        let text = String::from_utf8_lossy(body);
        let cut: String = text.chars().take(120).collect();
        format!("{content_type:?} {cut:?}")
    };
    match (status >= 500, problem, code) {
        (false, true, Some(_)) => None,
        (true, true, Some(code)) => Some(format!("{status} {code}")),
        (_, _, _) => Some(format!("{status} {}", shown())),
    }
}

/// The session fuzz requests use on this path.
fn token_for<'a>(template: &str, fx: &'a Fixtures) -> &'a str {
    if template.starts_with("/api/v1/bank/") {
        &fx.company.operator_token
    } else {
        &fx.company.admin_token
    }
}

#[engine_test(spawn_app_without_lockouts)]
async fn no_hostile_input_to_any_operation_gets_a_server_error_or_a_bare_answer(app: TestApp) {
    let company = app.company("acme").await;
    let user_id = app.user(&company, "acme.user1").await;
    let token_id = app.issue_token(&company.admin_token).await.token_id;
    let tomorrow =
        ((app.clock.now() + Duration::hours(9)).date_naive() + Duration::days(1)).to_string();
    let mut fx = Fixtures {
        company,
        operator_login_id: "acme.operator".into(),
        user_id,
        transfer_id: String::new(),
        token_id,
        tomorrow,
    };
    let doc = serde_json::to_value(webfb::http::openapi()).unwrap();
    let transfer = valid(
        &doc,
        &doc["components"]["schemas"]["CreateTransferRequest"],
        "",
        "createTransfer",
        &fx,
    );
    let res = app
        .client
        .post(app.url("/api/v1/transfers"))
        .bearer_auth(&fx.company.admin_token)
        .header("Idempotency-Key", "hostile-setup")
        .json(&transfer)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "a transfer from the schema's valid body");
    fx.transfer_id = body(res).await["id"].as_str().unwrap().to_owned();

    let requests = corpus(&doc, &fx);
    let mut sent = 0;
    let mut offending = Vec::new();
    for r in &requests {
        let who: &[Option<&str>] = if r.own_authorization {
            &[None]
        } else {
            &[None, Some(token_for(&r.template, &fx))]
        };
        for token in who {
            let mut req = app
                .client
                .request(r.method.clone(), format!("{}{}", app.address, r.path));
            for (name, value) in &r.headers {
                req = req.header(name, value);
            }
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            if let Some((content_type, bytes)) = &r.body {
                req = req.header(CONTENT_TYPE, content_type).body(bytes.clone());
            }
            let caller = match (r.own_authorization, token) {
                (true, _) => "own Authorization",
                (false, None) => "anonymous",
                (false, Some(_)) if r.template.starts_with("/api/v1/bank/") => "as operator",
                (false, Some(_)) => "as administrator",
            };
            let line = format!("{} {} ({caller}) {}", r.method, r.template, r.place);
            sent += 1;
            match req.send().await {
                Ok(res) => {
                    let status = res.status().as_u16();
                    let content_type = res
                        .headers()
                        .get(CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    match res.bytes().await {
                        Ok(bytes) => {
                            if let Some(f) = fault(status, &content_type, &bytes) {
                                offending.push(format!("{line}: {f}"));
                            }
                        }
                        Err(e) => {
                            offending.push(format!("{line}: {status}, body unreadable ({e})"))
                        }
                    }
                }
                Err(e) if e.is_builder() => panic!("{line}: the test cannot build it: {e}"),
                Err(e) => offending.push(format!("{line}: no answer ({e})")),
            }
        }
    }
    assert!(
        offending.is_empty(),
        "{} of {sent} hostile requests were answered with a server error or without a problem+json `code`:\n{}",
        offending.len(),
        offending.join("\n")
    );
}

/// Bodies nested deep enough to exhaust a recursive parser's stack. A stack overflow
/// aborts the whole process, and with the server in the test binary it would take every
/// test down unreported, so these go to a `webfb` process of their own.
fn nesting_bombs() -> Vec<Hostile> {
    vec![
        h(
            "10000 nested JSON arrays",
            "[".repeat(10_000) + &"]".repeat(10_000),
        ),
        h(
            "10000 nested JSON objects",
            "{\"a\":".repeat(10_000) + "1" + &"}".repeat(10_000),
        ),
        h(
            "5000 nested XML elements",
            "<a>".repeat(5000) + &"</a>".repeat(5000),
        ),
        h("20000 unclosed XML elements", "<a>".repeat(20_000)),
    ]
}

/// `webfb serve` as a process of its own, on demo data in a temp directory, with what it
/// wrote to stderr kept for the report.
struct Process {
    child: std::process::Child,
    address: String,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Process {
    fn webfb(dir: &std::path::Path) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_webfb"));
        command
            .env_clear()
            .env("WEBFB_DATA_DIR", dir)
            .env("WEBFB_BIND", "127.0.0.1:0")
            .env("RUST_LOG", "warn,webfb::startup=info")
            .env("NO_COLOR", "1");
        command
    }

    /// Starts the server and reads its address from the line announcing it.
    fn start(dir: &std::path::Path) -> Process {
        use std::io::BufRead;
        let mut child = Self::webfb(dir)
            .arg("serve")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("webfb runs");
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (found, address) = std::sync::mpsc::channel();
        let lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let kept = stderr.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if let Some((_, rest)) = line.split_once("listening") {
                    let port: String = rest
                        .split_once("127.0.0.1:")
                        .map(|(_, p)| p.chars().take_while(char::is_ascii_digit).collect())
                        .unwrap_or_default();
                    let _ = found.send(format!("http://127.0.0.1:{port}"));
                }
                let mut kept = kept.lock().unwrap();
                kept.push_str(&line);
                kept.push('\n');
            }
        });
        let address = address.recv().unwrap_or_else(|_| {
            panic!("webfb serve started: {}", stderr.lock().unwrap());
        });
        Process {
            child,
            address,
            stderr,
        }
    }

    /// After a request got no answer: if the server no longer answers either, how the
    /// process ended (stopped if it still runs), with the last thing it wrote.
    async fn down(&mut self, client: &reqwest::Client) -> Option<String> {
        let health = client.get(format!("{}/health", self.address)).send().await;
        if health.is_ok_and(|r| r.status() == 200) {
            return None;
        }
        let _ = self.child.kill();
        let status = self.child.wait().unwrap();
        let stderr = self.stderr.lock().unwrap();
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
        Some(format!("{status}: {}", last.unwrap_or("")))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn sign_in(
    client: &reqwest::Client,
    address: &str,
    path: &str,
    login: (&str, &str),
) -> String {
    let res = client
        .post(format!("{address}{path}"))
        .json(&json!({"login_id": login.0, "password": login.1}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "sign-in of {}", login.0);
    body(res).await["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_deeply_nested_body_to_any_operation_brings_the_server_down() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Process::webfb(dir.path()).arg("demo").output().unwrap();
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let mut server = Process::start(dir.path());
    let client = reqwest::Client::new();
    let admin = sign_in(
        &client,
        &server.address,
        "/api/v1/auth/login",
        ("demo.admin", "Demo-Admin-2026"),
    )
    .await;
    let operator = sign_in(
        &client,
        &server.address,
        "/api/v1/bank/auth/login",
        ("demo.operator", "Demo-Operator-2026"),
    )
    .await;
    let doc = serde_json::to_value(webfb::http::openapi()).unwrap();
    let mut sent = 0;
    let mut offending = Vec::new();
    for (template, item) in doc["paths"].as_object().unwrap() {
        // A path's parameters get an id that names nothing: the body is read first.
        let path = template
            .split('/')
            .map(|s| if s.starts_with('{') { UNKNOWN_ID } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let token = if template.starts_with("/api/v1/bank/") {
            &operator
        } else {
            &admin
        };
        for (method, op) in item.as_object().unwrap() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let content = op["requestBody"]["content"].as_object();
            for content_type in content.into_iter().flatten().map(|(c, _)| c) {
                for bomb in nesting_bombs() {
                    for token in [None, Some(token)] {
                        let mut req = client
                            .request(method.clone(), format!("{}{path}", server.address))
                            .header(CONTENT_TYPE, content_type)
                            .header("Idempotency-Key", format!("bomb-{sent}"))
                            .body(bomb.raw.clone());
                        if let Some(t) = token {
                            req = req.bearer_auth(t);
                        }
                        let caller = if token.is_none() {
                            "anonymous"
                        } else {
                            "signed in"
                        };
                        let line = format!("{method} {template} ({caller}) body: {}", bomb.label);
                        sent += 1;
                        match req.send().await {
                            Ok(res) => {
                                let status = res.status().as_u16();
                                let content_type = res
                                    .headers()
                                    .get(CONTENT_TYPE)
                                    .and_then(|v| v.to_str().ok())
                                    .unwrap_or("")
                                    .to_owned();
                                let bytes = res.bytes().await.unwrap_or_default();
                                if let Some(f) = fault(status, &content_type, &bytes) {
                                    offending.push(format!("{line}: {f}"));
                                }
                            }
                            Err(e) => match server.down(&client).await {
                                Some(ended) => {
                                    offending
                                        .push(format!("{line}: the server went down, {ended}"));
                                    server = Process::start(dir.path());
                                }
                                None => offending.push(format!("{line}: no answer ({e})")),
                            },
                        }
                    }
                }
            }
        }
    }
    assert!(
        offending.is_empty(),
        "{} of {sent} deeply nested bodies were answered with a server error, without a problem+json `code`, or not at all:\n{}",
        offending.len(),
        offending.join("\n")
    );
}
