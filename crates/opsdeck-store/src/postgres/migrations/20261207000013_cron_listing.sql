-- The cron list at scale (issue 12): pages by slug, filtered by status and searched by slug
-- or name on the server, with counts by status read from an index rather than the monitors.
-- `listed_status` is the status a list filters and counts on: paused for a paused monitor
-- (at once, before the evaluator's next step), else the status the last step derived.
-- `name` is the spec's, for search. Both are computed from the row, never written.

ALTER TABLE cron_monitors
    ADD COLUMN listed_status TEXT
        GENERATED ALWAYS AS (CASE WHEN paused THEN 'paused' ELSE status END) STORED,
    ADD COLUMN name TEXT GENERATED ALWAYS AS (spec ->> 'name') STORED;

-- A page of one status, and the counts by status (index-only once vacuumed).
CREATE INDEX cron_monitors_listed ON cron_monitors (listed_status, slug);
-- Search walks slugs and names in slug order without reading the monitors' documents.
CREATE INDEX cron_monitors_search ON cron_monitors (slug, name);
