//! [`Caller`]: the scheduler as one user sees it. Every door holds one per request or
//! connection, so who may see, cancel or place what is decided here, once. Another user's
//! task or instance answers exactly as an unknown one would: ids leak nothing. Every change a
//! user makes is written to the audit trail.

use super::{
    CancelError, CloseError, InstanceInfo, Scheduler, SubmitError, Submitted, TaskFilter, Watch,
};
use crate::events::{Event, EventKind};
use crate::store::{AuditEntry, StoreResult};
use crate::task::{
    now_ms, CommandError, Door, InstanceAction, Task, TaskSpec, TaskSummary, ToolResult, User,
};

/// Caps on what one user may hold at once (admins included: they bound mistakes, not rights).
#[derive(Debug, Clone, PartialEq)]
pub struct UserLimits {
    /// Instances a user may have created and not yet closed (the boot pool does not count).
    pub max_instances: usize,
    /// Tasks of one user waiting in the queue, across instances.
    pub max_queued: usize,
}

impl Default for UserLimits {
    fn default() -> Self {
        UserLimits {
            max_instances: 8,
            max_queued: 1000,
        }
    }
}

/// A user holds as many instances as they may.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("Too many instances: {user} already has {limit} open (close one first)")]
pub struct InstanceLimit {
    pub user: String,
    pub limit: usize,
}

#[derive(Clone)]
pub struct Caller {
    scheduler: Scheduler,
    user: User,
    door: Door,
}

impl Scheduler {
    /// The scheduler as `user` sees it through `door`.
    pub fn as_user(&self, user: User, door: Door) -> Caller {
        Caller {
            scheduler: self.clone(),
            user,
            door,
        }
    }

    /// What a running task may do (`browser_instance`): what its owner may, without admin
    /// rights (a task does not carry them), except for the one local user.
    pub(super) fn as_task_owner(&self, task: &Task) -> Caller {
        let user = if task.owner == User::LOCAL {
            User::local()
        } else {
            User::named(&task.owner, false)
        };
        self.as_user(user, task.door)
    }
}

impl Caller {
    pub fn user(&self) -> &User {
        &self.user
    }

    pub fn scheduler(&self) -> &Scheduler {
        &self.scheduler
    }

    /// Queues a task owned by this user. A named instance must be one this user may use;
    /// the user's own queue must have room.
    pub async fn submit(&self, spec: TaskSpec) -> Result<Submitted, SubmitError> {
        if let Some(id) = &spec.instance_id {
            if !self.instance_usable(id).await {
                return Err(SubmitError::UnknownInstance(id.clone()));
            }
        }
        let limit = self.scheduler.inner.user_limits.max_queued;
        if self.queued_of_user().await? >= limit {
            return Err(SubmitError::UserQueueFull {
                user: self.user.name.to_string(),
                limit,
            });
        }
        let submitted = self
            .scheduler
            .submit_as(spec, &self.user.name, self.door)
            .await?;
        self.audit(
            "task_submitted",
            &submitted.task_id,
            Some(submitted.task.name.clone()),
        );
        Ok(submitted)
    }

    async fn queued_of_user(&self) -> Result<usize, SubmitError> {
        self.scheduler
            .inner
            .store
            .count_queued_of(&self.user.name)
            .await
            .map_err(|e| SubmitError::Store(format!("{e:#}")))
    }

    /// The task's whole record, if it is this user's (or the user is an admin).
    pub async fn get(&self, id: &str) -> Option<Task> {
        self.scheduler
            .tasks()
            .get(id)
            .await
            .filter(|t| self.user.may_see(&t.owner))
    }

    /// This user's tasks matching `filter` (an admin's: everyone's), oldest first.
    pub async fn list(&self, filter: &TaskFilter) -> StoreResult<Vec<TaskSummary>> {
        let mut filter = filter.clone();
        if !self.user.admin {
            filter.owner = Some(self.user.name.to_string());
        }
        self.scheduler.tasks().list(&filter).await
    }

    pub async fn cancel(&self, id: &str) -> Result<(), CancelError> {
        if !self.owns(id).await {
            return Err(CancelError);
        }
        self.scheduler.cancel(id).await?;
        self.audit("task_cancelled", id, None);
        Ok(())
    }

    pub async fn watch(&self, id: &str) -> Option<Watch> {
        if !self.owns(id).await {
            return None;
        }
        self.scheduler.watch(id).await
    }

