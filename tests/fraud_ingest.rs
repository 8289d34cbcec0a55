//! The ingest API over HTTP on SQLite and PostgreSQL: authentication, validation, decisions with
//! their explanations, cases, exactly-once under 1,000 concurrent duplicates, batches, OpenAPI.
mod common;

use chrono::Utc;
use common::{Backend, TestApp, Who};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};
use vetted::server::db::entities::{case, decision, transaction};
use vetted::server::fraud::api_keys;

async fn api_key(app: &TestApp) -> String {
    api_keys::create(app.state.db.primary(), "tests", "tests", Utc::now()).await.unwrap().key
}

fn sale(external_id: &str) -> Value {
    json!({
        "external_id": external_id, "merchant_id": 1, "amount": 1999, "currency": "USD",
        "buyer_email": format!("{external_id}@example.com"), "buyer_ip": "198.51.100.7", "ip_country": "US",
        "card_fingerprint": format!("fp_{external_id}"), "card_bin": "424242", "card_country": "US"
    })
}

async fn post(app: &TestApp, key: Option<&str>, path: &str, body: &Value, idempotency_key: Option<&str>) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = reqwest::Client::new().post(app.url(path)).json(body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(idem) = idempotency_key {
        request = request.header("Idempotency-Key", idem);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    (status, headers, body)
}

async fn other_merchants_product(app: &TestApp) -> i64 {
    use vetted::server::db::entities::product;
    let theirs = product::Entity::find().filter(product::Column::MerchantId.ne(1)).one(app.state.db.primary()).await.unwrap().unwrap();
    theirs.id as i64
}

async fn transaction_count(app: &TestApp) -> u64 {
    transaction::Entity::find().count(app.state.db.primary()).await.unwrap()
}

async fn refuses_bad_callers_and_bad_input_and_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let key = api_key(&app).await;
    let before = transaction_count(&app).await;

    let (status, _, body) = post(&app, None, "/api/v1/transactions", &sale("a1"), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("unauthorized")));
    let (status, _, _) = post(&app, Some("vtd_0000"), "/api/v1/transactions", &sale("a1"), None).await;
    assert_eq!(status, 401);

    let mut bad = sale("a1");
    bad["amount"] = json!(12.5);
    bad["currency"] = json!("DOGE");
    bad["buyer_ip"] = json!("localhost");
    bad["extra"] = json!(1);
    let (status, _, body) = post(&app, Some(&key), "/api/v1/transactions", &bad, None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("validation_failed")), "{body}");
    let mut fields: Vec<&str> = body["error"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    fields.sort();
    assert_eq!(fields, ["amount", "buyer_ip", "currency", "extra"], "{body}");

    let raw = reqwest::Client::new().post(app.url("/api/v1/transactions")).bearer_auth(&key).body("{not json").send().await.unwrap();
    assert_eq!(raw.status(), 422);

    let mut huge = sale("a1");
    huge["buyer_email"] = json!(format!("{}@example.com", "x".repeat(20_000)));
    let (status, _, body) = post(&app, Some(&key), "/api/v1/transactions", &huge, None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("body_too_large")));

    let mut stranger = sale("a1");
    stranger["merchant_id"] = json!(999_999);
    let (status, _, body) = post(&app, Some(&key), "/api/v1/transactions", &stranger, None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("unknown_merchant")));

    let (status, _, _) = post(&app, Some(&key), "/api/v1/transactions", &sale("a1"), Some("bad key with spaces")).await;
    assert_eq!(status, 422);

    // A product that does not exist, or is another merchant's, is not found (as an unknown
    // merchant is), not a validation failure of a request the document calls valid, nor a 500.
    for product_id in [999_999, other_merchants_product(&app).await] {
        let mut foreign = sale("a1");
        foreign["product_id"] = json!(product_id);
        let (status, _, body) = post(&app, Some(&key), "/api/v1/transactions", &foreign, None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (404, Some("unknown_product")), "{body}");
    }

    assert_eq!(transaction_count(&app).await, before, "refused requests store nothing");

    // A revoked key stops working at once.
    let created = api_keys::create(app.state.db.primary(), "to revoke", "tests", Utc::now()).await.unwrap();
    api_keys::revoke(app.state.db.primary(), created.summary.id, "tests", Utc::now()).await.unwrap();
    let (status, _, _) = post(&app, Some(&created.key), "/api/v1/transactions", &sale("a2"), None).await;
    assert_eq!(status, 401);
}

