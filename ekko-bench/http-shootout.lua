-- wrk script of ekko-bench/http-shootout: prints one machine-readable line at the end of a run,
--   SHOOTOUT requests=N duration_us=N errors=N non2xx=N p50_us=N p99_us=N p999_us=N max_us=N
-- (wrk's own --latency lists 50/75/90/99 % only). Latencies are wrk's, in microseconds.
--
-- With SHOOTOUT_WARMUP=1 in the environment the requests alternate between /v1/id and /v1/ids?count=100, so one
-- warm-up run compiles both routes; without it the request is wrk's static one (the URL given on the command line).

if os.getenv("SHOOTOUT_WARMUP") == "1" then
   local paths = { "/v1/id", "/v1/ids?count=100" }
   local i = 0
   request = function()
      i = i + 1
      return wrk.format("GET", paths[(i % 2) + 1])
   end
end

done = function(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "SHOOTOUT requests=%d duration_us=%d errors=%d non2xx=%d p50_us=%d p99_us=%d p999_us=%d max_us=%d\n",
      summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
      latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max))
end
