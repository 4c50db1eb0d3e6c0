-- Most audit entries (every /ops read) carry no tenant: index only those that do, so an
-- access costs one index update fewer. A query for `tenant_id = ?` still uses the index
-- (the equality implies NOT NULL).
DROP INDEX audit_log_tenant;
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, seq) WHERE tenant_id IS NOT NULL;