    pub async fn watch_from_start(&self, id: &str) -> Option<Watch> {
        if !self.owns(id).await {
            return None;
        }
        self.scheduler.watch_from_start(id).await
    }

    pub async fn wait_finished(&self, id: &str) -> Option<Task> {
        if !self.owns(id).await {
            return None;
        }
        self.scheduler.wait_finished(id).await
    }

    /// Answers approval requests of this user's task (an admin's: anyone's), as this user.
    pub async fn decide(
        &self,
        task_id: &str,
        inputs: &[super::DecisionInput],
    ) -> Result<Vec<crate::task::approval::Approval>, super::DecideError> {
        if !self.owns(task_id).await {
            return Err(super::DecideError::TaskNotFound);
        }
        let decided = self
            .scheduler
            .decide(task_id, &self.user.name, inputs)
            .await?;
        for a in &decided {
            self.audit(
                if a.decision.as_ref().is_some_and(|d| d.approved) {
                    "approval_approved"
                } else {
                    "approval_rejected"
                },
                task_id,
                Some(format!(
                    "{}{}",
                    a.id,
                    a.decision
                        .as_ref()
                        .and_then(|d| d.message.as_deref())
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default()
                )),
            );
        }
        Ok(decided)
    }

    /// Puts back the state before a step of this user's finished task (see
    /// [`super::UndoError`] for when it cannot).
    pub async fn undo(
        &self,
        task_id: &str,
        step_id: Option<&str>,
        force: bool,
    ) -> Result<crate::task::UndoRecord, super::UndoError> {
        if !self.owns(task_id).await {
            return Err(super::UndoError::TaskNotFound);
        }
        let undo = self
            .scheduler
            .undo(task_id, &self.user.name, step_id, force)
            .await?;
        self.audit("task_undone", task_id, Some(undo.id.clone()));
        Ok(undo)
    }

    /// Whether the task exists and this user may see it.
    pub async fn owns(&self, id: &str) -> bool {
        self.scheduler
            .tasks()
            .owner_of(id)
            .await
            .is_some_and(|owner| self.user.may_see(&owner))
    }

    /// Whether this user may hear of an event: instance news, and their own tasks' events.
    /// `known` remembers task ids already decided (the caller keeps it per connection).
    pub async fn may_hear(&self, event: &Event, known: &mut Visible) -> bool {
        if let EventKind::External { owner, .. } = &event.kind {
            // A channel's token reaches its owner (and admins) only.
            return self.user.may_see(owner);
        }
        let Some(task_id) = event.kind.task_id() else {
            return true;
        };
        if self.user.admin {
            return true;
        }
        if let EventKind::TaskFinished { task } = &event.kind {
            return self.user.may_see(&task.owner);
        }
        if let Some(&seen) = known.decided.get(task_id) {
            return seen;
        }
        let visible = self.owns(task_id).await;
        if known.decided.len() >= Visible::KEPT {
            known.decided.clear();
        }
        known.decided.insert(task_id.to_string(), visible);
        visible
    }

    /// The live external channel of `token`, if this user may control it (another user's
    /// answers as an unknown token would).
    pub fn external_channel(
        &self,
        token: &str,
    ) -> Option<std::sync::Arc<super::external::Channel>> {
        self.scheduler
            .external()
            .get(token)
            .filter(|c| self.user.may_see(&c.owner))
    }

    /// A standalone external task owned by this user.
    pub fn open_standalone(
        &self,
        session_id: &str,
        stage_id: &str,
        config: crate::task::ExternalConfig,
        participant_number: serde_json::Value,
    ) -> Option<std::sync::Arc<super::external::Channel>> {
        self.scheduler.open_standalone(
            &self.user.name,
            session_id,
            stage_id,
            config,
            participant_number,
        )
    }

    /// The instances this user may see: the shared pool, their own, and (an admin) all.
    pub async fn instances(&self) -> Vec<InstanceInfo> {
        let mut all = self.scheduler.instances().await;
        all.retain(|i| self.may_see_instance(i.owner.as_deref()));
        all
    }

