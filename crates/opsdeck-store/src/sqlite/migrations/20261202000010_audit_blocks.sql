-- Filtered listing of the audit log goes through per-block summaries instead of one index
-- per filterable column (see opsdeck_store's audit_index.rs): every request appends an entry,
-- and each of those indexes cost every request a B-tree insert and its page writes.
-- A block is 1024 consecutive entries: block = seq >> 10.

-- Each block's time span: the earliest and latest `at` among its entries (unix ms).
CREATE TABLE audit_blocks (
    block  INTEGER NOT NULL PRIMARY KEY CHECK (block >= 0),
    min_at INTEGER NOT NULL,
    max_at INTEGER NOT NULL CHECK (max_at >= min_at)
) STRICT;

-- Which filter values occur in which block, one row per distinct value: `actor:<id>` and
-- `actor:<name>`, `action:<action>`, `target_kind:<kind>`, `target_id:<id>`,
-- `tenant:<tenant id>`.
CREATE TABLE audit_block_keys (
    key   TEXT    NOT NULL,
    block INTEGER NOT NULL,
    PRIMARY KEY (key, block)
) STRICT, WITHOUT ROWID;

INSERT INTO audit_blocks (block, min_at, max_at)
SELECT seq >> 10, min(at), max(at) FROM audit_log GROUP BY seq >> 10;

INSERT OR IGNORE INTO audit_block_keys (key, block)
SELECT 'actor:' || actor_id, seq >> 10 FROM audit_log WHERE actor_id IS NOT NULL
UNION SELECT 'actor:' || actor_name, seq >> 10 FROM audit_log WHERE actor_name IS NOT NULL
UNION SELECT 'action:' || action, seq >> 10 FROM audit_log
UNION SELECT 'target_kind:' || target_kind, seq >> 10 FROM audit_log WHERE target_kind IS NOT NULL
UNION SELECT 'target_id:' || target_id, seq >> 10 FROM audit_log WHERE target_id IS NOT NULL
UNION SELECT 'tenant:' || tenant_id, seq >> 10 FROM audit_log WHERE tenant_id IS NOT NULL;

DROP INDEX audit_log_action;
DROP INDEX audit_log_actor_id;
DROP INDEX audit_log_actor_name;
DROP INDEX audit_log_target;
DROP INDEX audit_log_tenant;
DROP INDEX audit_log_at;
