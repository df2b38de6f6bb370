-- wrk script for the side-by-side benchmark (bench/src/bin/side_by_side). The driver writes the
-- data file WARD_BENCH_DATA names (paths, and per tenant a token, ids to read, ids to update and a
-- create body) and picks the workload with WARD_BENCH_WORKLOAD: read | list | create | update | mix
-- (mix: 60% read by id, 20% list, 10% create, 10% update — 80/20 reads/writes).
-- wrk runs one Lua state per thread; threads alternate between the two tenants.

local data = dofile(os.getenv("WARD_BENCH_DATA"))
local workload = os.getenv("WARD_BENCH_WORKLOAD")

local next_tenant = 1
function setup(thread)
  thread:set("tenant_index", next_tenant)
  next_tenant = next_tenant % #data.tenants + 1
end

local t, headers, created
function init(args)
  t = data.tenants[tenant_index]
  math.randomseed(tenant_index * 7919)
  headers = { ["Authorization"] = t.authorization, ["Content-Type"] = "application/json" }
  created = 0
end

local function read()
  return wrk.format("GET", data.record .. t.read[math.random(#t.read)], headers)
end

local function list()
  return wrk.format("GET", data.list, headers)
end

local function create()
  created = created + 1
  return wrk.format("POST", data.create, headers,
    string.format(t.create_body, created, math.random(0, 100000)))
end

local function update()
  return wrk.format("PATCH", data.record .. t.update[math.random(#t.update)], headers,
    string.format('{"amount":%d}', math.random(0, 100000)))
end

local pick = { read = read, list = list, create = create, update = update }

function request()
  if workload == "mix" then
    local r = math.random(100)
    if r <= 60 then return read() end
    if r <= 80 then return list() end
    if r <= 90 then return create() end
    return update()
  end
  return pick[workload]()
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WARD_BENCH_RESULT {"requests":%d,"duration_us":%d,"status_errors":%d,"socket_errors":%d,' ..
    '"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
