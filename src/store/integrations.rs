//! Integrations: their rows, their keys' uniqueness, and finding one by reference.

use async_trait::async_trait;

use super::backend::{Backend, SqlStore};
use super::exec::{Executor, query};
use super::paging::page_rows;
use super::{IntegrationStore, on_unique, rows, sql};
use crate::domain::Actor;
use crate::domain::etag::{self, IfMatch};
use crate::domain::integrations::{
    Integration, IntegrationFields, IntegrationRef, IntegrationType, NewIntegration, UniqueKey,
    refuse_taken,
};
use crate::error::{Error, Result};
use crate::query::Query;
use crate::query::cursor::Page;
use crate::time;

/// Unique keys and the domain's message for each one's violation (SQLite names the columns,
/// PostgreSQL the constraints).
const KEYS: &[(&str, &str)] = &[
    ("integrations.code", UniqueKey::Code.taken()),
    ("integrations_code_key", UniqueKey::Code.taken()),
    ("integrations.name", UniqueKey::Name.taken()),
    ("integrations_name_key", UniqueKey::Name.taken()),
];

#[async_trait]
impl<B: Backend> IntegrationStore for SqlStore<B> {
    async fn create_integration(
        &self,
        new: NewIntegration,
        actor: Option<&Actor>,
    ) -> Result<Integration> {
        let now = time::now();
        let actor = actor.cloned();
        self.db
            .write(move |tx| {
                Box::pin(async move {
                    let mut integration = Integration::new(new, now, actor.as_ref());
                    let i = &integration;
                    check_unique(tx, 0, Some(&i.code), Some(&i.name)).await?;
                    integration.id = insert(tx, &integration).await?;
                    Ok(integration)
                })
            })
            .await
    }

    async fn update_integration(
        &self,
        id: i64,
        fields: IntegrationFields,
        expect: Option<&IfMatch>,
        actor: Option<&Actor>,
    ) -> Result<Integration> {
        // A write that changes nothing writes nothing (see `update_run`).
        let actor = actor.cloned();
        let expect = expect.cloned();
        self.db
            .write(move |tx| {
                Box::pin(async move {
                    let (mut integration, changed) =
                        updated(tx, id, &fields, expect.as_ref()).await?;
                    if !changed {
                        return Ok(integration);
                    }
                    integration.version += 1;
                    integration.updated_at = time::now();
                    integration.updated_by = actor;
                    let i = &integration;
                    query(sql::UPDATE_INTEGRATION)
                        .bind(i.id)
                        .bind(&i.code)
                        .bind(&i.name)
                        .bind(&i.business_object)
                        .bind(i.direction.as_str())
                        .bind(&i.end_system)
                        .bind(i.end_system_type.as_str())
                        .bind(i.integration_type.map(IntegrationType::as_str))
                        .bind(i.updated_at)
                        .bind(i.updated_by.as_ref().map(|a| a.id))
                        .execute(tx)
                        .await
                        .map_err(|e| on_unique(e, KEYS))?;
                    Ok(integration)
                })
            })
            .await
    }

    async fn integration(&self, id: i64) -> Result<Integration> {
        self.db
            .read(move |conn| Box::pin(fetch(conn, id, false)))
            .await
    }

    async fn integrations(&self, query: &Query) -> Result<Page<Integration>> {
        let page = query.clone();
        self.read_page(query, move |conn| {
            Box::pin(async move {
                let rows = page_rows(conn, "integrations", sql::SELECT_INTEGRATIONS, &page).await?;
                rows.try_map(rows::integration)
            })
        })
        .await
    }
}

/// Refuses a code or name (each `None` when it is not being set) that another integration has
/// without ASCII case (the domain words the refusal). Only the keys a write sets are checked,
/// so that an integration of an older database with a case twin can still be updated.
///
/// Unique without case is a check, not a constraint (a database may hold older twins, which
/// a unique index on `lower(code)` would refuse to build on): the executor's `KEYS_LOCK`
/// serialises the writers that check, where the backend has concurrent writers.
async fn check_unique<C: Executor>(
    conn: &mut C,
    id: i64,
    code: Option<&str>,
    name: Option<&str>,
) -> Result<()> {
    lock_keys(conn).await?;
    refuse_taken(&taken(conn, id, code, name).await?)
}

