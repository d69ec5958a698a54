//! The PostgreSQL schema and its migrations: each step runs once, in
//! order, recorded in `glbridge_migrations`; replicas starting together
//! take turns (an advisory lock held for the migrating transaction only).

use glbridge_guest::env::StoreError;

/// The steps, in order; a release only ever appends to this list.
pub(super) const MIGRATIONS: &[(&str, &str)] = &[(
    "key-value state and lane leases",
    r#"
    -- The component's state: one row a key. "C" collation, so that keys
    -- sort (and prefixes scan) by their bytes, as in every other store.
    CREATE TABLE glbridge_kv (
        key   text COLLATE "C" PRIMARY KEY,
        value bytea NOT NULL
    );
    -- Who does a lane's outbound work now: claimed with FOR UPDATE SKIP
    -- LOCKED, held until lease_until, and fenced by epoch (raised by every
    -- claim that takes the lane from another owner or after expiry).
    CREATE TABLE glbridge_leases (
        lane        text COLLATE "C" PRIMARY KEY,
        lease_owner text NOT NULL,
        lease_until timestamptz NOT NULL,
        epoch       bigint NOT NULL
    );
    "#,
)];

/// Any constant: the advisory lock that serializes migrations.
const MIGRATION_LOCK: i64 = 0x676c_6272_6964_6765; // "glbridge"

/// Brings the schema up to date; an error if the database is newer than
/// this release.
pub(super) async fn migrate(client: &tokio_postgres::Client) -> Result<(), StoreError> {
    let err = |e: tokio_postgres::Error| StoreError(format!("migrating the schema: {e}"));
    client.batch_execute("BEGIN").await.map_err(err)?;
    let result = async {
        client
            .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS glbridge_migrations (
                     version    integer PRIMARY KEY,
                     name       text NOT NULL,
                     applied_at timestamptz NOT NULL DEFAULT now()
                 )",
            )
            .await?;
        let row = client
            .query_one(
                "SELECT coalesce(max(version), 0) FROM glbridge_migrations",
                &[],
            )
            .await?;
        Ok::<i32, tokio_postgres::Error>(row.get(0))
    }
    .await;
    let done = match result {
        Ok(v) => v,
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(err(e));
        }
    };
    let known = MIGRATIONS.len() as i32;
    if done > known {
        let _ = client.batch_execute("ROLLBACK").await;
        return Err(StoreError(format!(
            "the database's schema is at version {done}, newer than this glbridge knows ({known}): run a newer release"
        )));
    }
    for (n, (name, sql)) in MIGRATIONS.iter().enumerate().skip(done as usize) {
        let version = n as i32 + 1;
        let step = async {
            client.batch_execute(sql).await?;
            client
                .execute(
                    "INSERT INTO glbridge_migrations (version, name) VALUES ($1, $2)",
                    &[&version, name],
                )
                .await
        }
        .await;
        if let Err(e) = step {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(StoreError(format!("migration {version} ({name}): {e}")));
        }
        tracing::info!(version, name, "PostgreSQL schema migrated");
    }
    client.batch_execute("COMMIT").await.map_err(err)
}
