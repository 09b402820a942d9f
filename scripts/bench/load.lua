-- wrk script of scripts/bench/server-load.sh, as user TOKEN (environment variables):
--   MODE=push (default): POST /api/sync/push with BATCH (default 10) hero creates per
--     request, each with a fresh mutation id and hero id;
--   MODE=get: GET GET_PATH (default /api/heroes).
-- Prints one RESULT line at the end.

local token = os.getenv("TOKEN") or error("set TOKEN")
local mode = os.getenv("MODE") or "push"
local get_path = os.getenv("GET_PATH") or "/api/heroes"
local batch = tonumber(os.getenv("BATCH") or "10")

local counter = 0
-- `thread_id` is a global each thread gets from setup() (thread:set).

local threads = {}
function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  -- Distinct per thread and per run, so no two requests share an id.
  math.randomseed(os.time() * 1000 + (thread_id or 0) * 7919 + math.floor(os.clock() * 1e6))
end

local hex = "0123456789abcdef"
local function rand_hex(n)
  local t = {}
  for i = 1, n do
    local r = math.random(1, 16)
    t[i] = hex:sub(r, r)
  end
  return table.concat(t)
end

-- IDS=v7 (default): time-ordered version-7 UUIDs, as the app makes them (`new_id` in
-- crates/core/src/rng.rs), so new index entries land at the end of each index.
-- IDS=v4: random version-4 UUIDs, the worst case (every insert lands on a random page).
local v7 = (os.getenv("IDS") or "v7") ~= "v4"
local base_ms = os.time() * 1000
local ids = 0

local function uuid()
  local v = 9 + math.random(0, 3) -- variant: 8, 9, a or b
  local variant = hex:sub(v, v)
  if v7 then
    -- Milliseconds that grow with every id this thread makes (about real time at
    -- 10,000 ids a second per thread), then random bits.
    ids = ids + 1
    local ts = string.format("%012x", base_ms + math.floor(ids / 10))
    return ts:sub(1, 8) .. "-" .. ts:sub(9, 12) .. "-7" .. rand_hex(3) .. "-" .. variant .. rand_hex(3) .. "-" .. rand_hex(12)
  end
  return rand_hex(8) .. "-" .. rand_hex(4) .. "-4" .. rand_hex(3) .. "-" .. variant .. rand_hex(3) .. "-" .. rand_hex(12)
end

local headers = {
  ["Authorization"] = "Bearer " .. token,
  ["Content-Type"] = "application/json",
}

function request()
  if mode == "get" then
    return wrk.format("GET", get_path, { ["Authorization"] = "Bearer " .. token })
  end
  local items = {}
  for i = 1, batch do
    counter = counter + 1
    items[i] = string.format(
      '{"mutation_id":"%s","entity":"hero","id":"%s","op":"create","data":' ..
      '{"name":"Hero %d-%d","age":7,"traits":["brave","kind"],"appearance":"a red cape",' ..
      '"special_ability":"flies"}}',
      uuid(), uuid(), thread_id, counter)
  end
  local body = '{"mutations":[' .. table.concat(items, ",") .. ']}'
  return wrk.format("POST", "/api/sync/push", headers, body)
end

function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), errors))
end
