--[[
  opsdeck: requeues failed RQ jobs, each only while it is still in the queue's failed
  registry (and, with ARGV[4], ended no later than then), making the moves of RQ's own
  `FailedJobRegistry.requeue`, atomically: out of `failed`; `status` queued, `started_at`
  and `ended_at` cleared, `enqueued_at` now, the stale `exc_info` dropped; the failure
  expiry taken off the job hash (or its own `ttl` set again, as RQ's enqueue does); pushed
  on the tail of its queue, and the queue in `<prefix>:queues`. A job under a rate limit is
  left alone (RQ requeues it through its limiter).

  ARGV[1]   the key prefix (RQ_KEY_PREFIX)
  ARGV[2]   the queue
  ARGV[3]   now, as RQ writes times
  ARGV[4]   ended no later than (same format), or ""
  ARGV[5..] job ids

  Returns { "unsupported", id } when a job lacks RQ's fields (nothing moved), else the
  script's own time in µs, then one code per id: 1 requeued, -1 gone, -3 not failed any
  more, -4 failed later, -5 rate-limited.
]]
local rcall = redis.call
local started = rcall("TIME")
local prefix, queue, now, notAfter = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local failed = prefix .. ":failed:" .. queue

local jobs = {}
for i = 5, #ARGV do
  local id = ARGV[i]
  local key = prefix .. ":job:" .. id
  local f = rcall("HMGET", key, "status", "created_at", "origin", "ended_at", "rate_limit_key",
    "rate_limit_concurrency", "ttl")
  local exists = rcall("EXISTS", key) == 1
  if exists and not (f[1] and f[2] and rcall("HEXISTS", key, "data") == 1) then
    return { "unsupported", id }
  end
  jobs[#jobs + 1] = { id = id, key = key, exists = exists, f = f }
end

local codes = {}
for _, job in ipairs(jobs) do
  local f = job.f
  local status, origin, ended = f[1], f[3], f[4]
  if not job.exists then
    codes[#codes + 1] = -1
  elseif not rcall("ZSCORE", failed, job.id) or (status ~= "failed" and status ~= "stopped") then
    codes[#codes + 1] = -3
  elseif notAfter ~= "" and ended and ended > notAfter then
    codes[#codes + 1] = -4
  elseif f[5] and f[5] ~= "" and f[6] and f[6] ~= "" then
    codes[#codes + 1] = -5
  elseif rcall("ZREM", failed, job.id) == 1 then
    origin = (origin and origin ~= "") and origin or queue
    rcall("HSET", job.key, "status", "queued", "started_at", "", "ended_at", "", "enqueued_at", now)
    rcall("HDEL", job.key, "exc_info")
    local ttl = tonumber(f[7])
    if ttl and ttl > 0 then
      rcall("EXPIRE", job.key, ttl)
    else
      rcall("PERSIST", job.key)
    end
    local queueKey = prefix .. ":queue:" .. origin
    rcall("RPUSH", queueKey, job.id)
    rcall("SADD", prefix .. ":queues", queueKey)
    codes[#codes + 1] = 1
  else
    codes[#codes + 1] = -3
  end
end

local finished = rcall("TIME")
table.insert(codes, 1, (finished[1] - started[1]) * 1000000 + (finished[2] - started[2]))
return codes
