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
    self, AuditEntry, AuditFilter, Change, EnqueueError, InstanceRecord, Node, Placement,
    Retention, Signal, StoreUrl, TaskFilter, TaskStore,
};
use browser_control::task::{
    now_ms, validate_submission, CommandError, CommandStatus, Content, Door, EmbeddedResource,
    ErrorCode, Task, TaskStatus, TaskSummary, ToolResult,
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
        err.contains("newer than this browser-control knows (2)"),
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
