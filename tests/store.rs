//! The task stores against real databases: one conformance suite run on the memory store, a
//! SQLite file and a PostgreSQL database; SQLite across restarts; PostgreSQL with several
//! runners sharing one queue.
//!
//! PostgreSQL comes from `BROWSER_CONTROL_TEST_PG` (a server URL; each test creates its own
//! database there and drops it). Without it the PostgreSQL cases are skipped with a note,
//! unless `BROWSER_CONTROL_REQUIRE_PG` is set: then they fail.

#[path = "common/pg.rs"]
#[allow(dead_code)]
mod pg;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use browser_control::store::postgres::PostgresStore;
use browser_control::store::{
    self, AuditEntry, AuditFilter, Change, EnqueueError, HistoryPage, HistoryQuery, HistoryStatus,
    InstanceRecord, Node, Placement, Retention, Signal, StoreUrl, TaskFilter, TaskStore,
};
use browser_control::task::action::parse_args;
use browser_control::task::approval::{
    Approval, ApprovalDecision, Decision, OnTimeout, RuleRef, RuleSource,
};
use browser_control::task::{
    now_ms, validate_submission, CommandError, CommandStatus, Content, Door, EmbeddedResource,
    ErrorCode, Happened, JournalEntry, Task, TaskStatus, TaskSummary, Tool, ToolResult, UndoRecord,
};
use futures::StreamExt;
use serde_json::json;

/// A 1×1 PNG, base64.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

// ---------------------------------------------------------------------------------------------
// Helpers

/// A folder of its own under the system's temporary folder, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "bc-store-test-{}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            now_ms()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn db(&self) -> PathBuf {
        self.0.join("t.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn open(url: &str) -> Arc<dyn TaskStore> {
    let url: StoreUrl = url.parse().unwrap();
    store::open(&url, Retention::default())
        .await
        .unwrap_or_else(|e| panic!("open {url}: {e:#}"))
}

/// A three-command task as a door builds it; `instance` is the instance it names, if any.
fn task(name: &str, instance: Option<&str>) -> Task {
    let spec = validate_submission(&json!({
        "task_name": name,
        "task_intention": format!("the intention of {name}"),
        "instanceId": instance,
        "metadata": { "z": 1, "a": 2, "nested": { "y": [1, 2], "b": null } },
        "commands": [
            { "tool_name": "browser_navigate", "intention": "reload", "args": { "action": "reload" } },
            { "tool_name": "browser_navigate", "args": { "action": "back", "timeout": 5000 } },
            { "tool_name": "browser_navigate", "args": { "action": "forward" } }
        ]
    }))
    .unwrap();
    Task::new(spec, String::new())
}

/// A one-command task, for the cluster runs.
fn small_task(name: &str) -> Task {
    let spec = validate_submission(&json!({
        "task_name": name,
        "commands": [{ "tool_name": "browser_navigate", "args": { "action": "reload" } }]
    }))
    .unwrap();
    Task::new(spec, String::new())
}

fn instance(id: &str, node: &Node, private: bool) -> InstanceRecord {
    InstanceRecord {
        id: id.into(),
        node_id: node.id.clone(),
        private,
        owner: None,
    }
}

/// A result with text, a PNG and a PDF: what a screenshot or a print returns.
fn rich_result() -> ToolResult {
    let mut result = ToolResult::text("captured");
    result.content.push(Content::Image {
        data: PNG.into(),
        mime_type: "image/png".into(),
    });
    result.content.push(Content::Resource {
        resource: EmbeddedResource {
            uri: "file:///page.pdf".into(),
            mime_type: "application/pdf".into(),
            blob: "JVBERi0xLjQKJcOkw7zDtsOf".into(),
        },
    });
    result.push_text("after");
    result
}

/// The record read back is the record the scheduler holds, field by field.
fn assert_same(kind: &str, got: &Task, want: &Task) {
    let what = format!("{kind}: task {}", want.id);
    assert_eq!(got.id, want.id, "{what}: id");
    assert_eq!(got.instance_id, want.instance_id, "{what}: instance_id");
    assert_eq!(
        got.requested_instance, want.requested_instance,
        "{what}: requested_instance"
    );
    assert_eq!(got.name, want.name, "{what}: name");
    assert_eq!(got.intention, want.intention, "{what}: intention");
    assert_eq!(got.status, want.status, "{what}: status");
    assert_eq!(
        got.current_command_index, want.current_command_index,
        "{what}: current_command_index"
    );
    assert_eq!(got.created_at, want.created_at, "{what}: created_at");
    assert_eq!(got.started_at, want.started_at, "{what}: started_at");
    assert_eq!(got.completed_at, want.completed_at, "{what}: completed_at");
    assert_eq!(got.error, want.error, "{what}: error");
    assert_eq!(got.metadata, want.metadata, "{what}: metadata");
    let keys = |t: &Task| -> Option<Vec<String>> {
        t.metadata.as_ref().map(|m| m.keys().cloned().collect())
    };
    assert_eq!(keys(got), keys(want), "{what}: metadata key order");
    assert_eq!(got.commands.len(), want.commands.len(), "{what}: commands");
    for (i, (g, w)) in got.commands.iter().zip(&want.commands).enumerate() {
        let what = format!("{what}: command {i}");
        assert_eq!(g.id, w.id, "{what}: id");
        assert_eq!(g.tool_name, w.tool_name, "{what}: tool_name");
        assert_eq!(g.intention, w.intention, "{what}: intention");
        assert_eq!(g.args, w.args, "{what}: args");
        assert_eq!(g.parsed, w.parsed, "{what}: parsed");
        assert_eq!(g.status, w.status, "{what}: status");
        assert_eq!(g.started_at, w.started_at, "{what}: started_at");
        assert_eq!(g.completed_at, w.completed_at, "{what}: completed_at");
        assert_eq!(g.result, w.result, "{what}: result");
        assert_eq!(g.error, w.error, "{what}: error");
        assert_eq!(
            g.failure_screenshot, w.failure_screenshot,
            "{what}: failure_screenshot"
        );
    }
    // And on the wire, byte for byte (key order included).
    assert_eq!(
        serde_json::to_string(got).unwrap(),
        serde_json::to_string(want).unwrap(),
        "{what}: wire"
    );
}

/// A clock for the changes: every call a later millisecond.
struct Clock(AtomicU64);

