-- A search of the cron list counts its matches by listed status as well as paging them:
-- the search index carries `paused` and `status` too, so both walk the index alone and
-- never read a monitor's document (at 100,000 monitors, reading every row for the counts
-- was most of a search's time).
DROP INDEX cron_monitors_search;
CREATE INDEX cron_monitors_search ON cron_monitors (slug, name, paused, status);
