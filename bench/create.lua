-- wrk script: POST /api/v2/chat-2-pay with a new order number each time
-- (one live link per order), channel none so that only the create is measured
-- (CHANNEL=sms sends each link too). Set KEY in the environment.
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  thread_id = id or 0
  math.randomseed(os.time() + thread_id)
  channel = os.getenv("CHANNEL") or "none"
  prefix = string.format("b%d%04d", thread_id, math.random(0, 9999))
end

request = function()
  counter = counter + 1
  local body = string.format(
    '{"channel":"%s","to":"+27821234567","orderNumber":"%s-%d",' ..
    '"timestamp":"2026-11-22T10:00:00Z","currency":"ZAR","totalAmount":115.00,' ..
    '"subTotalAmount":100.00,"taxAmount":15.00}', channel, prefix, counter)
  return wrk.format("POST", "/api/v2/chat-2-pay",
    {["Authorization"] = os.getenv("KEY"), ["Content-Type"] = "application/json"}, body)
end
