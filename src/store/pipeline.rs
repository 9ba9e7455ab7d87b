//! Pipeline persistence: `pipeline_runs`, `stage_runs` (one row per attempt), `stage_requests`
//! (operator run/re-run requests) and `leases` (which process drives the pipeline).

use chrono::{DateTime, NaiveDate, Utc};
use entity::{lease, pipeline_run, stage_request, stage_run};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, ExprTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use super::StoreError;
use crate::domain::MarketRegion;
use sea_orm::sea_query::Expr;

pub use crate::ports::pipeline_runs::{AttemptUpdate, RequestKind, request_status};
use crate::ports::pipeline_runs::{
    LeaseRecord, PipelineFuture, PipelineRunRecord, PipelineRuns, StageRequest, StageRunRecord,
};

fn run_record(m: pipeline_run::Model) -> PipelineRunRecord {
    PipelineRunRecord {
        id: m.id,
        market: m.market,
        trade_date: m.trade_date,
        status: m.status,
        reason: m.reason,
        started_at: m.started_at,
        finished_at: m.finished_at,
    }
}

fn attempt_record(m: stage_run::Model) -> StageRunRecord {
    StageRunRecord {
        id: m.id,
        pipeline_run_id: m.pipeline_run_id,
        stage: m.stage,
        attempt: m.attempt,
        status: m.status,
        started_at: m.started_at,
        finished_at: m.finished_at,
        error: m.error,
        output: m.output,
        requested_by: m.requested_by,
        created_at: m.created_at,
    }
}

fn request_record(m: stage_request::Model) -> StageRequest {
    StageRequest {
        id: m.id,
        market: m.market,
        trade_date: m.trade_date,
        stage: m.stage,
        kind: m.kind,
        requested_by: m.requested_by,
        requested_at: m.requested_at,
        status: m.status,
        taken_by: m.taken_by,
        taken_at: m.taken_at,
        finished_at: m.finished_at,
        result: m.result,
    }
}

fn lease_record(m: lease::Model) -> LeaseRecord {
    LeaseRecord {
        name: m.name,
        holder: m.holder,
        heartbeat_at: m.heartbeat_at,
        expires_at: m.expires_at,
        epoch: m.epoch,
    }
}

/// Reads and writes pipeline rows.
#[derive(Debug, Clone)]
pub struct PipelineStore {
    db: DatabaseConnection,
}

impl PipelineStore {
    /// Creates the store on a connection.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Returns the run of a market's trade date, if any.
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when the query fails.
    pub async fn find_run(
        &self,
        market: MarketRegion,
        date: NaiveDate,
    ) -> Result<Option<PipelineRunRecord>, StoreError> {
        Ok(pipeline_run::Entity::find()
            .filter(pipeline_run::Column::Market.eq(market.as_str()))
            .filter(pipeline_run::Column::TradeDate.eq(date))
            .one(&self.db)
            .await?
            .map(run_record))
    }

