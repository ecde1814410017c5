-- wrk script for bench/runtime.sh: GET /healthz, which answers "ok" on both servers without
-- touching a database. What it measures is each server's floor on this machine (HTTP parsing,
-- middleware, the framework's own cost), against which the API tests' ratios can be read.
-- Prints one RESULT line in the form the load tool's script uses, so one parser reads both.
wrk.method = "GET"
wrk.path = "/healthz"

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local errors = summary.errors
  io.write(string.format(
    "RESULT mode=floor requests=%d duration_s=%.2f rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f non2xx=%d socket_errors=%d\n",
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end
