-- wrk script: POST /core-transact/4.0 with signed bodies made beforehand
-- (bench/transact makes them: one line per request, "<Signature>\t<body>",
-- each with its own clientTxnRef). Each wrk thread sends its own share of
-- the lines, so no request is a replay; a thread that runs out starts its
-- share again and says so at the end (those requests are replays and the
-- figure does not count). Environment: BODIES (the file), NTHREADS (wrk's
-- threads), TOKEN, APIKEY.
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  local n = tonumber(os.getenv("NTHREADS"))
  lines = {}
  local i = 0
  for line in io.lines(os.getenv("BODIES")) do
    if i % n == id then
      local tab = line:find("\t", 1, true)
      lines[#lines + 1] = {line:sub(1, tab - 1), line:sub(tab + 1)}
    end
    i = i + 1
  end
  next_line = 0
  wrapped = 0
  auth = "Bearer " .. os.getenv("TOKEN")
  key = os.getenv("APIKEY")
end

request = function()
  next_line = next_line + 1
  if next_line > #lines then
    next_line = 1
    wrapped = wrapped + 1
  end
  local l = lines[next_line]
  return wrk.format("POST", "/core-transact/4.0",
    {["Authorization"] = auth, ["X-API-Key"] = key, ["Signature"] = l[1],
     ["Content-Type"] = "application/json"}, l[2])
end

function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    local w = t:get("wrapped")
    if w and w > 0 then
      io.write(string.format("transact.lua: a thread ran out of bodies (%d times)\n", w))
    end
  end
end