async fn decides_explains_and_stores(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let key = api_key(&app).await;

    // An ordinary sale: allowed, stored as succeeded with its decision.
    let mut with_product = sale("ok1");
    let own_product = {
        use vetted::server::db::entities::product;
        product::Entity::find().filter(product::Column::MerchantId.eq(1)).one(app.state.db.primary()).await.unwrap().unwrap().id
    };
    with_product["product_id"] = json!(own_product);
    // The scheme name is case-insensitive.
    let response =
        reqwest::Client::new().post(app.url("/api/v1/transactions")).header("Authorization", format!("bearer {key}")).json(&with_product).send().await.unwrap();
    let (status, headers, allowed) = (response.status().as_u16(), response.headers().clone(), response.json::<Value>().await.unwrap());
    assert_eq!(status, 201, "{allowed}");
    assert!(headers.get("idempotent-replayed").is_none());
    assert_eq!(allowed["outcome"], "allow");
    assert_eq!(allowed["score"].to_string(), "0.0", "no rule scored");
    assert_eq!(allowed["ruleset_version"], 1, "the seeded ruleset is published as version 1");
    let stored = transaction::Entity::find_by_id(allowed["transaction_id"].as_i64().unwrap()).one(app.state.db.primary()).await.unwrap().unwrap();
    assert_eq!((stored.status.as_str(), stored.external_id.as_deref(), stored.amount_minor), ("succeeded", Some("ok1"), 1999));
    let record = decision::Entity::find_by_id(allowed["decision_id"].as_i64().unwrap()).one(app.state.db.primary()).await.unwrap().unwrap();
    let results: Value = serde_json::from_str(&record.results).unwrap();
    assert_eq!(results["rules"].as_array().unwrap().len(), vetted::server::fraud::default_rules::ruleset().rules.len());
    assert_eq!(results["facts"]["transaction"]["amount_usd"], 19.99);
    assert_eq!(results["facts"]["velocity"]["card_count_1h"], Value::Null, "zero velocity is left out of the record");
    assert!(record.results.len() < 2000, "the record stays inline: {} bytes", record.results.len());

    // A listed email: blocked, and the response says which rule and why.
    let mut fraud = sale("bad1");
    fraud["buyer_email"] = json!("Fraudster@Example.net");
    let (status, _, blocked) = post(&app, Some(&key), "/api/v1/transactions", &fraud, None).await;
    assert_eq!((status, blocked["outcome"].as_str()), (201, Some("block")), "{blocked}");
    let rule = &blocked["matched_rules"][0];
    assert_eq!(rule["name"], "Blocked email");
    assert_eq!(rule["effect"], "block");
    assert_eq!(rule["explanation"], "The buyer's email is on the block list — transaction.buyer_email = \"fraudster@example.net\"");
    assert_eq!(blocked["case_id"], Value::Null);

    // A disposable email domain: review, which opens a case; the shadow rule is only recorded.
    let mut risky = sale("rev1");
    risky["buyer_email"] = json!("someone@mailinator.com");
    let (status, _, review) = post(&app, Some(&key), "/api/v1/transactions", &risky, None).await;
    assert_eq!((status, review["outcome"].as_str()), (201, Some("review")), "{review}");
    let case_id = review["case_id"].as_i64().expect("a review opens a case");
    let opened = case::Entity::find_by_id(case_id).one(app.state.db.primary()).await.unwrap().unwrap();
    assert_eq!((opened.status.as_str(), opened.merchant_id, opened.transaction_id), ("open", 1, review["transaction_id"].as_i64().unwrap()));

    // The merchant's fraud-review panel shows what is held.
    let merchant = app.client_as(Who::Merchant).await;
    let panel: Value = merchant.post(app.url("/rpc/dashboard/fraud_review_status")).send().await.unwrap().json().await.unwrap();
    let held: Vec<i64> = panel["recent"].as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()).collect();
    assert!(held.contains(&review["transaction_id"].as_i64().unwrap()) && held.contains(&blocked["transaction_id"].as_i64().unwrap()), "{panel}");

    // Retries return the original answer; a different request under the same names is refused.
    let (status, headers, again) = post(&app, Some(&key), "/api/v1/transactions", &risky, None).await;
    assert_eq!(status, 200);
    assert_eq!(headers.get("idempotent-replayed").unwrap(), "true");
    assert_eq!(again, review);
    let mut changed = risky.clone();
    changed["amount"] = json!(5000);
    let (status, _, body) = post(&app, Some(&key), "/api/v1/transactions", &changed, None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("external_id_reused")));
    let (status, _, _) = post(&app, Some(&key), "/api/v1/transactions", &sale("k1"), Some("idem-1")).await;
    assert_eq!(status, 201);
    let (status, _, body) = post(&app, Some(&key), "/api/v1/transactions", &sale("k2"), Some("idem-1")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("idempotency_key_reused")));

    let keys = api_keys::list(app.state.db.primary(), Utc::now()).await.unwrap();
    assert!(keys.iter().all(|k| k.last_used_at.is_some()), "last_used_at is recorded: {keys:?}");

    // How long commits wait for the disk is on /metrics: where a stalling disk shows up.
    let metrics = reqwest::Client::new().get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let commits = metrics.lines().find_map(|l| l.strip_prefix("vetted_fraud_ingest_commit_seconds_count ")).map(|n| n.trim().parse::<f64>().unwrap());
    assert!(commits.is_some_and(|n| n >= 4.0), "the four decided sales were committed and timed: {commits:?}");
}

