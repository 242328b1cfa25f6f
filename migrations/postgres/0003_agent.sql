-- The agent API (docs/agent-api.md): a task's conversation, context and approval rules, its
-- requests for approval and their answers, its undos, and how many requests wait (a paused
-- task). JSON is TEXT, not JSONB (key order is kept), as elsewhere. `journal_seq` is the number
-- of the task's last journal entry: the next one is journal_seq + 1, taken by an UPDATE of the
-- task's row (which also serializes every writer of one task's journal).
ALTER TABLE tasks ADD COLUMN conversation_id   TEXT COLLATE "C";
ALTER TABLE tasks ADD COLUMN context           TEXT;
ALTER TABLE tasks ADD COLUMN approval          TEXT;
ALTER TABLE tasks ADD COLUMN approvals         TEXT   NOT NULL DEFAULT '[]';
ALTER TABLE tasks ADD COLUMN undos             TEXT   NOT NULL DEFAULT '[]';
ALTER TABLE tasks ADD COLUMN pending_approvals BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN journal_seq       BIGINT NOT NULL DEFAULT 0;

-- What happened to each task, numbered 1, 2, 3 … within it; `what` is a `Happened` as JSON.
CREATE TABLE task_journal (
    task_id TEXT COLLATE "C" NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    seq     BIGINT NOT NULL,
    at      BIGINT NOT NULL,
    what    TEXT   NOT NULL,
    PRIMARY KEY (task_id, seq)
);

-- The state before command `idx` of a task (for undo), as JSON; not part of the record.
CREATE TABLE checkpoints (
    task_id TEXT COLLATE "C" NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    idx     BIGINT NOT NULL,
    state   TEXT   NOT NULL,
    PRIMARY KEY (task_id, idx)
);

-- The queue: the highest priority first, then the oldest (it also counts an instance's queue).
DROP INDEX tasks_by_instance;
CREATE INDEX tasks_by_queue ON tasks (instance_id, status, priority DESC, seq);
-- Histories, newest first: a user's, and a user's within one conversation.
DROP INDEX tasks_by_owner;
CREATE INDEX tasks_by_owner_history ON tasks (owner, created_at DESC, id DESC);
CREATE INDEX tasks_by_conversation  ON tasks (owner, conversation_id, created_at DESC, id DESC);
-- An instance's latest started and finished tasks (last_started_on, recent_durations).
CREATE INDEX tasks_by_instance_start  ON tasks (instance_id, started_at)
    WHERE started_at IS NOT NULL;
CREATE INDEX tasks_by_instance_finish ON tasks (instance_id, completed_at)
    WHERE completed_at IS NOT NULL;