impl Clock {
    fn new() -> Clock {
        Clock(AtomicU64::new(now_ms()))
    }
    fn tick(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// Records `change` in the store and applies it to the scheduler's copy.
async fn change(store: &dyn TaskStore, copy: &mut Task, change: Change) {
    change.apply(copy).unwrap();
    store.record(&copy.id, change).await.unwrap();
}

async fn get(store: &dyn TaskStore, id: &str) -> Task {
    store
        .get(id)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no task {id}"))
}

fn filter(instance_id: Option<&str>, status: Option<TaskStatus>) -> TaskFilter {
    TaskFilter {
        instance_id: instance_id.map(str::to_string),
        status,
        owner: None,
    }
}

/// The listing of `ids` as the scheduler's copies say, oldest first.
fn summaries(copies: &HashMap<String, Task>, ids: &[&String]) -> Vec<TaskSummary> {
    let mut v: Vec<_> = ids.iter().map(|id| copies[*id].summary()).collect();
    v.sort_by(|x, y| (x.created_at, &x.id).cmp(&(y.created_at, &y.id)));
    v
}

// ---------------------------------------------------------------------------------------------
// The conformance suite: the same behaviour from every backend.

async fn conformance(store: Arc<dyn TaskStore>) {
    let kind = store.kind();
    let s = &*store;
    let clock = Clock::new();
    let node = s.join().await.unwrap();

    // A private instance only: nothing to place an unbound task on.
    let private = s.new_instance_id().await.unwrap();
    s.add_instance(&instance(&private, &node, true))
        .await
        .unwrap();
    assert_eq!(
        s.enqueue(task("none", None), Placement::LeastLoaded, 10)
            .await
            .unwrap()
            .unwrap_err(),
        EnqueueError::NoInstance,
        "{kind}"
    );
    let mut ids = [
        s.new_instance_id().await.unwrap(),
        s.new_instance_id().await.unwrap(),
    ];
    ids.sort();
    let (a, b) = (ids[0].clone(), ids[1].clone());
    assert!(a != b && a != private && b != private, "{kind}: fresh ids");
    for id in [&a, &b] {
        s.add_instance(&instance(id, &node, false)).await.unwrap();
    }
    let mut listed: Vec<String> = s
        .instances()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    listed.sort();
    let mut all = vec![private.clone(), a.clone(), b.clone()];
    all.sort();
    assert_eq!(listed, all, "{kind}: instances");
    assert_eq!(s.cluster().await.unwrap().instances, 3, "{kind}");

    // Placement: the least loaded, ties to the lowest id; the position counts what is ahead.
    let mut copies: HashMap<String, Task> = HashMap::new();
    let mut order = Vec::new();
    let mut placed = Vec::new();
    for n in 0..4 {
        let e = s
            .enqueue(task(&format!("t{n}"), None), Placement::LeastLoaded, 10)
            .await
            .unwrap()
            .unwrap();
        placed.push((e.task.instance_id.clone(), e.position));
        assert_eq!(e.task.status, TaskStatus::Queued);
        order.push(e.task.id.clone());
        copies.insert(e.task.id.clone(), e.task);
    }
    assert_eq!(
        placed,
        [
            (a.clone(), 0),
            (b.clone(), 0),
            (a.clone(), 1),
            (b.clone(), 1)
        ],
        "{kind}: placement"
    );
    let (t0, t1, t2, t3) = (
        order[0].clone(),
        order[1].clone(),
        order[2].clone(),
        order[3].clone(),
    );
    // By instance: full, unknown, and the private one (which names itself).
    assert_eq!(
        s.enqueue(task("full", None), Placement::Instance(a.clone()), 2)
            .await
            .unwrap()
            .unwrap_err(),
        EnqueueError::QueueFull {
            instance: a.clone(),
            limit: 2
        },
        "{kind}"
    );
    assert_eq!(
        s.enqueue(
            task("unknown", Some("inst_nope")),
            Placement::Instance("inst_nope".into()),
            10
        )
        .await
        .unwrap()
        .unwrap_err(),
        EnqueueError::UnknownInstance("inst_nope".into()),
        "{kind}"
    );
    let e = s
        .enqueue(
            task("private", Some(&private)),
            Placement::Instance(private.clone()),
            10,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (e.task.instance_id.as_str(), e.position),
        (private.as_str(), 0)
    );
    let tp = e.task.id.clone();
    copies.insert(tp.clone(), e.task);
    for id in [&t0, &t1, &tp] {
        assert_same(kind, &get(s, id).await, &copies[id]);
    }

    // Claims come oldest first; the claimed task is running, since the claim.
    let at = clock.tick();
    let claimed = s.claim(&a, &node, at).await.unwrap().unwrap();
    assert_eq!(claimed, t0, "{kind}: FIFO on {a}");
    let c0 = copies.get_mut(&t0).unwrap();
    c0.start(at).unwrap();
    assert_same(kind, &get(s, &t0).await, &copies[&t0]);

    // Every kind of change, recorded without waiting, then read back.
    let c0 = copies.get_mut(&t0).unwrap();
    let mut pending = Vec::new();
    let changes = vec![
        Change::CommandStarted {
            index: 0,
            at: clock.tick(),
        },
        Change::CommandSucceeded {
            index: 0,
            result: Arc::new(rich_result()),
            at: clock.tick(),
        },
        Change::CommandStarted {
            index: 1,
            at: clock.tick(),
        },
        Change::CommandFailed {
            index: 1,
            error: CommandError::new(ErrorCode::CommandTimeout, "took too long"),
            at: clock.tick(),
        },
        Change::FailureScreenshot {
            index: 1,
            png: Arc::new(PNG.to_string()),
        },
    ];
    for ch in changes {
        ch.apply(c0).unwrap();
        pending.push(s.record(&t0, ch));
    }
    let end = Change::finish(c0, false, clock.tick());
    end.apply(c0).unwrap();
    pending.push(s.record(&t0, end));
    for done in futures::future::join_all(pending).await {
        done.unwrap();
    }
    let got = get(s, &t0).await;
    assert_same(kind, &got, &copies[&t0]);
    assert_eq!(got.status, TaskStatus::Failed);
    assert_eq!(got.commands[0].result.as_ref().unwrap(), &rich_result());
    assert_eq!(got.commands[1].failure_screenshot.as_deref(), Some(PNG));
    assert_eq!(got.commands[2].status, CommandStatus::Skipped);
    let keys: Vec<&String> = got.metadata.as_ref().unwrap().keys().collect();
    assert_eq!(keys, ["z", "a", "nested"], "{kind}: metadata key order");
    assert_eq!(
        serde_json::to_string(&got.metadata).unwrap(),
        r#"{"z":1,"a":2,"nested":{"y":[1,2],"b":null}}"#,
        "{kind}"
    );

    // On B: started, then cancelled while it runs.
    let at = clock.tick();
    let claimed = s.claim(&b, &node, at).await.unwrap().unwrap();
    assert_eq!(claimed, t1, "{kind}: FIFO on {b}");
    let c1 = copies.get_mut(&t1).unwrap();
    c1.start(at).unwrap();
    change(
        s,
        c1,
        Change::CommandStarted {
            index: 0,
            at: clock.tick(),
        },
    )
    .await;
    let end = Change::finish(c1, true, clock.tick());
    change(s, c1, end).await;
    assert_same(kind, &get(s, &t1).await, &copies[&t1]);
    assert_eq!(copies[&t1].status, TaskStatus::Cancelled);

    // The second on A runs to the end.
    let at = clock.tick();
    let claimed = s.claim(&a, &node, at).await.unwrap().unwrap();
    assert_eq!(claimed, t2, "{kind}: FIFO on {a}");
    let c2 = copies.get_mut(&t2).unwrap();
    c2.start(at).unwrap();
    for index in 0..3 {
        change(
            s,
            c2,
            Change::CommandStarted {
                index,
                at: clock.tick(),
            },
        )
        .await;
        let result = Arc::new(ToolResult::text(format!("step {index}")));
        change(
            s,
            c2,
            Change::CommandSucceeded {
                index,
                result,
                at: clock.tick(),
            },
        )
        .await;
    }
    let end = Change::finish(c2, false, clock.tick());
    change(s, c2, end).await;
    assert_eq!(copies[&t2].status, TaskStatus::Completed);
    assert_same(kind, &get(s, &t2).await, &copies[&t2]);
    assert!(
        s.claim(&a, &node, clock.tick()).await.unwrap().is_none(),
        "{kind}: A empty"
    );

    // Listings, oldest first, with each filter.
    assert_eq!(
        s.list(&filter(None, None)).await.unwrap(),
        summaries(&copies, &[&t0, &t1, &t2, &t3, &tp]),
        "{kind}: all"
    );
    assert_eq!(
        s.list(&filter(Some(&a), None)).await.unwrap(),
        summaries(&copies, &[&t0, &t2]),
        "{kind}: on A"
    );
    assert_eq!(
        s.list(&filter(None, Some(TaskStatus::Queued)))
            .await
            .unwrap(),
        summaries(&copies, &[&t3, &tp]),
        "{kind}: queued"
    );
    assert_eq!(
        s.list(&filter(Some(&b), Some(TaskStatus::Cancelled)))
            .await
            .unwrap(),
        summaries(&copies, &[&t1]),
        "{kind}: cancelled on B"
    );
    assert!(s
        .list(&filter(Some(&b), Some(TaskStatus::Completed)))
        .await
        .unwrap()
        .is_empty());
    let counts: HashMap<TaskStatus, usize> =
        s.count_by_status().await.unwrap().into_iter().collect();
    assert_eq!(counts.len(), 5, "{kind}: every status counted");
    assert_eq!(
        [
            counts[&TaskStatus::Queued],
            counts[&TaskStatus::Running],
            counts[&TaskStatus::Completed],
            counts[&TaskStatus::Failed],
            counts[&TaskStatus::Cancelled]
        ],
        [2, 0, 1, 1, 1],
        "{kind}: counts"
    );

    // Cancelling what is queued, and only that.
    let at = clock.tick();
    let cancelled = s.cancel_queued(&t3, at).await.unwrap().unwrap();
    let c3 = copies.get_mut(&t3).unwrap();
    Change::finish(c3, true, at).apply(c3).unwrap();
    assert_same(kind, &cancelled, c3);
    assert_same(kind, &get(s, &t3).await, &copies[&t3]);
    assert!(copies[&t3]
        .commands
        .iter()
        .all(|c| c.status == CommandStatus::Skipped && c.completed_at.is_none()));
    assert!(s.cancel_queued(&t3, clock.tick()).await.unwrap().is_none());
    assert!(s.cancel_queued(&t0, clock.tick()).await.unwrap().is_none());
    assert!(s
        .cancel_queued("task_nope", clock.tick())
        .await
        .unwrap()
        .is_none());
    let at = clock.tick();
    let claimed = s.claim(&private, &node, at).await.unwrap().unwrap();
    assert_eq!(claimed, tp);
    let cp = copies.get_mut(&tp).unwrap();
    cp.start(at).unwrap();
    assert!(
        s.cancel_queued(&tp, clock.tick()).await.unwrap().is_none(),
        "{kind}: a running task is not cancelled as queued"
    );
    let end = Change::finish(cp, false, clock.tick());
    change(s, cp, end).await;
    assert_same(kind, &get(s, &tp).await, &copies[&tp]);

    // Retention: the two newest finished stay (t3 cancelled, then tp completed).
    let dropped = s
        .enforce_retention(
            &Retention {
                keep_finished: 2,
                ..Default::default()
            },
            clock.tick(),
        )
        .await
        .unwrap();
    assert_eq!(dropped, 3, "{kind}: dropped");
    for id in [&t0, &t1, &t2] {
        assert!(s.get(id).await.unwrap().is_none(), "{kind}: {id} dropped");
    }
    for id in [&t3, &tp] {
        assert_same(kind, &get(s, id).await, &copies[id]);
    }
    assert_eq!(
        s.list(&filter(None, None)).await.unwrap(),
        summaries(&copies, &[&t3, &tp]),
        "{kind}: after retention"
    );
    assert_eq!(
        s.enforce_retention(
            &Retention {
                keep_finished: 2,
                ..Default::default()
            },
            clock.tick()
        )
        .await
        .unwrap(),
        0
    );

    s.remove_instance(&b).await.unwrap();
    assert_eq!(s.cluster().await.unwrap().instances, 2, "{kind}");
    owners_and_accounts(s, &node).await;
    s.leave(&node).await.unwrap();
}

/// Who owns what (tasks, instances), API keys and the audit trail, read back as written.
async fn owners_and_accounts(s: &dyn TaskStore, node: &Node) {
    let kind = s.kind();
    let inst = s.new_instance_id().await.unwrap();
    let mut owned = instance(&inst, node, true);
    owned.owner = Some("ann".into());
    s.add_instance(&owned).await.unwrap();
    assert!(s.instances().await.unwrap().contains(&owned), "{kind}");
    let mut mine = task("ann's", Some(&inst));
    mine.owner = "ann".into();
    mine.door = Door::Mcp;
    let id = mine.id.clone();
    s.enqueue(mine, Placement::Instance(inst.clone()), 10)
        .await
        .unwrap()
        .unwrap();
    let back = get(s, &id).await;
    assert_eq!(
        (back.owner.as_str(), back.door),
        ("ann", Door::Mcp),
        "{kind}"
    );
    let anns = TaskFilter {
        owner: Some("ann".into()),
        ..TaskFilter::default()
    };
    let listed = s.list(&anns).await.unwrap();
    assert_eq!(listed.len(), 1, "{kind}");
    assert_eq!(listed[0].owner, "ann");
    let bobs = TaskFilter {
        owner: Some("bob".into()),
        ..TaskFilter::default()
    };
    assert!(s.list(&bobs).await.unwrap().is_empty(), "{kind}");
    assert_eq!(s.count_queued_of("ann").await.unwrap(), 1, "{kind}");
    assert_eq!(s.count_queued_of("bob").await.unwrap(), 0, "{kind}");

    let (key, record) = browser_control::auth::keys::mint("ann", false).unwrap();
    s.add_key(&record).await.unwrap();
    let found = s
        .key_by_hash(&browser_control::auth::keys::hash(&key))
        .await
        .unwrap();
    assert_eq!(found.as_ref(), Some(&record), "{kind}");
    assert_eq!(s.key_by_hash("00").await.unwrap(), None);
    assert_eq!(s.keys().await.unwrap(), vec![record.clone()], "{kind}");
    assert!(s.revoke_key(&record.id, 42).await.unwrap(), "{kind}");
    assert!(
        !s.revoke_key(&record.id, 43).await.unwrap(),
        "{kind}: revoked once"
    );
    assert!(!s.revoke_key("key_none", 43).await.unwrap(), "{kind}");
    let revoked = s.key_by_hash(&record.hash).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(42), "{kind}");

    for (at, user) in [(10, "ann"), (20, "bob"), (30, "ann"), (40, "ann")] {
        s.audit(&AuditEntry {
            at,
            user: user.into(),
            action: "task_submitted".into(),
            target: format!("task_{at}"),
            door: "rest".into(),
            node_id: node.id.clone(),
            detail: None,
        })
        .await
        .unwrap();
    }
    let read = |user: Option<&str>, since: Option<u64>, limit: usize| AuditFilter {
        user: user.map(str::to_string),
        since,
        limit,
    };
    let targets = |entries: Vec<AuditEntry>| -> Vec<String> {
        entries.into_iter().map(|e| e.target).collect()
    };
    assert_eq!(
        targets(s.audit_log(&read(None, None, 100)).await.unwrap()),
        ["task_10", "task_20", "task_30", "task_40"],
        "{kind}"
    );
    assert_eq!(
        targets(
            s.audit_log(&read(Some("ann"), Some(20), 100))
                .await
                .unwrap()
        ),
        ["task_30", "task_40"],
        "{kind}"
    );
    assert_eq!(
        targets(s.audit_log(&read(Some("ann"), None, 2)).await.unwrap()),
        ["task_30", "task_40"],
        "{kind}: the newest of those matching"
    );
}

#[tokio::test]
async fn memory_store_conforms() {
    conformance(open("memory").await).await;
}

#[tokio::test]
async fn sqlite_store_conforms() {
    let dir = TempDir::new();
    conformance(open(&format!("sqlite://{}", dir.db().display())).await).await;
}

#[tokio::test]
async fn postgres_store_conforms() {
    let Some(db) = pg::fresh_database() else {
        return;
    };
    let store = open(db.url()).await;
    assert_eq!(store.kind(), "postgres");
    assert!(store.shared());
    conformance(store).await;
}

/// What the journal of `id` says, in order, checking its numbers run 1, 2, 3 ….
async fn journal_of(s: &dyn TaskStore, id: &str) -> Vec<Happened> {
    let journal = s.journal(id, 0).await.unwrap();
    let seqs: Vec<u64> = journal.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=journal.len() as u64).collect::<Vec<_>>(), "{id}");
    journal.into_iter().map(|e| e.what).collect()
}

