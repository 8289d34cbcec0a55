//! Migrations, seeding, users and the session store on SQLite and PostgreSQL (and Redis).
mod common;

use common::{fresh_db, small_seed, Backend, REDIS_TEST_URL};
use sea_orm::{EntityTrait, PaginatorTrait};
use tower_sessions::session::{Id, Record};
use tower_sessions::SessionStore;
use vetted::app::dto::Role;
use vetted::server::auth::service::{create_user, CreateUserError, NewUser};
use vetted::server::auth::session_store::{delete_expired, SessionBackend};
use vetted::server::db::entities::{merchant, ruleset, transaction, user};
use vetted::server::db::Db;
use vetted::server::seed::{self, SeedError};

async fn migrated(backend: Backend) -> Db {
    let test_db = fresh_db(backend).await;
    let db = Db::connect(&test_db.url, None).await.unwrap();
    db.migrate().await.unwrap();
    db
}

async fn migrations_apply_and_are_idempotent(backend: Backend) {
    let db = migrated(backend).await;
    db.migrate().await.expect("running migrations twice is a no-op");
    assert_eq!(merchant::Entity::find().count(db.primary()).await.unwrap(), 0);
}

async fn seed_fills_an_empty_database_once(backend: Backend) {
    let db = migrated(backend).await;
    let options = small_seed();
    let report = seed::seed(db.primary(), &options).await.unwrap();
    assert_eq!(report.merchants, 4);
    assert_eq!(report.transactions, 400);
    assert_eq!(transaction::Entity::find().count(db.primary()).await.unwrap(), 400);
    assert_eq!(user::Entity::find().count(db.primary()).await.unwrap(), 3);
    match seed::seed(db.primary(), &options).await {
        Err(SeedError::NotEmpty(4)) => {}
        other => panic!("a second seed must refuse and change nothing, got {other:?}"),
    }
    assert_eq!(transaction::Entity::find().count(db.primary()).await.unwrap(), 400);

    // Ids were set explicitly; new rows must still get fresh ids (PostgreSQL sequences moved on).
    let created = create_user(
        db.primary(),
        NewUser { email: "second@vetted.test", display_name: "Second", password: "long enough pw", role: Role::Merchant, merchant_id: Some(2) },
    )
    .await
    .unwrap();
    assert_eq!(created.id, 4);
}

async fn create_user_rejects_bad_input_and_changes_nothing(backend: Backend) {
    let db = migrated(backend).await;
    seed::seed(db.primary(), &small_seed()).await.unwrap();
    let base = NewUser { email: "new@vetted.test", display_name: "New", password: "long enough pw", role: Role::Reviewer, merchant_id: None };
    let cases: Vec<(NewUser, fn(&CreateUserError) -> bool)> = vec![
        (NewUser { email: "not-an-email", ..base }, |e| matches!(e, CreateUserError::InvalidEmail(_))),
        (NewUser { password: "short", ..base }, |e| matches!(e, CreateUserError::WeakPassword)),
        (NewUser { role: Role::Merchant, ..base }, |e| matches!(e, CreateUserError::MerchantLink)),
        (NewUser { merchant_id: Some(1), ..base }, |e| matches!(e, CreateUserError::MerchantLink)),
        (NewUser { role: Role::Merchant, merchant_id: Some(999), ..base }, |e| matches!(e, CreateUserError::UnknownMerchant(999))),
        (NewUser { email: "Admin@Vetted.test", ..base }, |e| matches!(e, CreateUserError::DuplicateEmail(_))),
    ];
    for (input, expected) in cases {
        let err = create_user(db.primary(), input).await.unwrap_err();
        assert!(expected(&err), "unexpected error: {err}");
    }
    assert_eq!(user::Entity::find().count(db.primary()).await.unwrap(), 3, "no user was added");
}

/// The database itself keeps one draft and one published ruleset at most: a second of either is
/// refused and changes nothing, while publishing (which retires the live version first) still
/// goes through.
async fn the_database_keeps_one_draft_and_one_published_ruleset(backend: Backend) {
    use sea_orm::{ActiveModelTrait, Set};
    let db = migrated(backend).await;
    let version = |version: i32, status: &str| ruleset::ActiveModel {
        version: Set(version),
        status: Set(status.into()),
        review_score: Set(50.0),
        block_score: Set(90.0),
        rules: Set("[]".into()),
        note: Set(String::new()),
        created_by: Set("test".into()),
        created_at: Set(chrono::Utc::now()),
        published_at: Set(None),
        revision: Set(1),
        ..Default::default()
    };
    for (number, status) in [(1, "retired"), (2, "retired"), (3, "published"), (4, "draft")] {
        version(number, status).insert(db.primary()).await.unwrap();
    }
    assert!(version(5, "published").insert(db.primary()).await.is_err(), "a second published version is refused");
    assert!(version(6, "draft").insert(db.primary()).await.is_err(), "a second draft is refused");
    assert_eq!(ruleset::Entity::find().count(db.primary()).await.unwrap(), 4, "nothing was added");

    vetted::server::fraud::versions::publish(db.primary(), 4, "test", "tests", vetted::server::fraud::versions::Approval::AnyAdmin, chrono::Utc::now())
        .await
        .expect("publishing retires the live version first");
    let statuses: Vec<(i32, String)> = ruleset::Entity::find().all(db.primary()).await.unwrap().into_iter().map(|m| (m.version, m.status)).collect();
    assert!(statuses.contains(&(3, "retired".into())) && statuses.contains(&(4, "published".into())), "{statuses:?}");
}

