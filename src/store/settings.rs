//! Values the daemons share through the store (`settings`): made once, read by every instance.

use super::{Store, StoreError};

impl Store {
    /// The value of setting `name`; when there is none yet, `make`'s, stored first. Daemons
    /// starting together agree: the first insert wins and every one reads it back. `make` runs
    /// only when there is none (the token key's is the process's first use of the system's
    /// random source, whose seeding costs aws-lc 60 ms of CPU).
    pub async fn setting_or_insert(
        &self,
        name: &str,
        make: impl FnOnce() -> String,
        now: i64,
    ) -> Result<String, StoreError> {
        if let Some(value) = self.setting(name).await? {
            return Ok(value);
        }
        sqlx::query(
            "INSERT INTO settings (name, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(make())
        .bind(now)
        .execute(&self.pool)
        .await?;
        self.setting(name)
            .await?
            .ok_or_else(|| StoreError::Query(sqlx::Error::RowNotFound))
    }

    /// The value of setting `name`, if any.
    pub async fn setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Sets setting `name` to `value`.
    pub async fn set_setting(&self, name: &str, value: &str, now: i64) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        put(&mut conn, name, value, now).await
    }
}

/// Sets setting `name` to `value` on `conn` (inside the caller's transaction, if any).
pub(super) async fn put(
    conn: &mut sqlx::AnyConnection,
    name: &str,
    value: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO settings (name, value, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(name)
    .bind(value)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}