// ---------------------------------------------------------------------------------------------
// The agent API's part of the conformance suite: the journal, approvals and undos, priorities,
// histories, durations, checkpoints; on every backend.

/// Claims the next task on `instance` at `at` and applies it to the scheduler's copy, as the
/// scheduler does (its journal gains `started`).
async fn claim_copy(
    s: &dyn TaskStore,
    instance: &str,
    node: &Node,
    at: u64,
    copies: &mut HashMap<String, Task>,
) -> String {
    let id = s.claim(instance, node, at).await.unwrap().unwrap();
    let copy = copies.get_mut(&id).unwrap();
    copy.start(at).unwrap();
    copy.note(Happened::Started, at);
    id
}

fn approval_for(task_id: &str, index: usize, at: u64) -> Approval {
    Approval {
        id: Approval::id_for(task_id, index),
        index,
        rule: RuleRef {
            source: RuleSource::Policy,
            index: Some(0),
            decision: Decision::Confirm,
            description: "navigation needs a yes".into(),
        },
        page_url: Some("https://example.com/form".into()),
        screenshot: Some(PNG.into()),
        requested_at: at,
        expires_at: at + 60_000,
        on_timeout: OnTimeout::Reject,
        decision: None,
        choices: None,
        message: None,
    }
}

fn history(owner: Option<&str>, limit: usize, offset: usize) -> HistoryQuery {
    HistoryQuery {
        owner: owner.map(str::to_string),
        limit,
        offset,
        ..HistoryQuery::default()
    }
}

