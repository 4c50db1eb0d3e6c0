--[[
  opsdeck: deletes failed RQ jobs, each only while it is still in the queue's failed
  registry (and, with ARGV[4], ended no later than then), making the moves of RQ's own
  `FailedJobRegistry.remove(job, delete_job=True)`, atomically: out of `failed` and out of
  its queue list; its executions deleted (their hashes, their `wip` entries, the worker's
  index of them, the job's execution registry); out of its group; the job hash, its
  dependents and dependencies sets and its result stream deleted. A job under a rate limit
  is left alone (RQ's delete releases its slot in the limiter).

  ARGV[1]   the key prefix (RQ_KEY_PREFIX)
  ARGV[2]   the queue
  ARGV[3]   unused (now)
  ARGV[4]   ended no later than, or ""
  ARGV[5..] job ids

  Returns as retry.lua does; 1 means deleted.
]]
local rcall = redis.call
local started = rcall("TIME")
local prefix, queue, notAfter = ARGV[1], ARGV[2], ARGV[4]
local failed = prefix .. ":failed:" .. queue

local jobs = {}
for i = 5, #ARGV do
  local id = ARGV[i]
  local key = prefix .. ":job:" .. id
  local f = rcall("HMGET", key, "status", "created_at", "origin", "ended_at", "rate_limit_key",
    "rate_limit_concurrency", "group_id")
  local exists = rcall("EXISTS", key) == 1
  if exists and not (f[1] and f[2] and rcall("HEXISTS", key, "data") == 1) then
    return { "unsupported", id }
  end
  jobs[#jobs + 1] = { id = id, key = key, exists = exists, f = f }
end

local codes = {}
for _, job in ipairs(jobs) do
  local f = job.f
  local id, status, ended = job.id, f[1], f[4]
  local origin = (f[3] and f[3] ~= "") and f[3] or queue
  if not job.exists then
    codes[#codes + 1] = -1
  elseif not rcall("ZSCORE", failed, id) or (status ~= "failed" and status ~= "stopped") then
    codes[#codes + 1] = -3
  elseif notAfter ~= "" and ended and ended > notAfter then
    codes[#codes + 1] = -4
  elseif f[5] and f[5] ~= "" and f[6] and f[6] ~= "" then
    codes[#codes + 1] = -5
  else
    rcall("ZREM", failed, id)
    rcall("LREM", prefix .. ":queue:" .. origin, 0, id)
    local executions = prefix .. ":executions:" .. id
    for _, execution in ipairs(rcall("ZRANGE", executions, 0, -1)) do
      local composite = id .. ":" .. execution
      local executionKey = prefix .. ":execution:" .. composite
      local worker = rcall("HGET", executionKey, "worker_name")
      rcall("DEL", executionKey)
      rcall("ZREM", prefix .. ":wip:" .. origin, composite)
      if worker and worker ~= "" then
        rcall("SREM", prefix .. ":worker:" .. worker .. ":executions", composite)
      end
    end
    rcall("DEL", executions)
    if f[7] and f[7] ~= "" then
      rcall("SREM", prefix .. ":group:" .. f[7], id)
    end
    -- RQ 3.0 spells the dependencies key with two colons; earlier versions with one.
    rcall("DEL", job.key, job.key .. ":dependents", prefix .. ":job::" .. id .. ":dependencies",
      job.key .. ":dependencies", prefix .. ":results:" .. id)
    codes[#codes + 1] = 1
  end
end

local finished = rcall("TIME")
table.insert(codes, 1, (finished[1] - started[1]) * 1000000 + (finished[2] - started[2]))
return codes
