-- Users (issue 11): which door a task came through, who owns an instance (none: the shared
-- boot pool), API keys (only their hash), and the audit trail.
UPDATE tasks SET owner = 'local' WHERE owner IS NULL;
ALTER TABLE tasks ADD COLUMN door TEXT NOT NULL DEFAULT 'websocket';
ALTER TABLE instances ADD COLUMN owner TEXT;

CREATE TABLE api_keys (
    id         TEXT    PRIMARY KEY,
    user_name  TEXT    NOT NULL,
    admin      INTEGER NOT NULL DEFAULT 0,
    -- SHA-256 of the whole key, hex: a key is 32 random bytes, so no slow hash is needed.
    hash       TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE TABLE audit (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    at        INTEGER NOT NULL,
    user_name TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    target    TEXT    NOT NULL,
    door      TEXT    NOT NULL,
    node_id   TEXT    NOT NULL,
    detail    TEXT
);
CREATE INDEX audit_by_user ON audit (user_name, at);
CREATE INDEX audit_by_at   ON audit (at);
