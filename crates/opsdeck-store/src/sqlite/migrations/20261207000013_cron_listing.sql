-- The cron list at scale (issue 12): pages by slug, filtered by status and searched by slug
-- or name on the server, and counts by status kept in a table rather than counted.
-- A monitor's listed status is `paused` while it is paused (at once, before the evaluator's
-- next step), else the status its last step derived (`status`).

-- The spec's name, for search; written with the spec, never alone.
ALTER TABLE cron_monitors ADD COLUMN name TEXT NOT NULL DEFAULT '';
UPDATE cron_monitors SET name = json_extract(spec, '$.name');

-- A page of one listed status by slug (`paused = 0 AND status = ?`, or `paused = 1`).
CREATE INDEX cron_monitors_listed ON cron_monitors (paused, status, slug);
-- Search walks slugs and names in slug order without reading the monitors' documents.
CREATE INDEX cron_monitors_search ON cron_monitors (slug, name);

-- How many monitors are in each listed status, moved by the triggers below in the
-- statement (and so the transaction) that changes a monitor. SQLite has one writer at a
-- time, so the six rows are never written concurrently.
CREATE TABLE cron_monitor_counts (
    status TEXT    NOT NULL PRIMARY KEY
           CHECK (status IN ('new', 'up', 'running', 'late', 'down', 'paused')),
    n      INTEGER NOT NULL CHECK (n >= 0)
) STRICT;

INSERT INTO cron_monitor_counts (status, n)
VALUES ('new', 0), ('up', 0), ('running', 0), ('late', 0), ('down', 0), ('paused', 0);
UPDATE cron_monitor_counts SET n = (
    SELECT count(*) FROM cron_monitors AS m
    WHERE (CASE WHEN m.paused = 1 THEN 'paused' ELSE m.status END) = cron_monitor_counts.status
);

CREATE TRIGGER cron_monitors_counted_insert AFTER INSERT ON cron_monitors
BEGIN
    UPDATE cron_monitor_counts SET n = n + 1
    WHERE status = (CASE WHEN NEW.paused = 1 THEN 'paused' ELSE NEW.status END);
END;

CREATE TRIGGER cron_monitors_counted_delete AFTER DELETE ON cron_monitors
BEGIN
    UPDATE cron_monitor_counts SET n = n - 1
    WHERE status = (CASE WHEN OLD.paused = 1 THEN 'paused' ELSE OLD.status END);
END;

CREATE TRIGGER cron_monitors_counted_update AFTER UPDATE OF status, paused ON cron_monitors
WHEN (CASE WHEN OLD.paused = 1 THEN 'paused' ELSE OLD.status END)
  <> (CASE WHEN NEW.paused = 1 THEN 'paused' ELSE NEW.status END)
BEGIN
    UPDATE cron_monitor_counts SET n = n - 1
    WHERE status = (CASE WHEN OLD.paused = 1 THEN 'paused' ELSE OLD.status END);
    UPDATE cron_monitor_counts SET n = n + 1
    WHERE status = (CASE WHEN NEW.paused = 1 THEN 'paused' ELSE NEW.status END);
END;
