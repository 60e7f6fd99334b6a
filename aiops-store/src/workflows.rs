//! Workflows added through the API and the records of workflow runs (and remediation
//! executions, stored as runs of their own).

use aiops_core::TimestampMs;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::error::{Result, StoreError};
use crate::sql::{Sql, Value};
use crate::store::Store;

/// A stored workflow definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowRow {
    /// Id.
    pub id: String,
    /// The workflow's name (unique).
    pub name: String,
    /// Its YAML text (a `workflows:` document defining it).
    pub body: String,
    /// Created (ms).
    pub created_at: TimestampMs,
    /// Last changed (ms).
    pub updated_at: TimestampMs,
}

/// The record of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowRunRow {
    /// Run id.
    pub id: String,
    /// The workflow's name.
    pub workflow: String,
    /// What started it (`alert`, `incident`, `schedule`, `event`, `manual`, `api`).
    pub trigger: String,
    /// `succeeded`, `failed`, `throttled`...
    pub status: String,
    /// Started (ms).
    pub started_at: TimestampMs,
    /// Finished (ms), when it has.
    pub finished_at: Option<TimestampMs>,
    /// The whole record (JSON).
    pub record: serde_json::Value,
}

fn workflow_row(r: &sqlx::any::AnyRow) -> Result<WorkflowRow> {
    Ok(WorkflowRow {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        body: r.try_get(2)?,
        created_at: r.try_get(3)?,
        updated_at: r.try_get(4)?,
    })
}

fn run_row(r: &sqlx::any::AnyRow) -> Result<WorkflowRunRow> {
    let record: String = r.try_get(6)?;
    Ok(WorkflowRunRow {
        id: r.try_get(0)?,
        workflow: r.try_get(1)?,
        trigger: r.try_get(2)?,
        status: r.try_get(3)?,
        started_at: r.try_get(4)?,
        finished_at: r.try_get(5)?,
        record: serde_json::from_str(&record)
            .map_err(|e| StoreError::corrupt("workflow run", e))?,
    })
}

const RUN_COLUMNS: &str =
    "SELECT id, workflow, trigger_type, status, started_at, finished_at, record FROM workflow_runs";

