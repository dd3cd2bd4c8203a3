//! Tasks (spec §3.4): the list (newest first), one task, and cancellation.
//!
//! Only online physical copies stay ACTIVE (for the array's configured duration of virtual
//! time); every other task is recorded DONE as it starts, since the model has no background
//! copy engine. The cost: clients never see an offline copy or a promote in progress.

use serde::Serialize;

use super::error::{ApiError, ApiResult};
use super::http::{Ctx, Reply, Req};
use super::json::{self, Shape};
use super::render::{Collection, task_time};
use crate::task::{MAX_TASK_ID, ONLINE_COPY_STEPS};
use crate::{ErrorCode, Simulation, Task, TaskId, TaskStatus};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TaskJson {
    id: u32,
    #[serde(rename = "type")]
    kind: u8,
    name: String,
    status: u8,
    completed_phases: u32,
    total_phases: u32,
    completed_steps: u32,
    total_steps: u32,
    start_time: String,
    finish_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    priority: Option<u8>,
    user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    detailed_status: String,
}

fn render(sim: &Simulation, task: &Task) -> TaskJson {
    let now = sim.now();
    let done = task.status != TaskStatus::Active;
    TaskJson {
        id: task.id.0,
        kind: task.kind as u8,
        name: task.name.clone(),
        status: task.status as u8,
        completed_phases: u32::from(done),
        total_phases: 1,
        completed_steps: task.completed_steps(now),
        total_steps: ONLINE_COPY_STEPS,
        start_time: task_time(sim, task.started_at),
        finish_time: task.finished_at.map_or_else(|| "-".to_owned(), |at| task_time(sim, at)),
        // The client maps priority through {1, 2, 3} and crashes on anything else (spec §3.4).
        priority: task.priority.filter(|p| (1..=3).contains(p)),
        user: task.user.clone(),
        detailed_status: task.detail.clone(),
    }
}

/// Parses a task id from the path: not an integer → 39, ≤ 0 → 115, > 65535 → 43.
fn task_id(text: &str) -> ApiResult<TaskId> {
    let id: i128 = text.trim().parse().map_err(|_| json::wrong_type("id", "an integer"))?;
    if id <= 0 {
        return Err(ApiError::member(ErrorCode::INV_INPUT_BELOW_RANGE, "id", "task ids start at 1"));
    }
    if id > i128::from(MAX_TASK_ID) {
        return Err(ApiError::member(ErrorCode::INV_INPUT_EXCEEDS_RANGE, "id", "task ids end at 65535"));
    }
    Ok(TaskId(id as u32))
}

/// `GET /tasks`, newest first.
pub(crate) async fn list(ctx: &Ctx) -> ApiResult<Reply> {
    let tasks = ctx.model(|sim, id| sim.array(id).tasks().map(|t| render(sim, t)).collect::<Vec<_>>()).await?;
    Ok(Reply::json(200, &Collection::of(tasks)))
}

/// `GET /tasks/<id>`.
pub(crate) async fn get(ctx: &Ctx, id: &str) -> ApiResult<Reply> {
    let task_id = task_id(id)?;
    let task = ctx.run(move |sim, id| sim.array(id).task(task_id).map(|t| render(sim, t))).await?;
    Ok(Reply::json(200, &task))
}

const CANCEL: &[json::Field] = &[("action", Shape::Any)];

/// `PUT /tasks/<id>` `{"action": 1}`: cancels an active task.
pub(crate) async fn modify(ctx: &Ctx, id: &str, req: &Req) -> ApiResult<Reply> {
    let body = json::parse(&req.body)?;
    let body = json::object(&body, CANCEL)?;
    let task_id = task_id(id)?;
    body.enumeration("action", &[1])?.ok_or_else(|| json::missing("action"))?;
    ctx.run(move |sim, id| sim.array_mut(id).cancel_task(task_id)).await?;
    Ok(Reply::ok())
}