async fn a_thousand_concurrent_duplicates_create_one_transaction(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let key = api_key(&app).await;
    let body = sale("dup1");
    let client = reqwest::Client::new();
    let requests = (0..1000).map(|_| {
        let request = client.post(app.url("/api/v1/transactions")).bearer_auth(&key).header("Idempotency-Key", "dup-key").json(&body);
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap())
        }
    });
    let answers = futures::future::join_all(requests).await;
    let created = answers.iter().filter(|(status, _)| *status == 201).count();
    let replayed = answers.iter().filter(|(status, _)| *status == 200).count();
    assert_eq!((created, replayed), (1, 999), "statuses: {:?}", answers.iter().map(|a| a.0).collect::<std::collections::BTreeSet<_>>());
    let decision_ids: std::collections::BTreeSet<i64> = answers.iter().map(|(_, b)| b["decision_id"].as_i64().unwrap()).collect();
    assert_eq!(decision_ids.len(), 1);
    let rows = transaction::Entity::find().filter(transaction::Column::ExternalId.eq("dup1")).count(app.state.db.primary()).await.unwrap();
    assert_eq!(rows, 1);
    assert_eq!(decision::Entity::find().count(app.state.db.primary()).await.unwrap(), 1);

    // Retries without an Idempotency-Key meet the (merchant, external_id) claim instead.
    let body = sale("dup2");
    let requests = (0..200).map(|_| {
        let request = client.post(app.url("/api/v1/transactions")).bearer_auth(&key).json(&body);
        async move { request.send().await.unwrap().status().as_u16() }
    });
    let statuses = futures::future::join_all(requests).await;
    assert_eq!((statuses.iter().filter(|s| **s == 201).count(), statuses.iter().filter(|s| **s == 200).count()), (1, 199));
    let rows = transaction::Entity::find().filter(transaction::Column::ExternalId.eq("dup2")).count(app.state.db.primary()).await.unwrap();
    assert_eq!(rows, 1);
}

