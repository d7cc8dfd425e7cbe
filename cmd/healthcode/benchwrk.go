package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The token side of `healthcode bench overload --wrk PATH`: wrk, a
// separate process, sends the token requests of the mix while the
// in-process generator sends the rest. So the token requests' latency,
// admitted and shed, is measured by a client that does not wait for the
// server's own goroutines to be scheduled (BENCHMARKS.md, "Shed latency
// from a separate generator").
//
// wrk's own latency figures do not tell a 503 from a 200, so the script
// below times every request itself: one connection per wrk thread, so
// that request() and response() alternate and the time between them is
// that request's; CLOCK_MONOTONIC through LuaJIT's FFI. It paces each
// connection as internal/loadgen does (a due time advanced by the
// interval, never bursting to catch up) and prints one line that
// parseWrk reads.
const wrkScript = `-- healthcode bench overload: token requests, timed by status.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } hc_timespec;
int clock_gettime(int clk, hc_timespec *tp);
]]
local ts = ffi.new("hc_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000000 + tonumber(ts.tv_nsec) / 1000
end
local function wall_us() -- CLOCK_REALTIME, for X-Sent-At (benchsocket.go)
  ffi.C.clock_gettime(0, ts)
  return string.format("%%.0f", tonumber(ts.tv_sec) * 1000000 + math.floor(tonumber(ts.tv_nsec) / 1000))
end

local reqs = {
%s}
local interval_us = %f
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  n, t0, due, ok, shed, other = 0, 0, 0, {}, {}, {}
end

function delay()
  local t = now_us()
  if due == 0 then due = t end
  due = due + interval_us
  if due < t - interval_us then due = t - interval_us end
  local wait = due - t
  if wait <= 0 then return 0 end
  return math.floor(wait / 1000)
end

function request()
  local r = reqs[((id * 131 + n) %% #reqs) + 1]
  n = n + 1
  t0 = now_us()
  return wrk.format("GET", r[1], {["Authorization"] = "Bearer " .. r[2], ["User-Agent"] = "healthcode-wrk", ["X-Sent-At"] = wall_us()})
end

function response(status, headers, body)
  local d = now_us() - t0
  if status >= 200 and status < 300 then ok[#ok + 1] = d
  elseif status == 503 or status == 429 then shed[#shed + 1] = d
  else other[#other + 1] = status end
end

local function gather(name)
  local all = {}
  for _, t in ipairs(threads) do
    for _, v in ipairs(t:get(name) or {}) do all[#all + 1] = v end
  end
  table.sort(all)
  return all
end

local function pct(a, p)
  if #a == 0 then return 0 end
  return a[math.min(#a, math.floor(#a * p / 100) + 1)]
end

local function dump(a, path)
  local f = assert(io.open(path, "w"))
  for _, v in ipairs(a) do f:write(string.format("%%.0f\n", v)) end
  f:close()
end

function done(summary, latency, requests)
  local ok, shed, other = gather("ok"), gather("shed"), gather("other")
  dump(ok, %q)
  dump(shed, %q)
  io.write(string.format("healthcode-wrk ok=%%d shed=%%d other=%%d ok_p50=%%.0f ok_p99=%%.0f shed_p50=%%.0f shed_p99=%%.0f shed_max=%%.0f first_other=%%d\n",
    #ok, #shed, #other, pct(ok, 50), pct(ok, 99), pct(shed, 50), pct(shed, 99), shed[#shed] or 0, other[1] or 0))
end
`

// wrkResult is what the script measured: counts by status and
// latencies in microseconds.
type wrkResult struct {
	OK, Shed, Other       int
	OKP50, OKP99          time.Duration
	ShedP50, ShedP99, Max time.Duration
	OKLat, ShedLat        []time.Duration // every request's, sorted
	FirstOther            int             // the first status neither 2xx nor 503/429
	MaxRSS                int64           // wrk's peak resident memory, bytes
	Output                string          // wrk's own report (--latency)
	Elapsed               time.Duration   // wall time of the wrk process
}

// runWrk runs wrk for d against addr with conns connections, each
// paced to rate requests a second, the requests cycling through reqs
// (path and bearer token each). The script goes into dir.
func runWrk(ctx context.Context, wrk, dir, addr string, conns int, rate float64, d time.Duration, reqs [][2]string) (*wrkResult, error) {
	var lua strings.Builder
	for _, r := range reqs {
		fmt.Fprintf(&lua, "  {%q, %q},\n", r[0], r[1])
	}
	script := filepath.Join(dir, "tokens.lua")
	okFile, shedFile := filepath.Join(dir, "wrk-ok.txt"), filepath.Join(dir, "wrk-shed.txt")
	if err := os.WriteFile(script, fmt.Appendf(nil, wrkScript, lua.String(), 1e6/rate, okFile, shedFile), 0o600); err != nil {
		return nil, err
	}
	secs := max(1, int(d.Round(time.Second)/time.Second))
	cmd := exec.CommandContext(ctx, wrk, "-t", strconv.Itoa(conns), "-c", strconv.Itoa(conns),
		"-d", strconv.Itoa(secs)+"s", "--timeout", "10s", "--latency", "-s", script, "http://"+addr+"/")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("wrk: %w: %s", err, strings.TrimSpace(errOut.String()))
	}
	res, err := parseWrk(&out)
	if err != nil {
		return nil, err
	}
	res.Elapsed = time.Since(t0)
	if res.OKLat, err = readLatencies(okFile); err != nil {
		return nil, err
	}
	if res.ShedLat, err = readLatencies(shedFile); err != nil {
		return nil, err
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.MaxRSS = ru.Maxrss << 10 // Linux: kilobytes
	}
	return res, nil
}

// parseWrk reads wrk's output: its own report, and the script's line.
func parseWrk(r io.Reader) (*wrkResult, error) {
	var res wrkResult
	var report strings.Builder
	found := false
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, "healthcode-wrk ")
		if !ok {
			report.WriteString(line + "\n")
			continue
		}
		found = true
		for f := range strings.FieldsSeq(rest) {
			k, v, _ := strings.Cut(f, "=")
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("wrk script output %q: %s: %w", line, k, err)
			}
			us := time.Duration(n) * time.Microsecond
			switch k {
			case "ok":
				res.OK = int(n)
			case "shed":
				res.Shed = int(n)
			case "other":
				res.Other = int(n)
			case "ok_p50":
				res.OKP50 = us
			case "ok_p99":
				res.OKP99 = us
			case "shed_p50":
				res.ShedP50 = us
			case "shed_p99":
				res.ShedP99 = us
			case "shed_max":
				res.Max = us
			case "first_other":
				res.FirstOther = int(n)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("wrk printed no healthcode-wrk line (is it built with LuaJIT?): %s", report.String())
	}
	res.Output = report.String()
	return &res, nil
}

// readLatencies reads the script's file of latencies, one number of
// microseconds a line, sorted.
func readLatencies(path string) ([]time.Duration, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("wrk script output: %w", err)
	}
	var out []time.Duration
	for i, line := range strings.Fields(string(b)) {
		n, err := strconv.ParseInt(line, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, i+1, err)
		}
		out = append(out, time.Duration(n)*time.Microsecond)
	}
	return out, nil
}