async fn agent_api(store: Arc<dyn TaskStore>) {
    let kind = store.kind();
    let s = &*store;
    let node = s.join().await.unwrap();
    let x = s.new_instance_id().await.unwrap();
    let y = s.new_instance_id().await.unwrap();
    for id in [&x, &y] {
        s.add_instance(&instance(id, &node, true)).await.unwrap();
    }
    let mut copies: HashMap<String, Task> = HashMap::new();
    let mut at = now_ms();

    // Priorities: 0, 5, 0, 5 queued; each queued behind the running one and every task of its
    // priority or higher.
    let mut queued = Vec::new();
    for (n, priority) in [0, 5, 0, 5].into_iter().enumerate() {
        let mut t = small_task(&format!("p{n}"));
        t.priority = priority;
        let e = s
            .enqueue(t, Placement::Instance(x.clone()), 10)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            e.task.journal,
            [JournalEntry {
                seq: 1,
                at: e.task.created_at,
                what: Happened::Queued {
                    position: e.position
                }
            }],
            "{kind}: the enqueued record's journal"
        );
        queued.push((e.task.id.clone(), e.position));
        copies.insert(e.task.id.clone(), e.task);
    }
    let positions: Vec<usize> = queued.iter().map(|q| q.1).collect();
    assert_eq!(positions, [0, 0, 2, 1], "{kind}: enqueue positions");
    let ids: Vec<String> = queued.iter().map(|q| q.0.clone()).collect();
    for (id, want) in [(&ids[1], 0), (&ids[3], 1), (&ids[0], 2), (&ids[2], 3)] {
        assert_eq!(
            s.queue_position(id).await.unwrap(),
            Some(want),
            "{kind}: queue position of {id}"
        );
    }
    assert_eq!(s.queue_position("task_nope").await.unwrap(), None, "{kind}");
    assert_eq!(s.last_started_on(&x).await.unwrap(), None, "{kind}");
    assert!(
        s.recent_durations(&x, 5).await.unwrap().is_empty(),
        "{kind}"
    );
    // Claimed 5, 5, 0, 0: first in, first out within a priority. Each runs `d` ms.
    let mut claimed = Vec::new();
    for (n, d) in [100u64, 200, 300, 400].into_iter().enumerate() {
        at += 1000;
        let id = claim_copy(s, &x, &node, at, &mut copies).await;
        assert_eq!(
            s.last_started_on(&x).await.unwrap().as_deref(),
            Some(id.as_str()),
            "{kind}: last started"
        );
        assert_eq!(
            s.queue_position(&id).await.unwrap(),
            None,
            "{kind}: running"
        );
        if n == 0 {
            // The running one counts.
            assert_eq!(s.queue_position(&ids[3]).await.unwrap(), Some(1), "{kind}");
            assert_eq!(s.queue_position(&ids[2]).await.unwrap(), Some(3), "{kind}");
        }
        let copy = copies.get_mut(&id).unwrap();
        let end = Change::finish(copy, false, at + d);
        change(s, copy, end).await;
        claimed.push(id);
    }
    assert_eq!(
        claimed,
        [
            ids[1].clone(),
            ids[3].clone(),
            ids[0].clone(),
            ids[2].clone()
        ],
        "{kind}: claim order"
    );
    assert!(s.claim(&x, &node, at).await.unwrap().is_none(), "{kind}");
    assert_eq!(
        s.recent_durations(&x, 3).await.unwrap(),
        [400, 300, 200],
        "{kind}: durations, newest first"
    );
    assert_eq!(
        s.recent_durations(&x, 10).await.unwrap(),
        [400, 300, 200, 100],
        "{kind}"
    );
    assert!(
        s.recent_durations(&y, 10).await.unwrap().is_empty(),
        "{kind}"
    );
    assert_eq!(s.last_started_on(&y).await.unwrap(), None, "{kind}");
    for id in &ids {
        let journal = s.journal(id, 0).await.unwrap();
        assert_eq!(journal, copies[id].journal, "{kind}: journal of {id}");
        assert_eq!(journal.len(), 3, "{kind}: queued, started, finished");
    }

    // A whole life on Y: the journal numbers every change, approvals and undos round-trip.
    let mut life = task("life", Some(&y));
    life.conversation_id = Some("conv_life".into());
    life.context = Some(
        json!({ "z": "last", "a": { "q": [1, 2] } })
            .as_object()
            .unwrap()
            .clone(),
    );
    life.approval =
        Some(json!({ "rules": [{ "tool": "browser_navigate", "decision": "confirm" }] }));
    let e = s
        .enqueue(life, Placement::Instance(y.clone()), 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.position, 0);
    let l = e.task.id.clone();
    copies.insert(l.clone(), e.task);
    at += 1000;
    assert_eq!(claim_copy(s, &y, &node, at, &mut copies).await, l, "{kind}");
    assert_eq!(
        s.last_started_on(&y).await.unwrap().as_deref(),
        Some(l.as_str())
    );
    let copy = copies.get_mut(&l).unwrap();
    let state = Arc::new(json!({ "url": "about:blank", "cookies": [], "z": 1, "a": 2 }));
    change(
        s,
        copy,
        Change::CommandStarted {
            index: 0,
            at: at + 1,
        },
    )
    .await;
    change(
        s,
        copy,
        Change::Checkpoint {
            index: 0,
            state: Arc::new(json!({ "first": true })),
        },
    )
    .await;
    // A later checkpoint of the same command replaces it.
    change(
        s,
        copy,
        Change::Checkpoint {
            index: 0,
            state: state.clone(),
        },
    )
    .await;
    let ok = Arc::new(ToolResult::text("reloaded"));
    change(
        s,
        copy,
        Change::CommandSucceeded {
            index: 0,
            result: ok,
            at: at + 2,
        },
    )
    .await;
    let approval = approval_for(&l, 1, at + 3);
    let approval_id = approval.id.clone();
    change(
        s,
        copy,
        Change::ApprovalRequested {
            approval: Box::new(approval),
        },
    )
    .await;
    let summary = &s
        .list(&TaskFilter {
            instance_id: Some(y.clone()),
            ..TaskFilter::default()
        })
        .await
        .unwrap()[0];
    assert_eq!(summary, &copies[&l].summary(), "{kind}: summary");
    assert_eq!(summary.pending_approvals, 1, "{kind}: paused");
    assert_eq!(summary.conversation_id.as_deref(), Some("conv_life"));
    assert_same(kind, &get(s, &l).await, &copies[&l]);
    // The approver changed the arguments: the command runs with these.
    let args = json!({ "action": "forward", "timeout": 4321 });
    let parsed = parse_args(Tool::from_name("browser_navigate").unwrap(), &args).unwrap();
    let mut modified = serde_json::Map::new();
    modified.insert("timeout".into(), json!(4321));
    modified.insert("action".into(), json!("forward"));
    let decision = ApprovalDecision {
        approved: true,
        by: "ann".into(),
        at: at + 4,
        message: Some("go ahead".into()),
        modified_parameters: Some(modified),
        timed_out: false,
        choice: None,
    };
    let decided = Change::ApprovalDecided {
        approval_id: approval_id.clone(),
        decision: decision.clone(),
        args: Some(Box::new((args.clone(), parsed.clone()))),
    };
    let copy = copies.get_mut(&l).unwrap();
    change(s, copy, decided.clone()).await;
    // Decided once; an unknown approval is refused too; neither changes anything.
    assert!(
        s.record(&l, decided).await.is_err(),
        "{kind}: decided twice"
    );
    let unknown = Change::ApprovalDecided {
        approval_id: "appr_nope_1".into(),
        decision: decision.clone(),
        args: None,
    };
    assert!(
        s.record(&l, unknown).await.is_err(),
        "{kind}: unknown approval"
    );
    let back = get(s, &l).await;
    assert_same(kind, &back, &copies[&l]);
    assert_eq!(back.approvals.len(), 1, "{kind}");
    assert_eq!(
        back.approvals[0].decision.as_ref(),
        Some(&decision),
        "{kind}"
    );
    let keys: Vec<&String> = back.approvals[0]
        .decision
        .as_ref()
        .unwrap()
        .modified_parameters
        .as_ref()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(keys, ["timeout", "action"], "{kind}: key order kept");
    assert_eq!(back.commands[1].args, args, "{kind}: modified args");
    assert_eq!(
        back.commands[1].parsed, parsed,
        "{kind}: modified parsed args"
    );
    assert_eq!(back.conversation_id.as_deref(), Some("conv_life"));
    assert_eq!(back.context, copies[&l].context, "{kind}: context");
    let keys: Vec<&String> = back.context.as_ref().unwrap().keys().collect();
    assert_eq!(keys, ["z", "a"], "{kind}: context key order");
    assert_eq!(back.approval, copies[&l].approval, "{kind}: approval rules");
    assert_eq!(s.list(&TaskFilter::default()).await.unwrap().len(), 5);
    let copy = copies.get_mut(&l).unwrap();
    change(
        s,
        copy,
        Change::CommandStarted {
            index: 1,
            at: at + 5,
        },
    )
    .await;
    let result = Arc::new(ToolResult::text("forward"));
    change(
        s,
        copy,
        Change::CommandSucceeded {
            index: 1,
            result,
            at: at + 6,
        },
    )
    .await;
    let end = Change::finish(copy, false, at + 7);
    change(s, copy, end).await;
    // An undo, on the finished task.
    let undo = UndoRecord {
        id: format!("undo_{}_1", l.trim_start_matches("task_")),
        at: at + 8,
        by: "ann".into(),
        index: 0,
        restored: vec!["url".into(), "cookies".into()],
        not_restored: vec!["localStorage".into()],
        url: Some("about:blank".into()),
        forced: false,
    };
    change(s, copy, Change::Undone { undo: undo.clone() }).await;
    let back = get(s, &l).await;
    assert_same(kind, &back, &copies[&l]);
    assert_eq!(back.undos, [undo], "{kind}: undos");
    assert_eq!(back.status, TaskStatus::Completed, "{kind}");
    let whats: Vec<Happened> = s
        .journal(&l, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.what)
        .collect();
    assert_eq!(
        whats,
        [
            Happened::Queued { position: 0 },
            Happened::Started,
            Happened::StepStarted { index: 0 },
            Happened::StepSucceeded { index: 0 },
            Happened::ApprovalRequested {
                approval_id: approval_id.clone()
            },
            Happened::ApprovalDecided {
                approval_id: approval_id.clone()
            },
            Happened::StepStarted { index: 1 },
            Happened::StepSucceeded { index: 1 },
            Happened::Finished {
                status: TaskStatus::Completed
            },
            Happened::Undone {
                undo_id: back.undos[0].id.clone()
            },
        ],
        "{kind}: the journal of a whole life"
    );
    let journal = s.journal(&l, 0).await.unwrap();
    assert_eq!(
        journal, copies[&l].journal,
        "{kind}: numbered as the record"
    );
    let seqs: Vec<u64> = journal.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=10).collect::<Vec<u64>>(), "{kind}");
    assert_eq!(journal[0].at, copies[&l].created_at, "{kind}: queued at");
    assert_eq!(journal[1].at, at, "{kind}: started at");
    assert_eq!(journal[9].at, at + 8, "{kind}: undone at");
    assert_eq!(
        s.journal(&l, 6).await.unwrap(),
        journal[6..].to_vec(),
        "{kind}: after 6"
    );
    assert!(s.journal(&l, 10).await.unwrap().is_empty(), "{kind}");
    assert!(
        s.journal("task_nope", 0).await.unwrap().is_empty(),
        "{kind}"
    );
    assert_eq!(
        s.checkpoint(&l, 0).await.unwrap().as_ref(),
        Some(&*state),
        "{kind}: checkpoint"
    );
    let keys: Vec<String> = s
        .checkpoint(&l, 0)
        .await
        .unwrap()
        .unwrap()
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        keys,
        ["url", "cookies", "z", "a"],
        "{kind}: checkpoint key order"
    );
    assert_eq!(s.checkpoint(&l, 1).await.unwrap(), None, "{kind}");
    assert_eq!(s.checkpoint("task_nope", 0).await.unwrap(), None, "{kind}");

    // Histories: ann's eight and bob's one, created at known times after everything above.
    let z = s.new_instance_id().await.unwrap();
    s.add_instance(&instance(&z, &node, true)).await.unwrap();
    let base = now_ms() + 10_000_000;
    let mut h = Vec::new();
    let plan: [(&str, u64, Option<&str>); 8] = [
        ("ann", 1, Some("c1")),
        ("ann", 2, Some("c1")),
        ("ann", 3, Some("c1")),
        ("ann", 4, Some("c2")),
        ("ann", 5, None),
        ("ann", 6, None),
        ("bob", 7, Some("c1")),
        ("ann", 6, None),
    ];
    for (n, (owner, created, conversation)) in plan.into_iter().enumerate() {
        let mut t = small_task(&format!("h{n}"));
        t.owner = owner.into();
        t.created_at = base + created;
        t.conversation_id = conversation.map(str::to_string);
        let e = s
            .enqueue(t, Placement::Instance(z.clone()), 100)
            .await
            .unwrap()
            .unwrap();
        h.push(e.task.id.clone());
        copies.insert(e.task.id.clone(), e.task);
    }
    // h0 completed, h1 cancelled, h2 running and paused, h3 running; the rest queued.
    at += 1000;
    assert_eq!(claim_copy(s, &z, &node, at, &mut copies).await, h[0]);
    let copy = copies.get_mut(&h[0]).unwrap();
    let end = Change::finish(copy, false, at + 1);
    change(s, copy, end).await;
    let cancelled = s.cancel_queued(&h[1], at + 2).await.unwrap().unwrap();
    let copy = copies.get_mut(&h[1]).unwrap();
    Change::finish(copy, true, at + 2).apply(copy).unwrap();
    assert_same(kind, &cancelled, copy);
    assert_eq!(claim_copy(s, &z, &node, at + 3, &mut copies).await, h[2]);
    let copy = copies.get_mut(&h[2]).unwrap();
    let approval = approval_for(&h[2], 0, at + 4);
    change(
        s,
        copy,
        Change::ApprovalRequested {
            approval: Box::new(approval),
        },
    )
    .await;
    assert_eq!(claim_copy(s, &z, &node, at + 5, &mut copies).await, h[3]);
    for id in [&h[1], &h[2], &h[3]] {
        assert_eq!(
            s.journal(id, 0).await.unwrap(),
            copies[id].journal,
            "{kind}: journal of {id}"
        );
    }
    // h5 and h7 were created at the same time: the larger id first.
    let (h57, h75) = if h[7] > h[5] {
        (h[7].clone(), h[5].clone())
    } else {
        (h[5].clone(), h[7].clone())
    };
    let page = |tasks: &[&String], total: usize| HistoryPage {
        tasks: tasks.iter().map(|id| copies[*id].summary()).collect(),
        total,
    };
    let read = |q: HistoryQuery| {
        let store = store.clone();
        async move { store.history(&q).await.unwrap() }
    };
    let anns = history(Some("ann"), 20, 0);
    assert_eq!(
        read(anns.clone()).await,
        page(&[&h57, &h75, &h[4], &h[3], &h[2], &h[1], &h[0]], 7),
        "{kind}: ann's, newest first"
    );
    assert_eq!(
        read(history(Some("ann"), 2, 2)).await,
        page(&[&h[4], &h[3]], 7),
        "{kind}: a page"
    );
    assert_eq!(
        read(history(Some("ann"), 2, 6)).await,
        page(&[&h[0]], 7),
        "{kind}: the last page"
    );
    assert_eq!(
        read(history(Some("ann"), 2, 7)).await,
        page(&[], 7),
        "{kind}: past the end"
    );
    assert_eq!(
        read(history(Some("ann"), 0, 0)).await,
        page(&[], 7),
        "{kind}: only the count"
    );
    assert_eq!(
        read(history(Some("bob"), 20, 0)).await,
        page(&[&h[6]], 1),
        "{kind}: bob's"
    );
    assert_eq!(
        read(history(Some("nobody"), 20, 0)).await,
        page(&[], 0),
        "{kind}: nobody's"
    );
    let everyone = s.list(&TaskFilter::default()).await.unwrap().len();
    assert_eq!(everyone, 13, "{kind}");
    assert_eq!(
        read(history(None, 3, 0)).await,
        page(&[&h[6], &h57, &h75], everyone),
        "{kind}: every owner's"
    );
    let with_status = |status: HistoryStatus| HistoryQuery {
        status: Some(status),
        ..anns.clone()
    };
    for (status, want) in [
        (HistoryStatus::Paused, vec![&h[2]]),
        (HistoryStatus::Task(TaskStatus::Running), vec![&h[3]]),
        (
            HistoryStatus::Task(TaskStatus::Queued),
            vec![&h57, &h75, &h[4]],
        ),
        (HistoryStatus::Task(TaskStatus::Completed), vec![&h[0]]),
        (HistoryStatus::Task(TaskStatus::Cancelled), vec![&h[1]]),
        (HistoryStatus::Task(TaskStatus::Failed), vec![]),
    ] {
        let n = want.len();
        assert_eq!(
            read(with_status(status)).await,
            page(&want, n),
            "{kind}: ann's {status:?}"
        );
    }
    let in_conversation = |c: &str| HistoryQuery {
        conversation_id: Some(c.into()),
        ..anns.clone()
    };
    assert_eq!(
        read(in_conversation("c1")).await,
        page(&[&h[2], &h[1], &h[0]], 3),
        "{kind}: ann's in c1 (not bob's)"
    );
    assert_eq!(
        read(in_conversation("c2")).await,
        page(&[&h[3]], 1),
        "{kind}: c2"
    );
    assert_eq!(
        read(HistoryQuery {
            status: Some(HistoryStatus::Paused),
            ..in_conversation("c1")
        })
        .await,
        page(&[&h[2]], 1),
        "{kind}: paused in c1"
    );
    assert_eq!(
        read(HistoryQuery {
            conversation_id: Some("c1".into()),
            ..history(None, 20, 0)
        })
        .await,
        page(&[&h[6], &h[2], &h[1], &h[0]], 4),
        "{kind}: everyone's in c1"
    );
    let between = |from: Option<u64>, to: Option<u64>| HistoryQuery {
        created_from: from.map(|f| base + f),
        created_to: to.map(|t| base + t),
        ..anns.clone()
    };
    assert_eq!(
        read(between(Some(2), Some(4))).await,
        page(&[&h[3], &h[2], &h[1]], 3),
        "{kind}: created from 2 to 4, both included"
    );
    assert_eq!(
        read(between(Some(5), None)).await,
        page(&[&h57, &h75, &h[4]], 3),
        "{kind}: from 5"
    );
    assert_eq!(
        read(between(None, Some(1))).await,
        page(&[&h[0]], 1),
        "{kind}: up to 1"
    );
    assert_eq!(
        read(HistoryQuery {
            limit: 1,
            offset: 1,
            ..between(Some(1), Some(3))
        })
        .await,
        page(&[&h[1]], 3),
        "{kind}: a page of a range"
    );

    // Retention takes the journal and the checkpoints with their task.
    for id in [&h[2], &h[3]] {
        let copy = copies.get_mut(id).unwrap();
        let end = Change::finish(copy, true, at + 10);
        change(s, copy, end).await;
    }
    let finished = s
        .list(&TaskFilter::default())
        .await
        .unwrap()
        .iter()
        .filter(|t| t.status.is_finished())
        .count();
    assert_eq!(finished, 9, "{kind}");
    let dropped = s
        .enforce_retention(
            &Retention {
                keep_finished: 0,
                ..Default::default()
            },
            at + 11,
        )
        .await
        .unwrap();
    assert_eq!(dropped, finished, "{kind}: every finished task dropped");
    let page = |tasks: &[&String], total: usize| HistoryPage {
        tasks: tasks.iter().map(|id| copies[*id].summary()).collect(),
        total,
    };
    assert!(s.get(&l).await.unwrap().is_none(), "{kind}");
    assert!(
        s.journal(&l, 0).await.unwrap().is_empty(),
        "{kind}: journal dropped"
    );
    assert_eq!(
        s.checkpoint(&l, 0).await.unwrap(),
        None,
        "{kind}: checkpoint dropped"
    );
    for id in ids.iter().chain(&h[..4]) {
        assert!(s.journal(id, 0).await.unwrap().is_empty(), "{kind}: {id}");
    }
    assert_eq!(
        read(anns).await,
        page(&[&h57, &h75, &h[4]], 3),
        "{kind}: ann's after retention"
    );
    assert_eq!(s.journal(&h[4], 0).await.unwrap(), copies[&h[4]].journal);
    s.leave(&node).await.unwrap();
}