    /// Returns the run of a market's trade date, creating it with `status` when missing (a
    /// concurrent creator wins and its row is returned). The flag says whether this call created it.
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when the queries fail.
    pub async fn get_or_create_run(
        &self,
        market: MarketRegion,
        date: NaiveDate,
        status: &str,
        reason: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(PipelineRunRecord, bool), StoreError> {
        if let Some(run) = self.find_run(market, date).await? {
            return Ok((run, false));
        }
        let row = pipeline_run::ActiveModel {
            market: Set(market.as_str().to_owned()),
            trade_date: Set(date),
            status: Set(status.to_owned()),
            reason: Set(reason),
            started_at: Set(now),
            finished_at: Set(None),
            ..Default::default()
        };
        match row.insert(&self.db).await {
            Ok(run) => Ok((run_record(run), true)),
            Err(e) => match self.find_run(market, date).await? {
                Some(run) => Ok((run, false)),
                None => Err(e.into()),
            },
        }
    }

    /// Sets a run's status, reason and finish time.
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when the update fails.
    pub async fn set_run_status(
        &self,
        run_id: i64,
        status: &str,
        reason: Option<String>,
        finished_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        pipeline_run::Entity::update_many()
            .set(pipeline_run::ActiveModel {
                status: Set(status.to_owned()),
                reason: Set(reason),
                finished_at: Set(finished_at),
                ..Default::default()
            })
            .filter(pipeline_run::Column::Id.eq(run_id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Returns the most recent runs of every market, newest trade date first.
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when the query fails.
    pub async fn recent_runs(&self, limit: u64) -> Result<Vec<PipelineRunRecord>, StoreError> {
        Ok(pipeline_run::Entity::find()
            .order_by_desc(pipeline_run::Column::TradeDate)
            .order_by_asc(pipeline_run::Column::Market)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(run_record)
            .collect())
    }

    /// Returns every attempt of a run, ordered by id (creation order).
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when the query fails.
    pub async fn attempts(&self, run_id: i64) -> Result<Vec<StageRunRecord>, StoreError> {
        Ok(stage_run::Entity::find()
            .filter(stage_run::Column::PipelineRunId.eq(run_id))
            .order_by_asc(stage_run::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(attempt_record)
            .collect())
    }

    /// Returns the latest attempt of a stage in a run.
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when the query fails.
    pub async fn latest_attempt(
        &self,
        run_id: i64,
        stage: &str,
    ) -> Result<Option<StageRunRecord>, StoreError> {
        Ok(stage_run::Entity::find()
            .filter(stage_run::Column::PipelineRunId.eq(run_id))
            .filter(stage_run::Column::Stage.eq(stage))
            .order_by_desc(stage_run::Column::Attempt)
            .one(&self.db)
            .await?
            .map(attempt_record))
    }

    /// Inserts a PENDING attempt.
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when the insert fails (the attempt number is unique per stage).
    pub async fn insert_attempt(
        &self,
        run_id: i64,
        stage: &str,
        attempt: i32,
        requested_by: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<StageRunRecord, StoreError> {
        let row = stage_run::ActiveModel {
            pipeline_run_id: Set(run_id),
            stage: Set(stage.to_owned()),
            attempt: Set(attempt),
            status: Set("PENDING".to_owned()),
            started_at: Set(None),
            finished_at: Set(None),
            error: Set(None),
            output: Set(None),
            requested_by: Set(requested_by),
            created_at: Set(now),
            ..Default::default()
        };
        Ok(attempt_record(row.insert(&self.db).await?))
    }

    /// Moves an attempt from status `from` to `to` and writes the given fields; returns false when
    /// the attempt was not in `from` (someone else changed it).
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when the update fails.
    pub async fn update_attempt(
        &self,
        id: i64,
        from: &str,
        to: &str,
        update: AttemptUpdate,
    ) -> Result<bool, StoreError> {
        let mut row = stage_run::ActiveModel { status: Set(to.to_owned()), ..Default::default() };
        if let Some(t) = update.started_at {
            row.started_at = Set(Some(t));
        }
        if let Some(t) = update.finished_at {
            row.finished_at = Set(Some(t));
        }
        if let Some(e) = update.error {
            row.error = Set(Some(e));
        }
        if let Some(o) = update.output {
            row.output = Set(Some(o));
        }
        let res = stage_run::Entity::update_many()
            .set(row)
            .filter(stage_run::Column::Id.eq(id))
            .filter(stage_run::Column::Status.eq(from))
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected == 1)
    }

    /// Inserts a PENDING stage request and returns its id.
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when the insert fails.
    pub async fn insert_request(
        &self,
        market: MarketRegion,
        date: NaiveDate,
        stage: &str,
        kind: RequestKind,
        requested_by: &str,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let row = stage_request::ActiveModel {
            market: Set(market.as_str().to_owned()),
            trade_date: Set(date),
            stage: Set(stage.to_owned()),
            kind: Set(kind.as_str().to_owned()),
            requested_by: Set(requested_by.to_owned()),
            requested_at: Set(now),
            status: Set(request_status::PENDING.to_owned()),
            taken_by: Set(None),
            taken_at: Set(None),
            finished_at: Set(None),
            result: Set(None),
            ..Default::default()
        };
        Ok(row.insert(&self.db).await?.id)
    }

    /// Claims the oldest PENDING request for `holder` — among those for one of `stages` when
    /// given — and returns it.
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when the queries fail.
    pub async fn take_request(
        &self,
        holder: &str,
        now: DateTime<Utc>,
        stages: Option<&[&str]>,
    ) -> Result<Option<StageRequest>, StoreError> {
        let mut query =
            stage_request::Entity::find().filter(stage_request::Column::Status.eq(request_status::PENDING));
        if let Some(stages) = stages {
            query = query.filter(stage_request::Column::Stage.is_in(stages.iter().copied()));
        }
        let pending = query.order_by_asc(stage_request::Column::Id).limit(8).all(&self.db).await?;
        for req in pending {
            let res = stage_request::Entity::update_many()
                .set(stage_request::ActiveModel {
                    status: Set(request_status::TAKEN.to_owned()),
                    taken_by: Set(Some(holder.to_owned())),
                    taken_at: Set(Some(now)),
                    ..Default::default()
                })
                .filter(stage_request::Column::Id.eq(req.id))
                .filter(stage_request::Column::Status.eq(request_status::PENDING))
                .exec(&self.db)
                .await?;
            if res.rows_affected == 1 {
                return Ok(stage_request::Entity::find_by_id(req.id)
                    .one(&self.db)
                    .await?
                    .map(request_record));
            }
        }
        Ok(None)
    }

    /// Records the outcome of a request.
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when the update fails.
    pub async fn finish_request(
        &self,
        id: i64,
        ok: bool,
        result: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let status = if ok { request_status::DONE } else { request_status::FAILED };
        stage_request::Entity::update_many()
            .set(stage_request::ActiveModel {
                status: Set(status.to_owned()),
                finished_at: Set(Some(now)),
                result: Set(Some(result.to_owned())),
                ..Default::default()
            })
            .filter(stage_request::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Returns a request by id.
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when the query fails.
    pub async fn request(&self, id: i64) -> Result<Option<StageRequest>, StoreError> {
        Ok(stage_request::Entity::find_by_id(id).one(&self.db).await?.map(request_record))
    }

    /// Takes or renews the named lease for `holder` until `now + ttl` and returns the epoch it is
    /// held under: a renewal keeps the epoch, taking over an expired lease adds one, a new lease
    /// starts at 1. Returns `None` when another holder's lease has not expired.
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when the queries fail.
    pub async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: chrono::TimeDelta,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, StoreError> {
        let expires = now + ttl;
        let renewed = lease::Entity::update_many()
            .col_expr(lease::Column::HeartbeatAt, Expr::value(now))
            .col_expr(lease::Column::ExpiresAt, Expr::value(expires))
            .filter(lease::Column::Name.eq(name))
            .filter(lease::Column::Holder.eq(holder))
            .exec(&self.db)
            .await?;
        if renewed.rows_affected == 0 {
            // An expired lease changes holder under the next epoch; a live one stays untouched.
            let taken = lease::Entity::update_many()
                .col_expr(lease::Column::Holder, Expr::value(holder))
                .col_expr(lease::Column::HeartbeatAt, Expr::value(now))
                .col_expr(lease::Column::ExpiresAt, Expr::value(expires))
                .col_expr(lease::Column::Epoch, Expr::col(lease::Column::Epoch).add(1))
                .filter(lease::Column::Name.eq(name))
                .filter(lease::Column::ExpiresAt.lt(now))
                .exec(&self.db)
                .await?;
            if taken.rows_affected == 0 {
                if lease::Entity::find_by_id(name.to_owned()).one(&self.db).await?.is_some() {
                    return Ok(None);
                }
                let row = lease::ActiveModel {
                    name: Set(name.to_owned()),
                    holder: Set(holder.to_owned()),
                    heartbeat_at: Set(now),
                    expires_at: Set(expires),
                    epoch: Set(1),
                };
                // A concurrent insert makes this fail: the other process holds the lease.
                return Ok(row.insert(&self.db).await.ok().map(|_| 1));
            }
        }
        // Read back under the holder: a takeover racing this one leaves a single winner.
        Ok(lease::Entity::find_by_id(name.to_owned())
            .filter(lease::Column::Holder.eq(holder))
            .one(&self.db)
            .await?
            .map(|l| std::cmp::Ord::max(l.epoch, 1)))
    }

    /// Releases the named lease if `holder` holds it: the row stays (expired at once) so the
    /// next holder takes it under the next epoch, and epochs only ever grow.
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when the update fails.
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        lease::Entity::update_many()
            .col_expr(lease::Column::ExpiresAt, Expr::value(DateTime::<Utc>::UNIX_EPOCH))
            .filter(lease::Column::Name.eq(name))
            .filter(lease::Column::Holder.eq(holder))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Returns the unexpired holder of the named lease, if any.
    ///
    /// # Errors
    /// Returns [`StoreError::Db`] when the query fails.
    pub async fn live_lease(
        &self,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<LeaseRecord>, StoreError> {
        Ok(lease::Entity::find_by_id(name.to_owned())
            .one(&self.db)
            .await?
            .filter(|l| l.expires_at >= now)
            .map(lease_record))
    }
}

impl PipelineRuns for PipelineStore {
    fn find_run(
        &self,
        market: MarketRegion,
        date: NaiveDate,
    ) -> PipelineFuture<'_, Option<PipelineRunRecord>> {
        Box::pin(Self::find_run(self, market, date))
    }

    fn get_or_create_run<'a>(
        &'a self,
        market: MarketRegion,
        date: NaiveDate,
        status: &'a str,
        reason: Option<String>,
        now: DateTime<Utc>,
    ) -> PipelineFuture<'a, (PipelineRunRecord, bool)> {
        Box::pin(Self::get_or_create_run(self, market, date, status, reason, now))
    }

    fn set_run_status<'a>(
        &'a self,
        run_id: i64,
        status: &'a str,
        reason: Option<String>,
        finished_at: Option<DateTime<Utc>>,
    ) -> PipelineFuture<'a, ()> {
        Box::pin(Self::set_run_status(self, run_id, status, reason, finished_at))
    }

    fn recent_runs(&self, limit: u64) -> PipelineFuture<'_, Vec<PipelineRunRecord>> {
        Box::pin(Self::recent_runs(self, limit))
    }

    fn attempts(&self, run_id: i64) -> PipelineFuture<'_, Vec<StageRunRecord>> {
        Box::pin(Self::attempts(self, run_id))
    }

    fn latest_attempt<'a>(
        &'a self,
        run_id: i64,
        stage: &'a str,
    ) -> PipelineFuture<'a, Option<StageRunRecord>> {
        Box::pin(Self::latest_attempt(self, run_id, stage))
    }

    fn insert_attempt<'a>(
        &'a self,
        run_id: i64,
        stage: &'a str,
        attempt: i32,
        requested_by: Option<String>,
        now: DateTime<Utc>,
    ) -> PipelineFuture<'a, StageRunRecord> {
        Box::pin(Self::insert_attempt(self, run_id, stage, attempt, requested_by, now))
    }

    fn update_attempt<'a>(
        &'a self,
        id: i64,
        from: &'a str,
        to: &'a str,
        update: AttemptUpdate,
    ) -> PipelineFuture<'a, bool> {
        Box::pin(Self::update_attempt(self, id, from, to, update))
    }

    fn insert_request<'a>(
        &'a self,
        market: MarketRegion,
        date: NaiveDate,
        stage: &'a str,
        kind: RequestKind,
        requested_by: &'a str,
        now: DateTime<Utc>,
    ) -> PipelineFuture<'a, i64> {
        Box::pin(Self::insert_request(self, market, date, stage, kind, requested_by, now))
    }

    fn take_request<'a>(
        &'a self,
        holder: &'a str,
        now: DateTime<Utc>,
        stages: Option<&'a [&'a str]>,
    ) -> PipelineFuture<'a, Option<StageRequest>> {
        Box::pin(Self::take_request(self, holder, now, stages))
    }

    fn finish_request<'a>(
        &'a self,
        id: i64,
        ok: bool,
        result: &'a str,
        now: DateTime<Utc>,
    ) -> PipelineFuture<'a, ()> {
        Box::pin(Self::finish_request(self, id, ok, result, now))
    }

    fn request(&self, id: i64) -> PipelineFuture<'_, Option<StageRequest>> {
        Box::pin(Self::request(self, id))
    }

    fn acquire_lease<'a>(
        &'a self,
        name: &'a str,
        holder: &'a str,
        ttl: chrono::TimeDelta,
        now: DateTime<Utc>,
    ) -> PipelineFuture<'a, Option<i64>> {
        Box::pin(Self::acquire_lease(self, name, holder, ttl, now))
    }

    fn release_lease<'a>(&'a self, name: &'a str, holder: &'a str) -> PipelineFuture<'a, ()> {
        Box::pin(Self::release_lease(self, name, holder))
    }

    fn live_lease<'a>(
        &'a self,
        name: &'a str,
        now: DateTime<Utc>,
    ) -> PipelineFuture<'a, Option<LeaseRecord>> {
        Box::pin(Self::live_lease(self, name, now))
    }
}
