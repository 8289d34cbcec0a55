//! Database velocity used to add each payment to three buckets (its 5 minutes, its hour, its six
//! hours); now it adds it to its 5-minute bucket only, and a compaction merges buckets into
//! coarser ones once they are out of the finer window (`src/server/fraud/velocity.rs`), so each
//! payment must be in exactly one row. The old rows are converted: each six hours loses what its
//! hours still hold, then each hour what its 5-minute buckets still hold. What is left of a
//! coarser bucket is what was pruned from the finer window, so it lies outside that window, as the
//! new layout has it. Emptied rows are deleted. Down adds the finer buckets back into the coarser.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (granularity, granularity of the next coarser buckets, finer buckets in one coarser)
const STEPS: [(i32, i32, i64); 2] = [(0, 1, 12), (1, 2, 6)];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        // Coarsest first, so each step subtracts finer rows that are not changed yet.
        for (finer, coarser, per) in STEPS.into_iter().rev() {
            let held = |column: &str| {
                format!(
                    "COALESCE((SELECT sum(f.{column}) FROM velocity_buckets f WHERE f.key = velocity_buckets.key AND f.granularity = {finer} \
                     AND f.bucket >= velocity_buckets.bucket * {per} AND f.bucket < (velocity_buckets.bucket + 1) * {per}), 0)"
                )
            };
            let sql = format!(
                "UPDATE velocity_buckets SET count = count - {}, sum_usd_cents = sum_usd_cents - {} WHERE granularity = {coarser}",
                held("count"),
                held("sum_usd_cents")
            );
            db.execute_unprepared(&sql).await?;
        }
        db.execute_unprepared("DELETE FROM velocity_buckets WHERE granularity > 0 AND count = 0 AND sum_usd_cents = 0").await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        // Finest first: each hour takes its 5-minute buckets, then each six hours its (full) hours.
        for (finer, coarser, per) in STEPS {
            let sql = format!(
                "INSERT INTO velocity_buckets (key, granularity, bucket, count, sum_usd_cents) \
                 SELECT key, {coarser}, bucket / {per}, sum(count), sum(sum_usd_cents) FROM velocity_buckets WHERE granularity = {finer} \
                 GROUP BY key, bucket / {per} \
                 ON CONFLICT (key, granularity, bucket) DO UPDATE SET count = velocity_buckets.count + excluded.count, \
                 sum_usd_cents = velocity_buckets.sum_usd_cents + excluded.sum_usd_cents"
            );
            db.execute_unprepared(&sql).await?;
        }
        Ok(())
    }
}