#[tokio::test]
async fn memory_store_serves_the_agent_api() {
    agent_api(open("memory").await).await;
}

#[tokio::test]
async fn sqlite_store_serves_the_agent_api() {
    let dir = TempDir::new();
    agent_api(open(&format!("sqlite://{}", dir.db().display())).await).await;
}

#[tokio::test]
async fn postgres_store_serves_the_agent_api() {
    let Some(db) = pg::fresh_database() else {
        return;
    };
    agent_api(open(db.url()).await).await;
}

// ---------------------------------------------------------------------------------------------
// SQLite across runs

#[tokio::test]
async fn keys_made_beside_a_running_sqlite_store_are_known_to_it() {
    let dir = TempDir::new();
    let url: StoreUrl = format!("sqlite://{}", dir.db().display()).parse().unwrap();
    let runner = open(&url.to_string()).await;
    // `browser-control keys` while the server holds the file.
    let accounts = store::open_accounts(&url).await.unwrap();
    let (key, record) = browser_control::auth::keys::mint("bob", true).unwrap();
    accounts.add_key(&record).await.unwrap();
    let seen = runner
        .key_by_hash(&browser_control::auth::keys::hash(&key))
        .await
        .unwrap();
    assert_eq!(seen, Some(record.clone()));
    assert!(accounts.revoke_key(&record.id, 7).await.unwrap());
    assert_eq!(
        runner
            .key_by_hash(&record.hash)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(7)
    );
    // The memory store keeps nothing: keys there are refused, with the reason.
    let err = store::open_accounts(&StoreUrl::Memory).await.err().unwrap();
    assert!(format!("{err:#}").contains("keeps nothing"), "{err:#}");
}

