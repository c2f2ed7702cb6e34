-- wrk script for benches/load/run.sh: POST one chat completion request, streamed when
-- BENCH_STREAM=1. Run: BENCH_STREAM=0 wrk -t2 -c32 -d5s -s benches/load/post.lua http://127.0.0.1:PORT/v1/chat/completions
local stream = os.getenv("BENCH_STREAM") == "1"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"chat","messages":[{"role":"system","content":"You are a helpful assistant."},'
  .. '{"role":"user","content":"Say hello to the benchmark."}],"temperature":0.2,"max_tokens":64,'
  .. '"stream":' .. (stream and "true" or "false") .. '}'
