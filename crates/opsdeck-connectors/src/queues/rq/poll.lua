--[[
  opsdeck: counts RQ queues, read only, O(1) commands per queue (plus a bounded read of the
  newest failures when ARGV[2] is set).

  ARGV[1]   the key prefix (RQ_KEY_PREFIX)
  ARGV[2]   on a slow poll, an hour ago as RQ writes times ("2026-12-07T15:04:05.000000Z"),
            else ""
  ARGV[3..] queue names

  Returns { "unsupported", job id } when a job read lacks RQ's fields (nothing else read),
  else one row per queue: { waiting, started, failed, finished, deferred, scheduled,
  canceled, oldest waiting job's enqueued_at or "", failures since ARGV[2] or -1 }, then the
  number of commands run.
]]
local rcall = redis.call
local prefix = ARGV[1]
local since = ARGV[2]
-- Failures read per queue to count those of the last hour: the failed registry is ordered
-- by expiry, which follows the failure time when the failure TTL is the same for all.
local RECENT = 200
local commands = 0

-- Whether a job hash has the fields every RQ 1.x-3.x job has; an absent job is fine.
local function recognised(jobKey)
  commands = commands + 2
  if rcall("EXISTS", jobKey) == 0 then
    return true
  end
  local f = rcall("HMGET", jobKey, "status", "created_at")
  commands = commands + 1
  return f[1] and f[2] and rcall("HEXISTS", jobKey, "data") == 1
end

local rows = {}
for i = 3, #ARGV do
  local q = ARGV[i]
  local queueKey = prefix .. ":queue:" .. q
  local row = { rcall("LLEN", queueKey) }
  for _, registry in ipairs({ "wip", "failed", "finished", "deferred", "scheduled", "canceled" }) do
    row[#row + 1] = rcall("ZCARD", prefix .. ":" .. registry .. ":" .. q)
  end
  commands = commands + 7
  local oldest = ""
  local head = rcall("LINDEX", queueKey, 0)
  commands = commands + 1
  if head then
    local jobKey = prefix .. ":job:" .. head
    if not recognised(jobKey) then
      return { "unsupported", head }
    end
    oldest = rcall("HGET", jobKey, "enqueued_at") or ""
    commands = commands + 1
  end
  row[#row + 1] = oldest
  local failures = -1
  if since ~= "" then
    failures = 0
    local ids = rcall("ZREVRANGE", prefix .. ":failed:" .. q, 0, RECENT - 1)
    commands = commands + 1
    for n, id in ipairs(ids) do
      local jobKey = prefix .. ":job:" .. id
      if n == 1 and not recognised(jobKey) then
        return { "unsupported", id }
      end
      local ended = rcall("HGET", jobKey, "ended_at")
      commands = commands + 1
      if ended and ended >= since then
        failures = failures + 1
      end
    end
  end
  row[#row + 1] = failures
  rows[#rows + 1] = row
end
rows[#rows + 1] = commands
return rows