async fn batches_are_validated_whole_and_decided_per_item(backend: Backend) {
    let app = TestApp::spawn(backend, &[]).await;
    let key = api_key(&app).await;
    let (status, _, single) = post(&app, Some(&key), "/api/v1/transactions", &sale("b0"), None).await;
    assert_eq!(status, 201);

    let mut bad = sale("b2");
    bad["amount"] = json!(0);
    let (status, _, body) = post(&app, Some(&key), "/api/v1/transactions/batch", &json!({ "transactions": [sale("b1"), bad] }), None).await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["fields"][0]["field"], "transactions[1].amount");
    assert_eq!(transaction::Entity::find().filter(transaction::Column::ExternalId.eq("b1")).count(app.state.db.primary()).await.unwrap(), 0);

    let mut stranger = sale("b3");
    stranger["merchant_id"] = json!(424_242);
    let batch = json!({ "transactions": [sale("b1"), sale("b2"), sale("b0"), stranger] });
    let (status, _, body) = post(&app, Some(&key), "/api/v1/transactions/batch", &batch, None).await;
    assert_eq!(status, 200, "{body}");
    let statuses: Vec<u64> = body["results"].as_array().unwrap().iter().map(|r| r["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, [201, 201, 200, 404]);
    assert_eq!(body["results"][2]["decision"]["decision_id"], single["decision_id"]);
    assert_eq!(body["results"][3]["error"]["code"], "unknown_merchant");

    let too_many = json!({ "transactions": (0..1001).map(|i| sale(&format!("m{i}"))).collect::<Vec<_>>() });
    let (status, _, body) = post(&app, Some(&key), "/api/v1/transactions/batch", &too_many, None).await;
    assert_eq!((status, body["error"]["fields"][0]["field"].as_str()), (422, Some("transactions")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_the_ingest_api() {
    let app = TestApp::spawn(Backend::Sqlite, &[]).await;
    let doc: Value = reqwest::get(app.url("/api/v1/openapi.json")).await.unwrap().json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in ["/api/v1/transactions", "/api/v1/transactions/batch"] {
        assert!(doc["paths"][path]["post"].is_object(), "{path} missing");
    }
    let input = &doc["components"]["schemas"]["TransactionInput"];
    let required: Vec<&str> = input["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    for field in ["external_id", "merchant_id", "amount", "currency", "buyer_email", "buyer_ip", "card_fingerprint", "card_country"] {
        assert!(required.contains(&field), "{field} should be required: {required:?}");
    }
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    assert!(doc["paths"]["/api/v1/transactions"]["post"]["responses"]["422"].is_object());
}

on_both_databases!(
    refuses_bad_callers_and_bad_input_and_changes_nothing,
    decides_explains_and_stores,
    a_thousand_concurrent_duplicates_create_one_transaction,
    batches_are_validated_whole_and_decided_per_item,
);

/// The ingest request's schema in the served document: every bound the validator enforces is
/// stated, from the validator's own constants, field by field.
#[test]
fn the_openapi_document_states_every_bound_the_validator_enforces() {
    use utoipa::OpenApi;
    use vetted::server::fraud::input::{self, *};
    use vetted::server::http::api::{ApiDoc, IDEMPOTENCY_KEY_MAX_CHARS, IDEMPOTENCY_KEY_PATTERN};
    let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
    let schema = &doc["components"]["schemas"]["TransactionInput"];
    let names = |v: &Value| v.as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect::<std::collections::BTreeSet<_>>();
    let all = [
        "external_id",
        "merchant_id",
        "amount",
        "currency",
        "buyer_email",
        "buyer_ip",
        "ip_country",
        "card_fingerprint",
        "card_bin",
        "card_country",
        "product_id",
    ];
    let optional = ["ip_country", "card_bin", "product_id"];
    assert_eq!(schema["properties"].as_object().unwrap().keys().cloned().collect::<std::collections::BTreeSet<_>>(), all.map(String::from).into());
    assert_eq!(names(&schema["required"]), all.iter().filter(|f| !optional.contains(f)).map(|f| f.to_string()).collect());
    assert_eq!(schema["additionalProperties"], json!(false), "unknown fields are refused");

    let field = |name: &str| schema["properties"][name].clone();
    let text = |name: &str, nullable: bool, min: Option<usize>, max: Option<usize>, pattern: &str| {
        let f = field(name);
        assert_eq!(f["type"], if nullable { json!(["string", "null"]) } else { json!("string") }, "{name}");
        assert_eq!((f["minLength"].as_u64(), f["maxLength"].as_u64()), (min.map(|n| n as u64), max.map(|n| n as u64)), "{name}");
        assert_eq!(f["pattern"].as_str(), Some(pattern), "{name}");
    };
    text("external_id", false, Some(1), Some(EXTERNAL_ID_MAX_CHARS), EXTERNAL_ID_PATTERN);
    text("currency", false, Some(3), Some(3), input::currency_pattern());
    text("buyer_email", false, None, Some(EMAIL_MAX_CHARS), input::email_pattern());
    text("buyer_ip", false, None, None, input::ip_pattern());
    text("ip_country", true, Some(2), Some(2), COUNTRY_PATTERN);
    text("card_fingerprint", false, Some(1), Some(CARD_FINGERPRINT_MAX_CHARS), CARD_FINGERPRINT_PATTERN);
    text("card_bin", true, Some(CARD_BIN_MIN_DIGITS), Some(CARD_BIN_MAX_DIGITS), CARD_BIN_PATTERN);
    text("card_country", false, Some(2), Some(2), COUNTRY_PATTERN);
    let integer = |name: &str, nullable: bool, min: i64, max: i64| {
        let f = field(name);
        assert_eq!(f["type"], if nullable { json!(["integer", "null"]) } else { json!("integer") }, "{name}");
        assert_eq!((f["minimum"].as_f64(), f["maximum"].as_f64()), (Some(min as f64), Some(max as f64)), "{name}");
    };
    integer("merchant_id", false, ID_MIN, ID_MAX);
    integer("amount", false, AMOUNT_MIN, AMOUNT_MAX);
    integer("product_id", true, ID_MIN, ID_MAX);

    let batch = &doc["components"]["schemas"]["BatchInput"];
    assert_eq!(names(&batch["required"]), ["transactions".to_string()].into());
    assert_eq!(batch["additionalProperties"], json!(false));
    let items = &batch["properties"]["transactions"];
    assert_eq!((items["minItems"].as_u64(), items["maxItems"].as_u64()), (Some(1), Some(input::MAX_BATCH as u64)));
    assert_eq!(items["items"]["$ref"], "#/components/schemas/TransactionInput");

    let parameters = doc["paths"]["/api/v1/transactions"]["post"]["parameters"].as_array().unwrap();
    let key = parameters.iter().find(|p| p["name"] == "Idempotency-Key").expect("the Idempotency-Key header is documented");
    assert_eq!(key["in"], "header");
    assert_eq!(key["required"], json!(false));
    let key = &key["schema"];
    assert_eq!((key["minLength"].as_u64(), key["maxLength"].as_u64()), (Some(1), Some(IDEMPOTENCY_KEY_MAX_CHARS as u64)));
    assert_eq!(key["pattern"].as_str(), Some(IDEMPOTENCY_KEY_PATTERN));
}

/// Property: on 30,000 generated bodies — edge values of every field (lengths at and past their
/// bounds, almost-addresses, whitespace of every kind, numbers written as floats) combined at
/// random — the document's schema (checked by the same JSON Schema library schemathesis uses)
/// and the validator give the same verdict. A request the document calls valid is accepted, and
/// one it calls invalid is refused.
#[test]
fn the_document_and_the_validator_agree_on_every_body() {
    use rand::{Rng, SeedableRng};
    use utoipa::OpenApi;
    use vetted::server::fraud::input;
    let doc = serde_json::to_value(vetted::server::http::api::ApiDoc::openapi()).unwrap();
    let registry = jsonschema::Registry::new().add("urn:vetted:ingest", doc).unwrap().prepare().unwrap();
    let schema_of =
        |name: &str| jsonschema::options().with_registry(&registry).build(&json!({ "$ref": format!("urn:vetted:ingest#/components/schemas/{name}") })).unwrap();
    let (single, batch) = (schema_of("TransactionInput"), schema_of("BatchInput"));
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2604);

    let ip = |rng: &mut rand_chacha::ChaCha8Rng| -> String {
        let group =
            |rng: &mut rand_chacha::ChaCha8Rng| format!("{:x}", rng.random_range(0..0x10000u32)).chars().take(rng.random_range(1..=4)).collect::<String>();
        let v4 = |rng: &mut rand_chacha::ChaCha8Rng| (0..4).map(|_| rng.random_range(0..=255u32).to_string()).collect::<Vec<_>>().join(".");
        match rng.random_range(0..4) {
            0 => v4(rng),
            1 => {
                // A valid IPv6 address: 8 groups, maybe the last two as IPv4, maybe a run compressed.
                let with_v4 = rng.random_bool(0.3);
                let mut parts: Vec<String> = (0..if with_v4 { 6 } else { 8 }).map(|_| group(rng)).collect();
                if with_v4 {
                    parts.push(v4(rng));
                }
                if rng.random_bool(0.7) {
                    let units = |p: &str| if p.contains('.') { 2 } else { 1 };
                    let start = rng.random_range(0..parts.len());
                    let end = rng.random_range(start..parts.len());
                    let (head, tail) = (parts[..start].join(":"), parts[end + 1..].join(":"));
                    let kept: usize = parts[..start].iter().chain(&parts[end + 1..]).map(|p| units(p)).sum();
                    if kept < 8 {
                        return format!("{head}::{tail}");
                    }
                }
                parts.join(":")
            }
            _ => {
                // Near misses: pieces of addresses in random order.
                let pieces = ["1", "0", "00", "01", "255", "256", "ffff", "FFFF", "12345", "g", ":", "::", ".", "1.2.3.4", " ", "%eth0", "[", "]"];
                (0..rng.random_range(1..12)).map(|_| pieces[rng.random_range(0..pieces.len())]).collect()
            }
        }
    };
    let email = |rng: &mut rand_chacha::ChaCha8Rng| -> String {
        let alphabet = [
            "a",
            "b",
            "Z",
            "9",
            "+",
            "-",
            "_",
            ".",
            ".",
            "@",
            "@",
            " ",
            "\t",
            "\n",
            "\u{0B}",
            "é",
            "ü",
            "\u{85}",
            "\u{A0}",
            "\u{1680}",
            "\u{2028}",
            "\u{202F}",
            "\u{3000}",
            "\u{FEFF}",
            "\u{200B}",
            "\u{7F}",
            "\u{0}",
            "\u{1F600}",
            "example",
            "com",
        ];
        (0..rng.random_range(1..14)).map(|_| alphabet[rng.random_range(0..alphabet.len())]).collect()
    };
    let fixed: Vec<(&str, Vec<Value>)> = vec![
        (
            "external_id",
            vec![
                json!(""),
                json!("a"),
                json!("A-z_0:9."),
                json!("x".repeat(64)),
                json!("x".repeat(65)),
                json!("a b"),
                json!("é"),
                json!("a\n"),
                json!("ab/"),
                json!(12),
            ],
        ),
        (
            "merchant_id",
            vec![
                json!(1),
                json!(0),
                json!(-1),
                json!(2_147_483_647),
                json!(2_147_483_648u64),
                json!(1.0),
                json!(1.5),
                json!(1e3),
                json!("1"),
                json!(true),
                json!(-0.0),
            ],
        ),
        (
            "amount",
            vec![
                json!(1),
                json!(0),
                json!(1_000_000_000_000i64),
                json!(1_000_000_000_001i64),
                json!(1999.0),
                json!(12.5),
                json!(1e12),
                json!(1e13),
                json!("10"),
                json!(u64::MAX),
            ],
        ),
        (
            "currency",
            vec![json!("USD"), json!("usd"), json!("uSd"), json!("JPY"), json!("XXX"), json!("US"), json!("USDD"), json!(" USD"), json!(""), json!(1)],
        ),
        (
            "buyer_email",
            vec![
                json!("a@b.c"),
                json!(" a@b.c "),
                json!("\ta@b.c\n"),
                json!("a@b"),
                json!("@b.c"),
                json!("a@.c"),
                json!("a@b..c"),
                json!("a@b.c."),
                json!("a@@b.c"),
                json!("é@ü.de"),
                json!(format!("{}@b.c", "x".repeat(64))),
                json!(format!("{}@b.c", "x".repeat(65))),
                json!(format!("{}@{}.c", "x".repeat(64), "y".repeat(187))),
                json!(format!("{}@{}.c", "x".repeat(64), "y".repeat(188))),
                json!(format!("  {}@{}.c", "x".repeat(64), "y".repeat(186))),
                json!(format!("{}@{}.c", "x".repeat(60), "é".repeat(190))),
                json!(format!("a@{}.c", "y".repeat(63))),
                json!(format!("a@{}.c", "y".repeat(64))),
                json!(format!("a@{}.{}.c", "é".repeat(63), "y".repeat(63))),
                json!("a@-b.c"),
                json!("a@b-.c"),
                json!("a@b-b.c"),
                json!("a@b.-"),
                json!("a@b_c.d"),
            ],
        ),
        (
            "buyer_ip",
            vec![
                json!("1.2.3.4"),
                json!("01.2.3.4"),
                json!("256.1.1.1"),
                json!("1.2.3"),
                json!("::"),
                json!("::1"),
                json!("1::"),
                json!("1:2:3:4:5:6:7:8"),
                json!("1:2:3:4:5:6:7::"),
                json!("::2:3:4:5:6:7:8"),
                json!("1:2:3:4:5:6:7:8:9"),
                json!("1::2::3"),
                json!("::ffff:1.2.3.4"),
                json!("1:2:3:4:5:6:1.2.3.4"),
                json!("1:2:3:4:5::1.2.3.4"),
                json!("1:2:3:4:5:6:7:1.2.3.4"),
                json!("1:2:1.2.3.4::"),
                json!("fe80::1%eth0"),
                json!("[::1]"),
                json!("12345::"),
                json!("ABCD::abcd"),
                json!(" 1.2.3.4"),
                json!("0.0.0.0"),
                json!("00.0.0.0"),
            ],
        ),
        ("ip_country", vec![json!("US"), json!("us"), json!("U"), json!("USA"), json!("1A"), json!(""), Value::Null, json!("ÜS")]),
        ("card_country", vec![json!("US"), json!("gb"), json!("U"), json!(" US"), json!(null)]),
        (
            "card_fingerprint",
            vec![json!("fp"), json!(""), json!("x".repeat(64)), json!("x".repeat(65)), json!("a b"), json!("a\u{7F}"), json!("é"), json!("!~")],
        ),
        ("card_bin", vec![json!("424242"), json!("42424"), json!("42424242"), json!("424242424"), json!("4242424a"), json!(""), Value::Null, json!("١٢٣٤٥٦")]),
        ("product_id", vec![Value::Null, json!(1), json!(0), json!(-5), json!(2_147_483_647), json!(2_147_483_648u64), json!(1.0), json!("1")]),
        ("extra", vec![json!(1)]),
    ];
    let base = json!({
        "external_id": "ch_1", "merchant_id": 1, "amount": 1999, "currency": "USD", "buyer_email": "buyer@example.com",
        "buyer_ip": "198.51.100.7", "card_fingerprint": "fp_1", "card_country": "US"
    });
    let (mut agreed_valid, mut agreed_invalid) = (0, 0);
    for n in 0..30_000 {
        let mut body = base.clone();
        for _ in 0..rng.random_range(1..=3) {
            let (name, values) = &fixed[rng.random_range(0..fixed.len())];
            let value = match *name {
                "buyer_ip" if rng.random_bool(0.6) => json!(ip(&mut rng)),
                "buyer_email" if rng.random_bool(0.6) => json!(email(&mut rng)),
                _ => values[rng.random_range(0..values.len())].clone(),
            };
            if rng.random_bool(0.05) {
                body.as_object_mut().unwrap().remove(*name);
            } else {
                body[*name] = value;
            }
        }
        let by_schema = single.is_valid(&body);
        let by_validator = input::decode(body.to_string().as_bytes()).is_ok();
        assert_eq!(by_schema, by_validator, "the document says {by_schema}, the validator {by_validator}: {body}");
        if by_schema {
            agreed_valid += 1;
        } else {
            agreed_invalid += 1;
        }
        if n % 1_000 == 0 {
            let count = [0, 1, rng.random_range(2..input::MAX_BATCH), input::MAX_BATCH, input::MAX_BATCH + 1][rng.random_range(0..5)];
            let batch_body = json!({ "transactions": vec![body.clone(); count] });
            assert_eq!(batch.is_valid(&batch_body), input::decode_batch(batch_body.to_string().as_bytes()).is_ok(), "a batch of {count} like {body}");
        }
    }
    assert!(agreed_valid > 3_000 && agreed_invalid > 3_000, "both verdicts are exercised: {agreed_valid} valid, {agreed_invalid} invalid");
}

/// One address rule: the ingest API (and its document), the email lists and sign-in accept the
/// same addresses, so a reviewer can block any buyer address that arrived, and nothing the lists
/// refuse ever arrives. Over the bound cases above and 5,000 random near-addresses.
#[test]
fn the_ingest_api_the_lists_and_sign_in_accept_the_same_addresses() {
    use rand::{Rng, SeedableRng};
    use vetted::server::email;
    use vetted::server::fraud::{input, lists::ListKind};
    let pattern = jsonschema::validator_for(&json!({ "type": "string", "pattern": input::email_pattern() })).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(26);
    // Addresses built as local@label.label…, then sometimes damaged with a piece from anywhere.
    let parts = ["a", "Z", "9", "-", "_", "+", "é", "\u{1F600}", "example", "com", "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"];
    let damage = [".", "@", " ", "\t", "\u{A0}", "\u{7F}", "-", ""];
    let pick = |rng: &mut rand_chacha::ChaCha8Rng, n: std::ops::RangeInclusive<usize>| -> String {
        (0..rng.random_range(n)).map(|_| parts[rng.random_range(0..parts.len())]).collect()
    };
    let mut addresses: Vec<String> = (0..5_000)
        .map(|_| {
            let local = pick(&mut rng, 1..=3);
            let labels: Vec<String> = (0..rng.random_range(1..=3)).map(|_| pick(&mut rng, 1..=3)).collect();
            let mut address: Vec<char> = format!("{local}@{}", labels.join(".")).chars().collect();
            if rng.random_bool(0.4) {
                let at = rng.random_range(0..=address.len());
                address.splice(at..at, damage[rng.random_range(0..damage.len())].chars());
            }
            address.into_iter().collect()
        })
        .collect();
    addresses.extend(["a@b.c", "A@B.CO", "a@b", "a@-b.c", "a@b-.c", "a@b_c.d", "é@ü.de"].map(String::from));
    addresses.extend([63, 64].map(|n| format!("a@{}.c", "y".repeat(n))));
    addresses.extend([64, 65].map(|n| format!("{}@b.c", "x".repeat(n))));
    let (mut valid, mut invalid) = (0, 0);
    for address in &addresses {
        let ingest = {
            let mut body = json!({
                "external_id": "ch_1", "merchant_id": 1, "amount": 1999, "currency": "USD", "buyer_email": address,
                "buyer_ip": "198.51.100.7", "card_fingerprint": "fp_1", "card_country": "US"
            });
            let accepted = input::decode(body.to_string().as_bytes()).is_ok();
            body["buyer_email"] = json!(address.trim());
            assert_eq!(accepted, input::decode(body.to_string().as_bytes()).is_ok(), "trimming changes nothing: {address:?}");
            accepted
        };
        let document = pattern.is_valid(&json!(address)) && address.chars().count() <= input::EMAIL_MAX_CHARS;
        let list = ListKind::Email.normalise(address).is_ok();
        let sign_in = email::is_valid(&email::normalize(address));
        assert_eq!((document, list, sign_in), (ingest, ingest, ingest), "{address:?}: document, lists, sign-in against the ingest API's {ingest}");
        if ingest {
            valid += 1
        } else {
            invalid += 1
        }
    }
    assert!(valid > 300 && invalid > 300, "both verdicts are exercised: {valid} valid, {invalid} invalid");
}
