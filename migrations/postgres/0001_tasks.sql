-- The PostgreSQL store: the tables of migrations/sqlite/0001_tasks.sql, shared by every runner.
-- Times are BIGINT unix milliseconds, from the runners' clocks. JSON (metadata, args, results,
-- errors) is TEXT, not JSONB: JSONB reorders object keys, and metadata keeps the order clients
-- sent. Ids are compared byte by byte (COLLATE "C"), as SQLite does, whatever the database's
-- locale: listings and ties order the same on every backend.

-- Runners sharing this store: their number is part of the task ids they mint.
CREATE TABLE nodes (
    number       BIGSERIAL PRIMARY KEY,
    id           TEXT COLLATE "C" NOT NULL UNIQUE,
    started_at   BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL
);

-- Every runner's instances (any runner may queue tasks on any shared one).
CREATE TABLE instances (
    id      TEXT COLLATE "C" PRIMARY KEY,
    node_id TEXT COLLATE "C" NOT NULL,
    private BOOLEAN NOT NULL DEFAULT FALSE
);

-- Instance ids (`inst_N`), unique across the cluster.
CREATE SEQUENCE instance_ids;

-- One row per task; `seq` is the queue order.
CREATE TABLE tasks (
    seq                   BIGSERIAL PRIMARY KEY,
    id                    TEXT COLLATE "C" NOT NULL UNIQUE,
    owner                 TEXT,
    instance_id           TEXT COLLATE "C" NOT NULL,
    requested_instance    TEXT COLLATE "C",
    node_id               TEXT COLLATE "C",
    status                TEXT NOT NULL,
    priority              BIGINT NOT NULL DEFAULT 0,
    name                  TEXT NOT NULL,
    intention             TEXT NOT NULL,
    current_command_index BIGINT NOT NULL DEFAULT 0,
    created_at            BIGINT NOT NULL,
    started_at            BIGINT,
    completed_at          BIGINT,
    metadata              TEXT,
    error                 TEXT,
    artifact_bytes        BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX tasks_by_status   ON tasks (status, seq);
CREATE INDEX tasks_by_instance ON tasks (instance_id, status, seq);
CREATE INDEX tasks_by_owner    ON tasks (owner, created_at);
CREATE INDEX tasks_by_created  ON tasks (created_at);
CREATE INDEX tasks_by_finish   ON tasks (completed_at) WHERE completed_at IS NOT NULL;

CREATE TABLE commands (
    task_id      TEXT COLLATE "C" NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    idx          BIGINT NOT NULL,
    id           TEXT NOT NULL,
    tool_name    TEXT NOT NULL,
    intention    TEXT NOT NULL,
    args         TEXT NOT NULL,
    status       TEXT NOT NULL,
    started_at   BIGINT,
    completed_at BIGINT,
    result       TEXT,
    error        TEXT,
    PRIMARY KEY (task_id, idx)
);

-- Screenshots and PDFs, once, as bytes: item is the place in the result's content.
CREATE TABLE artifacts (
    task_id     TEXT COLLATE "C" NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    command_idx BIGINT NOT NULL,
    item        BIGINT NOT NULL,
    mime_type   TEXT NOT NULL,
    bytes       BYTEA NOT NULL,
    PRIMARY KEY (task_id, command_idx, item)
);