async fn database_session_store_round_trips_and_expires(backend: Backend) {
    let db = migrated(backend).await;
    store_round_trip(SessionBackend::database(db.primary().clone())).await;
    let mut expired = record(-60);
    let store = SessionBackend::database(db.primary().clone());
    store.create(&mut expired).await.unwrap();
    assert!(store.load(&expired.id).await.unwrap().is_none(), "expired sessions never load");
    assert_eq!(delete_expired(db.primary()).await.unwrap(), 1);
}

fn record(expires_in_secs: i64) -> Record {
    let mut data = std::collections::HashMap::new();
    data.insert("user_id".to_string(), serde_json::json!(7));
    Record { id: Id::default(), data, expiry_date: time::OffsetDateTime::now_utc() + time::Duration::seconds(expires_in_secs) }
}

async fn store_round_trip(store: SessionBackend) {
    let mut rec = record(600);
    store.create(&mut rec).await.unwrap();
    assert_eq!(store.load(&rec.id).await.unwrap(), Some(rec.clone()));
    rec.data.insert("user_id".into(), serde_json::json!(8));
    store.save(&rec).await.unwrap();
    assert_eq!(store.load(&rec.id).await.unwrap().unwrap().data["user_id"], 8);
    store.delete(&rec.id).await.unwrap();
    assert_eq!(store.load(&rec.id).await.unwrap(), None);
}

/// The one boolean, named `b`, that `sql` selects on PostgreSQL.
async fn postgres_bool(db: &sea_orm::DatabaseConnection, sql: &str) -> bool {
    use sea_orm::{ConnectionTrait, Statement};
    let row = db.query_one_raw(Statement::from_string(sea_orm::DbBackend::Postgres, sql)).await.unwrap().unwrap();
    row.try_get::<bool>("", "b").unwrap()
}

/// Whether the connection's own backend talks TLS, as the server sees it.
async fn uses_tls(db: &sea_orm::DatabaseConnection) -> bool {
    postgres_bool(db, "SELECT ssl AS b FROM pg_stat_ssl WHERE pid = pg_backend_pid()").await
}

#[tokio::test]
async fn postgres_on_loopback_goes_without_tls_unless_the_url_names_a_mode() {
    let test_db = fresh_db(Backend::Postgres).await;
    assert!(test_db.url.starts_with("postgres://postgres@127.0.0.1:"), "the test expects a loopback server: {}", test_db.url);
    let db = Db::connect(&test_db.url, None).await.unwrap();
    assert!(!uses_tls(db.primary()).await, "the shared pool negotiated TLS on loopback");
    assert!(!uses_tls(db.writer()).await, "the ingest writer's pool negotiated TLS on loopback");

    // A mode in the URL is followed as it is: `prefer` takes TLS whenever the server offers it.
    let server_offers_tls = postgres_bool(db.primary(), "SELECT current_setting('ssl') = 'on' AS b").await;
    let explicit = Db::connect(&format!("{}?sslmode=prefer", test_db.url), None).await.unwrap();
    assert_eq!(uses_tls(explicit.primary()).await, server_offers_tls);
    assert_eq!(uses_tls(explicit.writer()).await, server_offers_tls);
}

/// A decision's record and an ingest's stored response are compressed with lz4 on PostgreSQL.
#[tokio::test]
async fn postgres_compresses_decision_records_with_lz4() {
    use sea_orm::{ConnectionTrait, Statement};
    let db = migrated(Backend::Postgres).await;
    let query = |sql: &str| Statement::from_string(sea_orm::DbBackend::Postgres, sql.to_string());
    let methods = db
        .primary()
        .query_all_raw(query(
            "SELECT attrelid::regclass::text || '.' || attname AS col, attcompression::text AS method FROM pg_attribute \
             WHERE (attrelid, attname) IN (('decisions'::regclass, 'results'), ('ingest_requests'::regclass, 'response')) ORDER BY 1",
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| (row.try_get::<String>("", "col").unwrap(), row.try_get::<String>("", "method").unwrap()))
        .collect::<Vec<_>>();
    assert_eq!(methods, [("decisions.results".to_string(), "l".to_string()), ("ingest_requests.response".to_string(), "l".to_string())]);

    // A response of the size a decision with many rules has goes in compressed, and reads back whole.
    let response: String = (0..200).map(|n| format!("{{\"rule\":\"rule {n}\",\"outcome\":\"not_matched\"}},")).collect();
    db.primary()
        .execute_raw(Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "INSERT INTO ingest_requests (merchant_id, external_id, api_key_id, request_hash, response, created_at) VALUES (1, 'x', 1, 'h', $1, now())",
            [response.clone().into()],
        ))
        .await
        .unwrap();
    let row = db.primary().query_one_raw(query("SELECT pg_column_compression(response) AS method, response FROM ingest_requests")).await.unwrap().unwrap();
    assert_eq!(row.try_get::<Option<String>>("", "method").unwrap().as_deref(), Some("lz4"));
    assert_eq!(row.try_get::<String>("", "response").unwrap(), response);
}

