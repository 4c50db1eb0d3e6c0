--[[
  opsdeck: moves Sidekiq sorted-set entries, each only while that exact entry is still in
  its set (ZREM of the member text as read answers 1), so an entry retried, killed, deleted
  or rewritten since it was read is left alone, and a second run moves nothing.

  ARGV[1]  the `queues` set's key
  ARGV[2]  the queue lists' key prefix ("queue:", or "<namespace>:queue:")
  ARGV[3]  the `dead` set's key
  ARGV[4]  the score of a job killed now
  then per entry, five values:
    op       "retry": out of its set, its queue named in `queues`, the job pushed on the
             head of the queue's list (as Sidekiq's own client pushes);
             "kill": out of its set, into `dead` with the score of now (Sidekiq's kill);
             "delete": out of its set
    set      the key of the set it was read in
    member   the entry's text as read
    queue    the job's queue (retry)
    payload  the job text to push, built by opsdeck from the member (retry)

  The payload is never decoded here: Lua's JSON would round floats and turn [] into {}.
  Returns the script's own time in microseconds, then one code per entry: 1 moved, 0 gone.
]]
local rcall = redis.call
local started = rcall("TIME")
local out = { 0 }
for i = 5, #ARGV, 5 do
  local op, set, member = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if rcall("ZREM", set, member) == 1 then
    if op == "retry" then
      rcall("SADD", ARGV[1], ARGV[i + 3])
      rcall("LPUSH", ARGV[2] .. ARGV[i + 3], ARGV[i + 4])
    elseif op == "kill" then
      rcall("ZADD", ARGV[3], ARGV[4], member)
    end
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
local finished = rcall("TIME")
out[1] = (finished[1] - started[1]) * 1000000 + (finished[2] - started[2])
return out