#[tokio::test]
async fn sqlite_keeps_everything_across_a_reopen() {
    let dir = TempDir::new();
    let url = format!("sqlite://{}", dir.db().display());
    let clock = Clock::new();
    let (done, queued) = {
        let s = open(&url).await;
        let node = s.join().await.unwrap();
        let inst = s.new_instance_id().await.unwrap();
        s.add_instance(&instance(&inst, &node, false))
            .await
            .unwrap();
        let mut done = s
            .enqueue(task("done", None), Placement::LeastLoaded, 10)
            .await
            .unwrap()
            .unwrap()
            .task;
        let queued = s
            .enqueue(task("queued", None), Placement::LeastLoaded, 10)
            .await
            .unwrap()
            .unwrap()
            .task;
        let at = clock.tick();
        s.claim(&inst, &node, at).await.unwrap().unwrap();
        done.start(at).unwrap();
        change(
            &*s,
            &mut done,
            Change::CommandStarted {
                index: 0,
                at: clock.tick(),
            },
        )
        .await;
        let result = Arc::new(rich_result());
        change(
            &*s,
            &mut done,
            Change::CommandSucceeded {
                index: 0,
                result,
                at: clock.tick(),
            },
        )
        .await;
        change(
            &*s,
            &mut done,
            Change::CommandStarted {
                index: 1,
                at: clock.tick(),
            },
        )
        .await;
        let error = CommandError::execution("boom");
        let at = clock.tick();
        change(
            &*s,
            &mut done,
            Change::CommandFailed {
                index: 1,
                error,
                at,
            },
        )
        .await;
        let png = Arc::new(PNG.to_string());
        change(&*s, &mut done, Change::FailureScreenshot { index: 1, png }).await;
        let end = Change::finish(&done, false, clock.tick());
        change(&*s, &mut done, end).await;
        (done, queued)
    };
    // Dropped: the lock is released, the file stays.
    let s = open(&url).await;
    assert_same("sqlite reopened", &get(&*s, &done.id).await, &done);
    assert_same("sqlite reopened", &get(&*s, &queued.id).await, &queued);
    assert_eq!(s.list(&filter(None, None)).await.unwrap().len(), 2);
}