impl Store {
    /// Stores a new workflow; its name must be unique.
    pub async fn create_workflow(&self, w: &WorkflowRow) -> Result<()> {
        let mut q =
            Sql::new("INSERT INTO workflows (id, name, body, created_at, updated_at) VALUES ");
        q.row([
            Value::from(w.id.as_str()),
            w.name.as_str().into(),
            w.body.as_str().into(),
            w.created_at.into(),
            w.updated_at.into(),
        ]);
        q.query().execute(&self.write).await.map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict {
                kind: "workflow",
                id: w.name.clone(),
            },
            _ => StoreError::Database(e),
        })?;
        Ok(())
    }

    /// Every stored workflow, oldest first.
    pub async fn workflows(&self) -> Result<Vec<WorkflowRow>> {
        let rows = Sql::new(
            "SELECT id, name, body, created_at, updated_at FROM workflows ORDER BY created_at, id",
        )
        .query()
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(workflow_row).collect()
    }

    /// Replaces the body of stored workflow `name`; `NotFound` when there is none.
    pub async fn update_workflow(
        &self,
        name: &str,
        body: &str,
        updated_at: TimestampMs,
    ) -> Result<()> {
        let mut q = Sql::new("UPDATE workflows SET body = ");
        q.bind(body)
            .push(", updated_at = ")
            .bind(updated_at)
            .push(" WHERE name = ")
            .bind(name);
        if q.query().execute(&self.write).await?.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                kind: "workflow",
                id: name.into(),
            });
        }
        Ok(())
    }

    /// Deletes stored workflow `name` (its runs stay); `NotFound` when there is none.
    pub async fn delete_workflow(&self, name: &str) -> Result<()> {
        let mut q = Sql::new("DELETE FROM workflows WHERE name = ");
        q.bind(name);
        if q.query().execute(&self.write).await?.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                kind: "workflow",
                id: name.into(),
            });
        }
        Ok(())
    }

    /// Stores (or replaces) a run's record.
    pub async fn put_workflow_run(&self, r: &WorkflowRunRow) -> Result<()> {
        let mut q = Sql::new(
            "INSERT INTO workflow_runs (id, workflow, trigger_type, status, started_at, finished_at, record) VALUES ",
        );
        q.row([
            Value::from(r.id.as_str()),
            r.workflow.as_str().into(),
            r.trigger.as_str().into(),
            r.status.as_str().into(),
            r.started_at.into(),
            r.finished_at.into(),
            r.record.to_string().into(),
        ])
        .push(
            " ON CONFLICT (id) DO UPDATE SET status = excluded.status, finished_at = excluded.finished_at, record = excluded.record",
        );
        q.query().execute(&self.write).await?;
        Ok(())
    }

    /// Records a run about to start unless one of that id is recorded; returns whether this
    /// call recorded it (the caller starts the run only then).
    pub async fn claim_workflow_run(&self, r: &WorkflowRunRow) -> Result<bool> {
        let mut q = Sql::new(
            "INSERT INTO workflow_runs (id, workflow, trigger_type, status, started_at, finished_at, record) VALUES ",
        );
        q.row([
            Value::from(r.id.as_str()),
            r.workflow.as_str().into(),
            r.trigger.as_str().into(),
            r.status.as_str().into(),
            r.started_at.into(),
            r.finished_at.into(),
            r.record.to_string().into(),
        ])
        .push(" ON CONFLICT (id) DO NOTHING");
        Ok(q.query().execute(&self.write).await?.rows_affected() == 1)
    }

    /// Replaces a run's status, end and record only while it is `running`; returns whether
    /// it was (a run that ended meanwhile keeps its own record).
    pub async fn update_running_workflow_run(&self, r: &WorkflowRunRow) -> Result<bool> {
        let mut q = Sql::new("UPDATE workflow_runs SET status = ");
        q.bind(r.status.as_str())
            .push(", finished_at = ")
            .bind(r.finished_at)
            .push(", record = ")
            .bind(r.record.to_string())
            .push(" WHERE id = ")
            .bind(r.id.as_str())
            .push(" AND status = 'running'");
        Ok(q.query().execute(&self.write).await?.rows_affected() == 1)
    }

    /// The runs recorded `running`, oldest first, at most `limit`.
    pub async fn running_workflow_runs(&self, limit: usize) -> Result<Vec<WorkflowRunRow>> {
        let mut q = Sql::new(RUN_COLUMNS);
        q.push(" WHERE status = 'running' ORDER BY started_at, id LIMIT ")
            .bind(limit as i64);
        let rows = q.query().fetch_all(&self.read).await?;
        rows.iter().map(run_row).collect()
    }

    /// One run.
    pub async fn workflow_run(&self, id: &str) -> Result<WorkflowRunRow> {
        let mut q = Sql::new(RUN_COLUMNS);
        q.push(" WHERE id = ").bind(id);
        match q.query().fetch_optional(&self.read).await? {
            Some(r) => run_row(&r),
            None => Err(StoreError::NotFound {
                kind: "workflow run",
                id: id.into(),
            }),
        }
    }

    /// The runs of a workflow, newest first, at most `limit`.
    pub async fn workflow_runs(&self, workflow: &str, limit: usize) -> Result<Vec<WorkflowRunRow>> {
        let mut q = Sql::new(RUN_COLUMNS);
        q.push(" WHERE workflow = ")
            .bind(workflow)
            .push(" ORDER BY started_at DESC, id DESC LIMIT ")
            .bind(limit as i64);
        let rows = q.query().fetch_all(&self.read).await?;
        rows.iter().map(run_row).collect()
    }

    /// The highest ids of the incident timeline and of the events (0 when empty): where
    /// readers that start now begin.
    pub async fn timeline_heads(&self) -> Result<(i64, i64)> {
        let r = Sql::new(
            "SELECT (SELECT COALESCE(MAX(id), 0) FROM incident_events), (SELECT COALESCE(MAX(id), 0) FROM events)",
        )
        .query()
        .fetch_one(&self.read)
        .await?;
        Ok((r.try_get(0)?, r.try_get(1)?))
    }
}
