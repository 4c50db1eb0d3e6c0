-- The cron list at scale (issue 12): pages by slug, filtered by status and searched by slug
-- or name on the server, and counts by status kept in a table rather than counted.
-- A monitor's listed status is `paused` while it is paused (at once, before the evaluator's
-- next step), else the status its last step derived (`status`).

-- The spec's name, for search; written with the spec, never alone.
ALTER TABLE cron_monitors ADD COLUMN name TEXT NOT NULL DEFAULT '';
UPDATE cron_monitors SET name = spec ->> 'name';
ALTER TABLE cron_monitors ALTER COLUMN name DROP DEFAULT;

-- A page of one listed status by slug (`NOT paused AND status = $n`, or `paused`).
CREATE INDEX cron_monitors_listed ON cron_monitors (paused, status, slug);
-- Search walks slugs and names in slug order without reading the monitors' documents.
CREATE INDEX cron_monitors_search ON cron_monitors (slug, name);

-- How many monitors are in each listed status: the folded counts, plus the changes not
-- folded yet. A change is only ever inserted (by the trigger below, in the transaction
-- that changes the monitor), so concurrent writers never wait on one another for a
-- count, nor deadlock over the six rows; the evaluator folds the changes into the counts
-- (one statement), and a count is the sum of both.
CREATE TABLE cron_monitor_counts (
    status TEXT   PRIMARY KEY
           CHECK (status IN ('new', 'up', 'running', 'late', 'down', 'paused')),
    n      BIGINT NOT NULL
);

INSERT INTO cron_monitor_counts (status, n)
SELECT s.status, (
    SELECT count(*) FROM cron_monitors AS m
    WHERE (CASE WHEN m.paused THEN 'paused' ELSE m.status END) = s.status
)
FROM unnest(ARRAY['new', 'up', 'running', 'late', 'down', 'paused']) AS s (status);

CREATE TABLE cron_monitor_count_changes (
    id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    status TEXT   NOT NULL,
    delta  BIGINT NOT NULL
);

CREATE FUNCTION cron_monitors_count_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    was  TEXT;
    goes TEXT;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        was := CASE WHEN OLD.paused THEN 'paused' ELSE OLD.status END;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        goes := CASE WHEN NEW.paused THEN 'paused' ELSE NEW.status END;
    END IF;
    IF was IS DISTINCT FROM goes THEN
        IF was IS NOT NULL THEN
            INSERT INTO cron_monitor_count_changes (status, delta) VALUES (was, -1);
        END IF;
        IF goes IS NOT NULL THEN
            INSERT INTO cron_monitor_count_changes (status, delta) VALUES (goes, 1);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER cron_monitors_counted
AFTER INSERT OR DELETE OR UPDATE OF status, paused ON cron_monitors
FOR EACH ROW EXECUTE FUNCTION cron_monitors_count_change();
