#!/usr/bin/env python3
"""Concurrent paced streams: N streams at once against `tapedeck serve --pace recorded`, measured by bench-paced-load.

The recording: 50 events 100 ms apart (imported from JSON Lines, where each event's `t` is its offset in ms).
For each N, a fresh server; its peak RSS is VmHWM from /proc/PID/status. Writes (or replaces) the section
"## Concurrent paced streams" in --out, and prints each figure beside its target.
Usage: paced.py --bin DIR [--streams 1000 2500 5000 10000] [--out FILE]
"""
import argparse, datetime, json, os, re, subprocess, sys, tempfile, shutil, time

HERE = os.path.dirname(os.path.abspath(__file__))
EVENTS, GAP_MS = 50, 100
SECTION = "## Concurrent paced streams"
TARGET_STREAMS, TARGET_GAP_P99_MS, TARGET_RSS_MB = 10_000, 10.0, 400.0
REQUEST = {"model": "claude-sonnet-4-5", "max_tokens": 256, "messages": [{"role": "user", "content": "Paced benchmark stream"}]}

def log(*args):
    print("paced:", *args, file=sys.stderr, flush=True)

def recording_line():
    """message_start, a text block of 46 deltas, its stop, message_delta, message_stop: 50 events, 100 ms apart."""
    msg = {"model": "claude-sonnet-4-5-20250929", "id": "msg_01PacedBench000000000000", "type": "message", "role": "assistant",
           "content": [], "stop_reason": None, "stop_sequence": None,
           "usage": {"input_tokens": 12, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 1}}
    events = [("message_start", {"type": "message_start", "message": msg}),
              ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})]
    for i in range(EVENTS - 5):
        events.append(("content_block_delta", {"type": "content_block_delta", "index": 0,
                                               "delta": {"type": "text_delta", "text": f"word{i} "}}))
    events += [("content_block_stop", {"type": "content_block_stop", "index": 0}),
               ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                  "usage": {"output_tokens": EVENTS - 5}}),
               ("message_stop", {"type": "message_stop"})]
    assert len(events) == EVENTS
    stream = [{"t": i * GAP_MS, "event": name, "data": data} for i, (name, data) in enumerate(events)]
    return json.dumps({"request": {"body": REQUEST}, "response": {"stream": stream}}, separators=(",", ":"))

def make_cassette(tapedeck, work):
    jsonl, cassette = os.path.join(work, "paced.jsonl"), os.path.join(work, "paced.sqlite")
    with open(jsonl, "w") as f:
        f.write(recording_line() + "\n")
    subprocess.run([tapedeck, "cassette", "import", jsonl, "--into", cassette], check=True, stdout=subprocess.DEVNULL,
                   env=dict(os.environ, CI=""))
    body = os.path.join(work, "paced-request.json")
    with open(body, "w") as f:
        f.write(json.dumps(dict(REQUEST, stream=True), separators=(",", ":")))
    return cassette, body

def proc_status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")

def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

