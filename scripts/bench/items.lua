-- wrk script: every request takes the next item "<id> <token>" of the file $BENCH_ITEMS, the
-- wrk threads interleaving (thread k takes items k, k+T, k+2T, ...), so a submit benchmark
-- never submits the same draft twice. $BENCH_METHOD, $BENCH_PATH (with %s for the id) and an
-- optional JSON $BENCH_BODY describe the request. Past the last item it wraps around (for a
-- submit run that would show up as 409 errors in the report). With $BENCH_COOKIE set, every
-- request carries that Cookie header (a signed-in browser session) instead of the item's token.
local next_tid = 1
function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
end

function init(args)
  items = {}
  for line in io.lines(os.getenv("BENCH_ITEMS")) do
    local id, token = line:match("^(%S+)%s+(%S+)$")
    if id then items[#items + 1] = { id, token } end
  end
  stride = tonumber(os.getenv("BENCH_THREADS") or "1")
  i = tid or 1
  method = os.getenv("BENCH_METHOD") or "GET"
  path = os.getenv("BENCH_PATH")
  body = os.getenv("BENCH_BODY")
  if body == "" then body = nil end
  cookie = os.getenv("BENCH_COOKIE")
  if cookie == "" then cookie = nil end
end

function request()
  local it = items[((i - 1) % #items) + 1]
  i = i + stride
  local headers
  if cookie then
    headers = { ["Cookie"] = cookie }
  else
    headers = { ["Authorization"] = "Bearer " .. it[2] }
  end
  if body then headers["Content-Type"] = "application/json" end
  return wrk.format(method, string.format(path, it[1]), headers, body)
end