/// Takes the executor's `KEYS_LOCK` (see [`check_unique`]) until the transaction ends.
pub(super) async fn lock_keys<C: Executor>(conn: &mut C) -> Result<()> {
    if let Some(lock) = C::KEYS_LOCK {
        query(lock).execute(conn).await?;
    }
    Ok(())
}

/// Which of `code` and `name` an integration other than `id` has, without ASCII case.
pub(super) async fn taken(
    conn: &mut impl Executor,
    id: i64,
    code: Option<&str>,
    name: Option<&str>,
) -> Result<Vec<UniqueKey>> {
    let taken = query(sql::INTEGRATION_KEYS_TAKEN)
        .bind(id)
        .bind(code.map(str::to_ascii_lowercase))
        .bind(name.map(str::to_ascii_lowercase))
        .fetch_one(conn)
        .await?;
    let mut keys = Vec::new();
    for (i, key) in [UniqueKey::Code, UniqueKey::Name].into_iter().enumerate() {
        if taken.get::<bool>(i)? {
            keys.push(key);
        }
    }
    Ok(keys)
}

/// Inserts a new integration made by its `created_by`, whose keys were checked; its id.
pub(super) async fn insert(conn: &mut impl Executor, i: &Integration) -> Result<i64> {
    query(sql::INSERT_INTEGRATION)
        .bind(&i.code)
        .bind(&i.name)
        .bind(&i.business_object)
        .bind(i.direction.as_str())
        .bind(&i.end_system)
        .bind(i.end_system_type.as_str())
        .bind(i.integration_type.map(IntegrationType::as_str))
        .bind(i.standard)
        .bind(i.created_at)
        .bind(i.created_by.as_ref().map(|a| a.id))
        .scalar(conn)
        .await
        .map_err(|e| on_unique(e, KEYS))
}

/// The integration, locked for the write that read it when `lock` is set.
pub(super) async fn fetch<C: Executor>(conn: &mut C, id: i64, lock: bool) -> Result<Integration> {
    let sql = format!(
        "{} WHERE t0.id = $1{}",
        sql::SELECT_INTEGRATIONS,
        if lock { C::ROW_LOCK } else { "" }
    );
    let row = query(&sql).bind(id).fetch_optional(conn).await?;
    let row =
        row.ok_or_else(|| Error::NotFound(format!("Couldn't find Integration with 'id'={id}")))?;
    rows::integration(&row)
}

/// An integration as `fields` would leave it, and whether that differs from what is stored.
/// Uniqueness is checked only when something changes.
async fn updated(
    conn: &mut impl Executor,
    id: i64,
    fields: &IntegrationFields,
    expect: Option<&IfMatch>,
) -> Result<(Integration, bool)> {
    let read = fetch(conn, id, true).await?;
    if let Some(expect) = expect {
        expect.check(&etag::integration(&read))?;
    }
    let mut next = read.clone();
    if !next.apply(fields) {
        return Ok((read, false));
    }
    let code = (next.code != read.code).then_some(next.code.as_str());
    let name = (next.name != read.name).then_some(next.name.as_str());
    check_unique(conn, id, code, name).await?;
    Ok((next, true))
}

/// The integration a reference names, or Coupa's "Unable to find" 400.
pub(super) async fn find(
    conn: &mut impl Executor,
    reference: &IntegrationRef,
) -> Result<Integration> {
    if reference.is_empty() {
        return Err(reference.not_found());
    }
    // Only the keys given, so that each is an index lookup (`lower(code)` and `lower(name)`
    // are indexed); text without ASCII case, as queries match it. The domain picks among
    // the candidates.
    let mut conditions = Vec::new();
    let mut keys = Vec::new();
    if reference.id.is_some() {
        conditions.push(format!("t0.id = ${}", conditions.len() + 1));
    }
    for (column, key) in [("code", &reference.code), ("name", &reference.name)] {
        if let Some(key) = key {
            conditions.push(format!("lower(t0.{column}) = ${}", conditions.len() + 1));
            keys.push(key.to_ascii_lowercase());
        }
    }
    let sql = format!(
        "{} WHERE {} ORDER BY t0.id LIMIT 16",
        sql::SELECT_INTEGRATIONS,
        conditions.join(" AND ")
    );
    let rows = query(&sql)
        .bind_all(reference.id)
        .bind_all(keys)
        .fetch_all(conn)
        .await?;
    let candidates = rows
        .iter()
        .map(rows::integration)
        .collect::<Result<Vec<_>>>()?;
    reference.pick(candidates)
}