#[tokio::test]
async fn sqlite_refuses_a_second_runner_on_the_same_file() {
    let dir = TempDir::new();
    let url: StoreUrl = format!("sqlite://{}", dir.db().display()).parse().unwrap();
    let _first = store::open(&url, Retention::default()).await.unwrap();
    let err = match store::open(&url, Retention::default()).await {
        Ok(_) => panic!("a second open of the same file succeeded"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("another browser-control runner"), "{err}");
    assert!(err.contains(&dir.db().display().to_string()), "{err}");
}

#[tokio::test]
async fn sqlite_recovers_what_a_crashed_run_left() {
    let dir = TempDir::new();
    let url = format!("sqlite://{}", dir.db().display());
    let clock = Clock::new();
    // The run that crashes: two instances, a task running on the first, two queued on the
    // second (one named it, one did not).
    let (running, unbound, bound, first) = {
        let s = open(&url).await;
        let node = s.join().await.unwrap();
        let first = s.new_instance_id().await.unwrap();
        let second = s.new_instance_id().await.unwrap();
        s.add_instance(&instance(&first, &node, false))
            .await
            .unwrap();
        s.add_instance(&instance(&second, &node, false))
            .await
            .unwrap();
        let mut running = s
            .enqueue(
                task("running", None),
                Placement::Instance(first.clone()),
                10,
            )
            .await
            .unwrap()
            .unwrap()
            .task;
        let unbound = s
            .enqueue(
                task("unbound", None),
                Placement::Instance(second.clone()),
                10,
            )
            .await
            .unwrap()
            .unwrap()
            .task;
        let bound = s
            .enqueue(
                task("bound", Some(&second)),
                Placement::Instance(second.clone()),
                10,
            )
            .await
            .unwrap()
            .unwrap()
            .task;
        let at = clock.tick();
        s.claim(&first, &node, at).await.unwrap().unwrap();
        running.start(at).unwrap();
        change(
            &*s,
            &mut running,
            Change::CommandStarted {
                index: 0,
                at: clock.tick(),
            },
        )
        .await;
        (running, unbound, bound, first)
        // Dropped without leaving: a crash.
    };
    let s = open(&url).await;
    let node = s.join().await.unwrap();
    // The first instance is back (same id), the second is not.
    let again = s.new_instance_id().await.unwrap();
    assert_eq!(again, first);
    s.add_instance(&instance(&again, &node, false))
        .await
        .unwrap();
    let now = clock.tick();
    let recovered = s.recover(&node, Duration::from_secs(5), now).await.unwrap();
    let failed: Vec<&str> = recovered.failed.iter().map(|t| t.id.as_str()).collect();
    let requeued: Vec<&str> = recovered.requeued.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(failed, [running.id.as_str(), bound.id.as_str()]);
    assert_eq!(requeued, [unbound.id.as_str()]);

    let r = get(&*s, &running.id).await;
    assert_eq!(r.status, TaskStatus::Failed);
    let e = r.error.clone().unwrap();
    assert_eq!(e.code, ErrorCode::InstanceDisconnected);
    assert!(
        e.message.contains("stopped while this task ran"),
        "{}",
        e.message
    );
    assert_eq!(
        e.command_id.as_deref(),
        Some(running.commands[0].id.as_str())
    );
    assert_eq!(r.commands[0].status, CommandStatus::Error);
    assert_eq!(r.commands[1].status, CommandStatus::Skipped);
    assert_eq!(r.completed_at, Some(now));
    assert_same("sqlite recovered", &recovered.failed[0], &r);
    assert_eq!(
        journal_of(&*s, &running.id).await,
        [
            Happened::Queued { position: 0 },
            Happened::Started,
            Happened::StepStarted { index: 0 },
            Happened::StepFailed { index: 0 },
            Happened::Finished {
                status: TaskStatus::Failed
            }
        ],
        "journals survive a restart, and recovery adds to them"
    );
    assert_eq!(
        journal_of(&*s, &bound.id).await,
        [
            Happened::Queued { position: 1 },
            Happened::Finished {
                status: TaskStatus::Failed
            }
        ]
    );
    assert_eq!(
        journal_of(&*s, &unbound.id).await,
        [Happened::Queued { position: 0 }],
        "moved, not changed"
    );

    let b = get(&*s, &bound.id).await;
    assert_eq!(b.status, TaskStatus::Failed);
    assert_eq!(b.error.unwrap().code, ErrorCode::InstanceDisconnected);

    let u = get(&*s, &unbound.id).await;
    assert_eq!(u.status, TaskStatus::Queued);
    assert_eq!(u.instance_id, first);
    let claimed = s.claim(&first, &node, clock.tick()).await.unwrap().unwrap();
    assert_eq!(claimed, unbound.id, "the moved task runs");
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL: several runners, one queue

async fn runner(url: &str) -> (Arc<dyn TaskStore>, Node, String) {
    let s = PostgresStore::open(url).await.unwrap();
    let node = s.join().await.unwrap();
    let inst = s.new_instance_id().await.unwrap();
    s.add_instance(&instance(&inst, &node, false))
        .await
        .unwrap();
    (s, node, inst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_runners_share_one_queue_and_claim_each_task_once() {
    let Some(db) = pg::fresh_database() else {
        return;
    };
    let (a, node_a, inst_a) = runner(db.url()).await;
    let (b, node_b, inst_b) = runner(db.url()).await;
    assert_ne!(node_a.id, node_b.id);
    assert_ne!(node_a.number, node_b.number);
    assert_eq!(node_a.id, format!("node_{}", node_a.number));
    assert_ne!(inst_a, inst_b);
    let info = a.cluster().await.unwrap();
    assert_eq!((info.nodes, info.instances), (2, 2));

    // 300 tasks, queued from both runners at once.
    let mut queueing = Vec::new();
    for (s, name) in [(a.clone(), "a"), (b.clone(), "b")] {
        queueing.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for n in 0..150 {
                let e = s
                    .enqueue(
                        small_task(&format!("{name}{n}")),
                        Placement::LeastLoaded,
                        1000,
                    )
                    .await
                    .unwrap()
                    .unwrap();
                ids.push((e.task.id, e.task.instance_id));
            }
            ids
        }));
    }
    let mut queued = Vec::new();
    for q in queueing {
        queued.extend(q.await.unwrap());
    }
    assert_eq!(queued.len(), 300);
    let on_a = queued.iter().filter(|(_, i)| *i == inst_a).count();
    assert!((140..=160).contains(&on_a), "spread over both: {on_a} on A");

    // Both runners claim from both instances, two loops each, until nothing is left.
    let claimed = Arc::new(Mutex::new(Vec::new()));
    let mut loops = Vec::new();
    for (s, node) in [(a.clone(), node_a.clone()), (b.clone(), node_b.clone())] {
        for inst in [inst_a.clone(), inst_b.clone()] {
            for _ in 0..2 {
                let (s, node, inst, claimed) =
                    (s.clone(), node.clone(), inst.clone(), claimed.clone());
                loops.push(tokio::spawn(async move {
                    while let Some(id) = s.claim(&inst, &node, now_ms()).await.unwrap() {
                        let mut t = s.get(&id).await.unwrap().unwrap();
                        assert_eq!(t.status, TaskStatus::Running);
                        claimed
                            .lock()
                            .unwrap()
                            .push((t.id.clone(), node.id.clone()));
                        // Recorded without waiting, as a worker does, then all awaited.
                        let at = now_ms();
                        let result = Arc::new(ToolResult::text("ok"));
                        let mut pending = Vec::new();
                        for ch in [
                            Change::CommandStarted { index: 0, at },
                            Change::CommandSucceeded {
                                index: 0,
                                result,
                                at,
                            },
                        ] {
                            ch.apply(&mut t).unwrap();
                            pending.push(s.record(&t.id, ch));
                        }
                        pending.push(s.record(&t.id, Change::finish(&t, false, at)));
                        for done in futures::future::join_all(pending).await {
                            done.unwrap();
                        }
                    }
                }));
            }
        }
    }
    for l in loops {
        l.await.unwrap();
    }
    let claimed = claimed.lock().unwrap().clone();
    let distinct: HashSet<&String> = claimed.iter().map(|(id, _)| id).collect();
    assert_eq!(claimed.len(), 300, "claims");
    assert_eq!(distinct.len(), 300, "every task claimed exactly once");
    let wanted: HashSet<&String> = queued.iter().map(|(id, _)| id).collect();
    assert_eq!(distinct, wanted, "none lost");
    let by_a = claimed.iter().filter(|(_, n)| *n == node_a.id).count();
    eprintln!("runner A claimed {by_a}, runner B {}", 300 - by_a);
    let counts: HashMap<TaskStatus, usize> =
        b.count_by_status().await.unwrap().into_iter().collect();
    assert_eq!(counts[&TaskStatus::Completed], 300);
    assert_eq!(
        counts[&TaskStatus::Queued] + counts[&TaskStatus::Running],
        0
    );
    for (id, _) in queued.iter().take(10) {
        let t = get(&*a, id).await;
        assert_eq!(t.status, TaskStatus::Completed);
        assert_eq!(t.commands[0].result, Some(ToolResult::text("ok")));
    }
    drop((a, b));
}

/// Waits for a signal that `wanted` accepts; panics after a few seconds.
async fn hear(
    signals: &mut futures::stream::BoxStream<'static, Signal>,
    what: &str,
    wanted: impl Fn(&Signal) -> bool,
) -> Signal {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, signals.next()).await {
            Ok(Some(s)) if wanted(&s) => return s,
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the signal stream ended waiting for {what}"),
            Err(_) => panic!("no signal for {what} within 10 s"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_runner_hears_what_another_did() {
    let Some(db) = pg::fresh_database() else {
        return;
    };
    let (a, node_a, inst_a) = runner(db.url()).await;
    let (b, _node_b, _inst_b) = runner(db.url()).await;
    let mut heard = b.signals().await.unwrap().expect("a shared store signals");

    let t = a
        .enqueue(small_task("heard"), Placement::Instance(inst_a.clone()), 10)
        .await
        .unwrap()
        .unwrap()
        .task;
    hear(&mut heard, "queued", |s| {
        *s == Signal::Queued {
            instance_id: inst_a.clone(),
        }
    })
    .await;
    let changed = |s: &Signal| {
        *s == Signal::TaskChanged {
            task_id: t.id.clone(),
            by: node_a.id.clone(),
        }
    };
    hear(&mut heard, "queued task", changed).await;
    let claimed = a.claim(&inst_a, &node_a, now_ms()).await.unwrap().unwrap();
    assert_eq!(claimed, t.id);
    let mut running = get(&*a, &t.id).await;
    hear(&mut heard, "claimed task", changed).await;
    // What B reads after hearing is what A committed.
    assert_eq!(get(&*b, &t.id).await.status, TaskStatus::Running);
    let at = now_ms();
    change(&*a, &mut running, Change::CommandStarted { index: 0, at }).await;
    hear(&mut heard, "command started", changed).await;
    assert_eq!(
        get(&*b, &t.id).await.commands[0].status,
        CommandStatus::Running
    );
    a.request_cancel(&t.id).await.unwrap();
    hear(&mut heard, "cancel request", |s| {
        *s == Signal::CancelRequested {
            task_id: t.id.clone(),
        }
    })
    .await;
    let end = Change::finish(&running, true, now_ms());
    change(&*a, &mut running, end).await;
    hear(&mut heard, "finished", changed).await;
    assert_same("postgres, read by B", &get(&*b, &t.id).await, &running);
    let extra = a.new_instance_id().await.unwrap();
    a.add_instance(&instance(&extra, &node_a, true))
        .await
        .unwrap();
    hear(&mut heard, "instance added", |s| {
        *s == Signal::InstancesChanged
    })
    .await;

    // The listening connection is cut: the stream says so (re-read the store), then carries on.
    let admin = sqlx::PgPool::connect(db.url()).await.unwrap();
    let (cut,): (i64,) = sqlx::query_as(
        "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .fetch_one(&admin)
    .await
    .unwrap();
    assert_eq!(cut, 1, "one listener");
    hear(&mut heard, "reconnect", |s| *s == Signal::InstancesChanged).await;
    // Listening again (the LISTEN runs before the signal is yielded).
    let t2 = a
        .enqueue(small_task("after"), Placement::Instance(inst_a.clone()), 10)
        .await
        .unwrap()
        .unwrap()
        .task;
    hear(&mut heard, "queued after the reconnect", |s| {
        *s == Signal::TaskChanged {
            task_id: t2.id.clone(),
            by: node_a.id.clone(),
        }
    })
    .await;
    admin.close().await;
    drop(heard);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_recovers_a_lost_runner() {
    let Some(db) = pg::fresh_database() else {
        return;
    };
    let (a, node_a, inst_a) = runner(db.url()).await;
    let (b, node_b, inst_b) = runner(db.url()).await;
    let (c, node_c, inst_c) = runner(db.url()).await;
    // C's instance is private: what moves goes to B's.
    c.add_instance(&instance(&inst_c, &node_c, true))
        .await
        .unwrap();
    let mut heard = b.signals().await.unwrap().unwrap();

    let mut running = a
        .enqueue(
            task("running", None),
            Placement::Instance(inst_a.clone()),
            10,
        )
        .await
        .unwrap()
        .unwrap()
        .task;
    let at = now_ms();
    let claimed = a.claim(&inst_a, &node_a, at).await.unwrap().unwrap();
    assert_eq!(claimed, running.id);
    running.start(at).unwrap();
    change(
        &*a,
        &mut running,
        Change::CommandStarted {
            index: 0,
            at: now_ms(),
        },
    )
    .await;
    let unbound = a
        .enqueue(
            task("unbound", None),
            Placement::Instance(inst_a.clone()),
            10,
        )
        .await
        .unwrap()
        .unwrap()
        .task;
    let bound = a
        .enqueue(
            task("bound", Some(&inst_a)),
            Placement::Instance(inst_a.clone()),
            10,
        )
        .await
        .unwrap()
        .unwrap()
        .task;

    // A stops heartbeating; B and C do, and past the lease both reap at once.
    let lease = Duration::from_millis(300);
    tokio::time::sleep(Duration::from_millis(500)).await;
    b.heartbeat(&node_b).await.unwrap();
    c.heartbeat(&node_c).await.unwrap();
    let now = now_ms();
    let (rb, rc) = tokio::join!(
        b.recover(&node_b, lease, now),
        c.recover(&node_c, lease, now)
    );
    let (rb, rc) = (rb.unwrap(), rc.unwrap());
    let failed: Vec<&Task> = rb.failed.iter().chain(&rc.failed).collect();
    let requeued: Vec<&Task> = rb.requeued.iter().chain(&rc.requeued).collect();
    let mut failed_ids: Vec<&str> = failed.iter().map(|t| t.id.as_str()).collect();
    failed_ids.sort();
    let mut want = vec![running.id.as_str(), bound.id.as_str()];
    want.sort();
    assert_eq!(failed_ids, want, "each failed once");
    assert_eq!(requeued.len(), 1, "requeued once");

    let lost = format!("runner {} was lost", node_a.id);
    let r = get(&*b, &running.id).await;
    assert_eq!(r.status, TaskStatus::Failed);
    let e = r.error.clone().unwrap();
    assert_eq!(
        (e.code, e.message.as_str()),
        (ErrorCode::InstanceDisconnected, lost.as_str())
    );
    assert_eq!(
        e.command_id.as_deref(),
        Some(running.commands[0].id.as_str())
    );
    assert_eq!(r.commands[0].status, CommandStatus::Error);
    assert_eq!(r.commands[0].error.as_ref().unwrap().message, lost);
    assert_eq!(r.commands[1].status, CommandStatus::Skipped);
    assert_eq!(r.completed_at, Some(now));
    // The record returned is the final one.
    let returned = failed.iter().find(|t| t.id == running.id).unwrap();
    assert_same("postgres recovered", returned, &r);
    // The scheduler's copy, with the same changes, is the same record.
    for ch in Change::lost(
        &running,
        CommandError::new(ErrorCode::InstanceDisconnected, lost.clone()),
        now,
    ) {
        ch.apply(&mut running).unwrap();
    }
    assert_same("postgres recovered", &r, &running);
    // The journal, on any runner: queued, started, the command, then the failure.
    assert_eq!(
        journal_of(&*b, &running.id).await,
        [
            Happened::Queued { position: 0 },
            Happened::Started,
            Happened::StepStarted { index: 0 },
            Happened::StepFailed { index: 0 },
            Happened::Finished {
                status: TaskStatus::Failed
            }
        ]
    );
    assert_eq!(
        journal_of(&*c, &bound.id).await,
        [
            Happened::Queued { position: 2 },
            Happened::Finished {
                status: TaskStatus::Failed
            }
        ]
    );

    let bd = get(&*b, &bound.id).await;
    assert_eq!(bd.status, TaskStatus::Failed);
    assert_eq!(
        bd.error.unwrap().message,
        format!("runner {} was lost with instance {inst_a}", node_a.id)
    );
    assert!(bd
        .commands
        .iter()
        .all(|c| c.status == CommandStatus::Skipped));

    let u = get(&*b, &unbound.id).await;
    assert_eq!(u.status, TaskStatus::Queued);
    assert_eq!(u.instance_id, inst_b, "moved to the live shared instance");
    assert_eq!(requeued[0].instance_id, inst_b);
    hear(&mut heard, "moved task queued", |s| {
        *s == Signal::Queued {
            instance_id: inst_b.clone(),
        }
    })
    .await;
    hear(&mut heard, "runner left", |s| {
        *s == Signal::InstancesChanged
    })
    .await;
    let claimed = b.claim(&inst_b, &node_b, now_ms()).await.unwrap().unwrap();
    assert_eq!(claimed, unbound.id, "the moved task runs on B");

    // A is out of the cluster; it hears so at its next heartbeat, and cannot rewrite what was
    // ended for it.
    let info = b.cluster().await.unwrap();
    assert_eq!((info.nodes, info.instances), (2, 2));
    assert!(!b.instances().await.unwrap().iter().any(|i| i.id == inst_a));
    let err = a.heartbeat(&node_a).await.unwrap_err().to_string();
    assert!(err.contains("declared it lost"), "{err}");
    let late = a
        .record(
            &running.id,
            Change::CommandSucceeded {
                index: 0,
                result: Arc::new(ToolResult::text("late")),
                at: now_ms(),
            },
        )
        .await;
    assert!(late.is_err(), "a lost runner's late change is refused");
    assert_same(
        "postgres after a late change",
        &get(&*b, &running.id).await,
        &r,
    );
    // Nothing left to recover.
    let again = b.recover(&node_b, lease, now_ms()).await.unwrap();
    assert!(again.failed.is_empty() && again.requeued.is_empty());

    // A runner that leaves with a task still running: that task is failed too.
    c.leave(&node_c).await.unwrap();
    let (c2, node_c2, inst_c2) = runner(db.url()).await;
    c2.enqueue(
        small_task("orphan"),
        Placement::Instance(inst_c2.clone()),
        10,
    )
    .await
    .unwrap()
    .unwrap();
    let orphan = c2
        .claim(&inst_c2, &node_c2, now_ms())
        .await
        .unwrap()
        .unwrap();
    c2.leave(&node_c2).await.unwrap();
    let r = b.recover(&node_b, lease, now_ms()).await.unwrap();
    assert_eq!(r.failed.len(), 1);
    assert_eq!(r.failed[0].id, orphan);
    assert_eq!(
        r.failed[0].error.as_ref().unwrap().message,
        format!("runner {} was lost", node_c2.id)
    );
    drop((a, b, c, c2, heard));
}

#[tokio::test]
async fn postgres_refuses_a_newer_schema() {
    let Some(db) = pg::fresh_database() else {
        return;
    };
    drop(PostgresStore::open(db.url()).await.unwrap());
    let admin = sqlx::PgPool::connect(db.url()).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (9999, 'from the future', TRUE, '\\x00', 0)",
    )
    .execute(&admin)
    .await
    .unwrap();
    admin.close().await;
    let err = match PostgresStore::open(db.url()).await {
        Ok(_) => panic!("a newer schema was accepted"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("schema version 9999"), "{err}");
    assert!(
        err.contains("newer than this browser-control knows (4)"),
        "{err}"
    );
}

#[tokio::test]
async fn postgres_connection_errors_name_the_store_without_its_password() {
    // Nothing listens on port 1.
    let err = match PostgresStore::open("postgres://bc:hunter2@127.0.0.1:1/bc").await {
        Ok(_) => panic!("connected to port 1"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains("cannot connect to the task store postgres://bc:***@127.0.0.1:1/bc"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
}

/// A task that waited for a person when its runner was lost (past the lease) or left (a
/// SIGTERM) goes back to a queue with what it did and its request, instead of failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_requeues_what_waited_for_a_person() {
    let Some(db) = pg::fresh_database() else {
        return;
    };
    let (a, node_a, inst_a) = runner(db.url()).await;
    let (b, node_b, inst_b) = runner(db.url()).await;
    let (c, node_c, inst_c) = runner(db.url()).await;
    let mut waiting = Vec::new();
    for (s, node, inst) in [(&a, &node_a, &inst_a), (&c, &node_c, &inst_c)] {
        let mut t = s
            .enqueue(task("waits", None), Placement::Instance(inst.clone()), 10)
            .await
            .unwrap()
            .unwrap()
            .task;
        let at = now_ms();
        assert_eq!(s.claim(inst, node, at).await.unwrap().unwrap(), t.id);
        t.start(at).unwrap();
        t.note(Happened::Started, at);
        let at = now_ms();
        change(&**s, &mut t, Change::CommandStarted { index: 0, at }).await;
        let ok = Arc::new(ToolResult::text("reloaded"));
        change(
            &**s,
            &mut t,
            Change::CommandSucceeded {
                index: 0,
                result: ok,
                at,
            },
        )
        .await;
        let approval = approval_for(&t.id, 1, at);
        change(
            &**s,
            &mut t,
            Change::ApprovalRequested {
                approval: Box::new(approval.clone()),
            },
        )
        .await;
        let approval_id = approval.id;
        change(&**s, &mut t, Change::Paused { approval_id, at }).await;
        assert_eq!(t.resume_point(), Some(1));
        waiting.push(t);
    }
    // A is lost (no heartbeat within the lease); C leaves as a SIGTERM does.
    c.leave(&node_c).await.unwrap();
    let lease = Duration::from_millis(300);
    tokio::time::sleep(Duration::from_millis(500)).await;
    b.heartbeat(&node_b).await.unwrap();
    let recovered = b.recover(&node_b, lease, now_ms()).await.unwrap();
    assert!(recovered.failed.is_empty(), "{:?}", recovered.failed);
    let mut requeued: Vec<&str> = recovered.requeued.iter().map(|t| t.id.as_str()).collect();
    requeued.sort();
    let mut want: Vec<&str> = waiting.iter().map(|t| t.id.as_str()).collect();
    want.sort();
    assert_eq!(requeued, want, "both back in a queue, once");
    for t in &waiting {
        let back = get(&*b, &t.id).await;
        assert_eq!(back.status, TaskStatus::Queued);
        assert_eq!(back.instance_id, inst_b, "on an instance that is there");
        assert_eq!(
            back.commands[0].status,
            CommandStatus::Success,
            "what it did is kept"
        );
        assert!(
            back.approvals[0].decision.is_none(),
            "its request still waits"
        );
        assert_eq!(
            journal_of(&*b, &t.id).await.last(),
            Some(&Happened::Requeued)
        );
    }
    // B takes them; each goes on where it was, started when it first started.
    for _ in 0..2 {
        let id = b.claim(&inst_b, &node_b, now_ms()).await.unwrap().unwrap();
        let t = get(&*b, &id).await;
        let first = waiting.iter().find(|w| w.id == id).unwrap();
        assert_eq!(t.status, TaskStatus::Running);
        assert_eq!(t.started_at, first.started_at);
        assert_eq!(t.resume_point(), Some(1));
    }
}
