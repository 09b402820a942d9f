-- wrk script: GET PATH (default /api/heroes) as user TOKEN; prints one RESULT line.
local token = os.getenv("TOKEN") or error("set TOKEN")
local path = os.getenv("GET_PATH") or "/api/heroes"

function request()
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token })
end

function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), errors))
end