/// Redis in front of the database: the database keeps the record, so a session whose Redis copy
/// is gone (a Redis restart without persistence) still loads, and a deleted one loads nowhere.
async fn redis_fronted_session_store_round_trips_and_survives_a_lost_copy(backend: Backend) {
    let db = migrated(backend).await;
    let namespace = format!("vetted_t_sessions_{}_{}", std::process::id(), chrono::Utc::now().timestamp_micros());
    let cache = vetted::server::cache::Cache::redis(REDIS_TEST_URL, &namespace).await.expect("Redis must run on 127.0.0.1:6379");
    let redis = cache.redis_backend().unwrap().clone();
    let store = SessionBackend::database_with_redis_in_front(db.primary().clone(), redis);
    store_round_trip(store.clone()).await;

    let mut kept = record(3600);
    store.create(&mut kept).await.unwrap();
    let mut conn = redis::Client::open(REDIS_TEST_URL).unwrap().get_multiplexed_async_connection().await.unwrap();
    let key = format!("{namespace}:{}", vetted::server::auth::session_store::redis_key(&kept.id));
    let ttl: i64 = redis::cmd("TTL").arg(&key).query_async(&mut conn).await.unwrap();
    assert!(
        ttl > 0 && ttl <= vetted::server::auth::session_store::REDIS_COPY_TTL.as_secs() as i64,
        "the copy is under CACHE_NAMESPACE with a short life: {ttl}"
    );
    let _: () = redis::cmd("DEL").arg(&key).query_async(&mut conn).await.unwrap();
    assert_eq!(store.load(&kept.id).await.unwrap().map(|r| r.data), Some(kept.data.clone()), "the database still has it");
    let copied: bool = redis::cmd("EXISTS").arg(&key).query_async(&mut conn).await.unwrap();
    assert!(copied, "a load from the database puts the copy back");

    store.delete(&kept.id).await.unwrap();
    assert!(store.load(&kept.id).await.unwrap().is_none());
    let copied: bool = redis::cmd("EXISTS").arg(&key).query_async(&mut conn).await.unwrap();
    assert!(!copied, "deleting removes the copy too");
}

on_both_databases!(
    migrations_apply_and_are_idempotent,
    seed_fills_an_empty_database_once,
    create_user_rejects_bad_input_and_changes_nothing,
    database_session_store_round_trips_and_expires,
    redis_fronted_session_store_round_trips_and_survives_a_lost_copy,
    the_database_keeps_one_draft_and_one_published_ruleset,
);

/// Where Debian's PostgreSQL (the one `make test` starts) listens besides 127.0.0.1:5432.
const POSTGRES_SOCKET_DIR: &str = "/var/run/postgresql";

/// A server on the database's machine connects over PostgreSQL's Unix socket (docs/architecture.md):
/// both pools do, without TLS, and the ingest writer commits through it.
#[tokio::test]
async fn postgres_over_its_unix_socket_serves_both_pools_and_the_ingest_writer() {
    use sea_orm::ConnectionTrait;
    use vetted::server::db::batch::BatchConnection;
    use vetted::server::db::pg_writer::PgWriterConnection;
    let test_db = fresh_db(Backend::Postgres).await;
    let (_, name) = test_db.url.rsplit_once('/').unwrap();
    let url = format!("postgres://postgres@{}/{name}", POSTGRES_SOCKET_DIR.replace('/', "%2F"));
    let db = Db::connect(&url, None).await.unwrap_or_else(|e| panic!("PostgreSQL's socket in {POSTGRES_SOCKET_DIR}: {e}"));
    db.migrate().await.unwrap();
    // inet_server_addr() is NULL on a Unix-socket connection.
    let over_socket = "SELECT inet_server_addr() IS NULL AS b";
    assert!(postgres_bool(db.primary(), over_socket).await, "the shared pool went over TCP");
    assert!(postgres_bool(db.writer(), over_socket).await, "the ingest writer's pool went over TCP");
    assert!(!uses_tls(db.primary()).await && !uses_tls(db.writer()).await, "TLS on a Unix socket");

    let writer = PgWriterConnection::new(db.writer().get_postgres_connection_pool().clone());
    let txn = writer.begin().await.unwrap();
    txn.run("INSERT INTO velocity_buckets (key, granularity, bucket, count, sum_usd_cents) VALUES ('socket', 0, 1, 1, 100)", vec![]).await.unwrap();
    txn.commit().await.unwrap();
    let seen = db
        .primary()
        .query_one_raw(sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, "SELECT count(*)::bigint AS n FROM velocity_buckets WHERE key = 'socket'"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.try_get::<i64>("", "n").unwrap(), 1, "the writer's commit is seen by the shared pool");
}