    /// Whether `id` is an instance (of any runner) this user may send tasks to.
    pub async fn instance_usable(&self, id: &str) -> bool {
        if let Some(slot) = self.scheduler.slot(id) {
            return self.may_see_instance(slot.owner.as_deref());
        }
        match self.scheduler.inner.store.instances().await {
            Ok(all) => all
                .iter()
                .any(|i| i.id == id && self.may_see_instance(i.owner.as_deref())),
            Err(_) => false,
        }
    }

    fn may_see_instance(&self, owner: Option<&str>) -> bool {
        owner.is_none_or(|owner| self.user.may_see(owner))
    }

    /// Whether this user may close it: their own, or any for an admin.
    fn may_manage_instance(&self, owner: Option<&str>) -> bool {
        self.user.admin || owner == Some(&*self.user.name)
    }

    /// Adds an instance owned by this user. `private` keeps tasks that name no instance off
    /// it; a user's instance is always private when there are users (it is theirs alone).
    pub async fn create_instance(
        &self,
        action: &InstanceAction,
        private: bool,
    ) -> anyhow::Result<InstanceInfo> {
        let limit = self.scheduler.inner.user_limits.max_instances;
        let held = self
            .scheduler
            .instances()
            .await
            .iter()
            .filter(|i| i.owner.as_deref() == Some(&*self.user.name))
            .count();
        if held >= limit {
            return Err(InstanceLimit {
                user: self.user.name.to_string(),
                limit,
            }
            .into());
        }
        let private = private || &*self.user.name != User::LOCAL;
        let info = self
            .scheduler
            .create_instance_as(action, private, Some(self.user.name.to_string()))
            .await?;
        self.audit("instance_created", &info.id, None);
        Ok(info)
    }

    /// Closes an instance this user may manage; any other answers as unknown. `running_on` is
    /// the instance of the task asking, if any.
    pub async fn close_instance(
        &self,
        id: &str,
        running_on: Option<&str>,
    ) -> Result<(), CloseError> {
        let visible = self.instances().await;
        let mine = visible
            .iter()
            .find(|i| i.id == id)
            .is_some_and(|i| self.may_manage_instance(i.owner.as_deref()));
        if !mine {
            return Err(CloseError::UnknownInstance(id.into()));
        }
        self.scheduler.close_instance(id, running_on).await?;
        self.audit("instance_closed", id, None);
        Ok(())
    }

    /// Runs a `browser_instance` action as this user. `running_on` is the instance of the task
    /// asking, if any.
    pub async fn instance_action(
        &self,
        action: &InstanceAction,
        running_on: Option<&str>,
    ) -> Result<ToolResult, CommandError> {
        fn json(value: &impl serde::Serialize) -> ToolResult {
            ToolResult::text(serde_json::to_string(value).expect("plain data serializes"))
        }
        match action {
            InstanceAction::List => Ok(json(&self.instances().await)),
            InstanceAction::Create { .. } | InstanceAction::Attach { .. } => {
                let info = self
                    .create_instance(action, false)
                    .await
                    .map_err(|e| CommandError::execution(format!("{e:#}")))?;
                Ok(json(&info))
            }
            InstanceAction::Close { instance_id } => {
                self.close_instance(instance_id, running_on)
                    .await
                    .map_err(|e| CommandError::execution(e.to_string()))?;
                Ok(ToolResult::text(format!("Closed {instance_id}")))
            }
        }
    }

    /// Records who did what, in the store (off the caller's path) and as a tracing event.
    fn audit(&self, action: &'static str, target: &str, detail: Option<String>) {
        let entry = AuditEntry {
            at: now_ms(),
            user: self.user.name.to_string(),
            action: action.into(),
            target: target.into(),
            door: self.door.as_str().into(),
            node_id: self.scheduler.inner.node.id.clone(),
            detail,
        };
        tracing::info!(
            target: "audit",
            user = %entry.user,
            action,
            target_id = %entry.target,
            door = %entry.door,
            "audit"
        );
        let store = self.scheduler.inner.store.clone();
        tokio::spawn(async move {
            if let Err(e) = store.audit(&entry).await {
                tracing::error!("task store: cannot write the audit trail: {e:#}");
            }
        });
    }
}

/// Per connection: which tasks' events a user was found allowed to hear.
#[derive(Debug, Default)]
pub struct Visible {
    decided: std::collections::HashMap<String, bool>,
}

impl Visible {
    /// Past this many, the cache starts over (a long-lived instance subscription).
    const KEPT: usize = 4096;
}
