-- A history filtered by status (the agent API's ?status=) counts and pages from one index
-- range: the count reads no table rows, however many tasks the store holds.
CREATE INDEX tasks_by_owner_status ON tasks (owner, status, created_at DESC, id DESC);
CREATE INDEX tasks_by_status_created ON tasks (status, created_at DESC, id DESC);