def runqueue_wait_seconds(pid):
    """Time the process's threads spent runnable but waiting for a core (schedstat): what a shared box costs it."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[1])
        except (OSError, IndexError, ValueError):
            pass
    return total / 1e9

def run_one(args, cassette, body, n):
    tapedeck = os.path.join(args.bin, "tapedeck")
    # --max-connections: the default (512) answers every connection past it with a 529.
    argv = [tapedeck, "serve", "--port", "0", "--cassette", cassette, "--pace", "recorded", "--log-level", "warning",
            "--on-miss", "error", "--max-connections", str(n + 100)]
    server = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=dict(os.environ, CI=""))
    port = None
    for line in server.stdout:
        m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        if m:
            port = int(m.group(1))
            break
    if port is None:
        raise RuntimeError("tapedeck exited before announcing its port")
    try:
        load = os.getloadavg()[0]
        cpu_before, wait_before = cpu_seconds(server.pid), runqueue_wait_seconds(server.pid)
        out = subprocess.run([os.path.join(args.bin, "bench-paced-load"), "--port", str(port), "--body", body,
                              "--streams", str(n), "--events", str(EVENTS), "--gap-ms", str(GAP_MS),
                              "--connect-rate", str(args.connect_rate), "--start-spread-ms", str(args.start_spread_ms),
                              "--timeout-s", "60"], capture_output=True, text=True, check=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
        result["server_cpu_s"] = cpu_seconds(server.pid) - cpu_before
        result["server_wait_s"] = runqueue_wait_seconds(server.pid) - wait_before
        result["server_peak_rss_mb"] = proc_status(server.pid, "VmHWM")
        result["load_before"] = load
        result["load_after"] = os.getloadavg()[0]
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    return result

def verdicts(r):
    """(figure, target, met) for one run."""
    n = r["streams"]
    return [
        ("complete", f"{r['completed']:,} / {n:,}", "all", r["completed"] == n),
        ("errors", str(sum(r["errors"].values())), "0", not r["errors"]),
        ("gap error p99", f"{r['gap_error_ms']['p99']:.2f} ms", f"< {TARGET_GAP_P99_MS:g} ms", r["gap_error_ms"]["p99"] < TARGET_GAP_P99_MS),
        ("server peak RSS", f"{r['server_peak_rss_mb']:.0f} MB", f"< {TARGET_RSS_MB:g} MB", r["server_peak_rss_mb"] < TARGET_RSS_MB),
    ]

def section(results, args):
    ok = lambda cond: "met" if cond else "**missed**"
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
    lines = [
        SECTION,
        "",
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; binaries: `{args.bin}`; "
        f"machine: {os.cpu_count()} cores ({cpu})",
        "",
        f"`tapedeck serve --pace recorded --log-level warning --max-connections N+100` replaying a recording of {EVENTS} events "
        f"{GAP_MS} ms apart; `bench-paced-load` (NIO, {os.cpu_count()} event loops, same box) connects all N at "
        f"{args.connect_rate}/s, then starts every request within {args.start_spread_ms} ms, so all N streams are open at once. "
        "Gap error: |observed − recorded gap| between consecutive events; drift: how far event i arrives from "
        "first event + i × gap. CPU: seconds used during the run (2 cores × wall time available, shared with the client). "
        "Run-queue wait: time the server's threads were runnable but had no core (from /proc schedstat). "
        "Load: 1-minute load average before the run (the box may be shared).",
        "",
        "| streams | complete | peak open | errors | gap error p50 / p99 / max ms | drift p99 ms | first event p99 ms | total p50 / p99 s | server RSS MB | server / client CPU s | server run-queue wait s | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        g, d, fe, t = r["gap_error_ms"], r["drift_ms"], r["first_event_ms"], r["total_ms"]
        errors = ", ".join(f"{k}: {v}" for k, v in r["errors"].items()) or "0"
        lines.append(f"| {r['streams']:,} | {r['completed']:,} | {r['peak_concurrent']:,} | {errors} | {g['p50']:.2f} / {g['p99']:.2f} / {g['max']:.2f} | "
                     f"{d['p99']:.2f} | {fe['p99']:.2f} | {t['p50']/1000:.2f} / {t['p99']/1000:.2f} | {r['server_peak_rss_mb']:.0f} | "
                     f"{r['server_cpu_s']:.1f} / {r['client_cpu_s']:.1f} | {r['server_wait_s']:.1f} | {r['load_before']:.2f} |")
    target = next((r for r in results if r["streams"] == TARGET_STREAMS), None)
    lines.append("")
    if target:
        lines.append(f"Target at {TARGET_STREAMS:,} streams: " + "; ".join(
            f"{name} {figure} ({goal}: {ok(met)})" for name, figure, goal, met in verdicts(target)) + ".")
    else:
        lines.append(f"Target ({TARGET_STREAMS:,} streams) not run here; largest run: {results[-1]['streams']:,} streams.")
    return "\n".join(lines) + "\n"

def write(out, text):
    """Replaces this section in `out` (or appends it), leaving the rest of the file as it is."""
    old = open(out).read() if os.path.exists(out) else "# Benchmark results\n"
    start = old.find(SECTION)
    if start >= 0:
        end = old.find("\n## ", start + len(SECTION))
        old = old[:start] + (old[end + 1:] if end >= 0 else "")
    with open(out, "w") as f:
        f.write(old.rstrip("\n") + "\n\n" + text)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--streams", type=int, nargs="+", default=[1000, 2500, 5000, 10000])
    ap.add_argument("--connect-rate", type=int, default=1000)
    ap.add_argument("--start-spread-ms", type=int, default=1000)
    ap.add_argument("--out", default=os.path.join(HERE, "results.md"))
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="tapedeck-paced-")
    results = []
    try:
        cassette, body = make_cassette(os.path.join(args.bin, "tapedeck"), work)
        for n in args.streams:
            log(f"{n} concurrent paced streams")
            r = run_one(args, cassette, body, n)
            results.append(r)
            for name, figure, goal, met in verdicts(r):
                log(f"  {n:>6} streams: {name} {figure} (target {goal}): {'met' if met else 'MISSED'}")
            log(f"  {n:>6} streams: drift p99 {r['drift_ms']['p99']:.2f} ms, total p99 {r['total_ms']['p99']:.0f} ms, "
                f"server CPU {r['server_cpu_s']:.1f} s, client CPU {r['client_cpu_s']:.1f} s, server run-queue wait {r['server_wait_s']:.1f} s, load {r['load_before']:.2f} -> {r['load_after']:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = section(results, args)
    write(args.out, text)
    print(text)

if __name__ == "__main__":
    main()
