-- Runners that used this store (one at a time for SQLite): their number is part of task ids.
CREATE TABLE nodes (
    number       INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT    NOT NULL UNIQUE,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL
);

CREATE TABLE instances (
    id      TEXT    PRIMARY KEY,
    node_id TEXT    NOT NULL,
    private INTEGER NOT NULL DEFAULT 0
);

-- One row per task; `seq` is the queue order.
CREATE TABLE tasks (
    seq                   INTEGER PRIMARY KEY AUTOINCREMENT,
    id                    TEXT    NOT NULL UNIQUE,
    owner                 TEXT,
    instance_id           TEXT    NOT NULL,
    requested_instance    TEXT,
    node_id               TEXT,
    status                TEXT    NOT NULL,
    priority              INTEGER NOT NULL DEFAULT 0,
    name                  TEXT    NOT NULL,
    intention             TEXT    NOT NULL,
    current_command_index INTEGER NOT NULL DEFAULT 0,
    created_at            INTEGER NOT NULL,
    started_at            INTEGER,
    completed_at          INTEGER,
    metadata              TEXT,
    error                 TEXT,
    artifact_bytes        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX tasks_by_status   ON tasks (status, seq);
CREATE INDEX tasks_by_instance ON tasks (instance_id, status, seq);
CREATE INDEX tasks_by_owner    ON tasks (owner, created_at);
CREATE INDEX tasks_by_created  ON tasks (created_at);
CREATE INDEX tasks_by_finish   ON tasks (completed_at) WHERE completed_at IS NOT NULL;

CREATE TABLE commands (
    task_id      TEXT    NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    idx          INTEGER NOT NULL,
    id           TEXT    NOT NULL,
    tool_name    TEXT    NOT NULL,
    intention    TEXT    NOT NULL,
    args         TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    started_at   INTEGER,
    completed_at INTEGER,
    result       TEXT,
    error        TEXT,
    PRIMARY KEY (task_id, idx)
);

-- Screenshots and PDFs, once, as bytes: item is the place in the result's content.
CREATE TABLE artifacts (
    task_id     TEXT    NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    command_idx INTEGER NOT NULL,
    item        INTEGER NOT NULL,
    mime_type   TEXT    NOT NULL,
    bytes       BLOB    NOT NULL,
    PRIMARY KEY (task_id, command_idx, item)
);
