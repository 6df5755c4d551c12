#!/usr/bin/env python3
"""Load and soak: N requests from C connections against replay and synthesis, streamed and not.

Checks: zero errors (non-2xx or socket errors), RSS stable after warm-up (growth within a small bound), and
file descriptors back to their baseline once the load stops. Exits non-zero on a failure.
Usage: soak.py --bin DIR [--requests 100000] [--connections 128] [--short]
"""
import argparse, json, os, re, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

def wrk_run(port, body_file, connections, seconds):
    env = dict(os.environ, WRK_BODY_FILE=body_file, WRK_PATH="/v1/messages")
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "-s",
                          os.path.join(bench.HERE, "post.lua"), f"http://127.0.0.1:{port}"],
                         capture_output=True, text=True, env=env, check=True).stdout
    done = int(re.search(r"(\d+) requests in", out).group(1))
    errors = 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m: errors += int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m: errors += sum(int(x) for x in m.groups())
    return done, errors

def wrk_count(port, body_file, connections, requests):
    """Runs wrk until at least `requests` requests are done; returns (requests done, errors)."""
    done, errors = wrk_run(port, body_file, connections, 1)
    while done < requests:
        rate = max(100.0, done / 1.0 if done else 100.0)
        more, more_errors = wrk_run(port, body_file, connections, max(1, int((requests - done) / rate + 0.999)))
        done, errors = done + more, errors + more_errors
    return done, errors

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--connections", type=int, default=128)
    ap.add_argument("--short", action="store_true", help="a few thousand requests per case (CI)")
    args = ap.parse_args()
    per_case = 3_000 if args.short else args.requests
    work = tempfile.mkdtemp(prefix="tapedeck-soak-")
    tapedeck = os.path.join(args.bin, "tapedeck")
    fake = bench.Server([os.path.join(args.bin, "tapedeck-fake-upstream"), "--port", "0"])
    cassette = os.path.join(work, "soak.sqlite")
    bodies = {
        "replay json": {"model": "claude-sonnet-4-5", "max_tokens": 1024, "messages": [{"role": "user", "content": "scenario:text soak"}]},
        "replay stream": {"model": "claude-sonnet-4-5", "max_tokens": 1024, "stream": True, "messages": [{"role": "user", "content": "scenario:thinking soak"}]},
        "synth json": {"model": "claude-sonnet-4-5", "max_tokens": 256, "messages": [{"role": "user", "content": "never recorded"}]},
        "synth stream": {"model": "claude-sonnet-4-5", "max_tokens": 256, "stream": True, "messages": [{"role": "user", "content": "never recorded either"}]},
    }
    rec = bench.Server([tapedeck, "serve", "--mode", "record", "--upstream", fake.base, "--port", "0", "--cassette", cassette, "--log-level", "warning"])
    for name, body in bodies.items():
        if name.startswith("replay"):
            assert bench.post(rec.port, json.dumps(body))[0] == 200
    rec.stop()
    fake.stop()
    server = bench.Server([tapedeck, "serve", "--port", "0", "--cassette", cassette, "--log-level", "warning", "--on-miss", "synthesize"])
    failures = []
    baseline_fds = server.fds()
    rss = []
    for name, body in bodies.items():
        path = os.path.join(work, name.replace(" ", "_") + ".json")
        with open(path, "w") as f:
            json.dump(body, f)
        # Warm up, then measure RSS before and after the case.
        wrk_count(server.port, path, args.connections, 1_000)
        before = server.rss_mb()
        done, errors = wrk_count(server.port, path, args.connections, per_case)
        after = server.rss_mb()
        rss.append((name, before, after))
        print(f"soak: {name}: {done} requests, {errors} errors, RSS {before:.1f} -> {after:.1f} MB", flush=True)
        if errors:
            failures.append(f"{name}: {errors} errors")
        if done < per_case * 0.9:
            failures.append(f"{name}: only {done} of {per_case} requests")
        if after - before > 16:
            failures.append(f"{name}: RSS grew {after - before:.1f} MB")
    # Once the load stops, connections close and descriptors return to the baseline.
    deadline = time.monotonic() + 10
    while server.fds() > baseline_fds and time.monotonic() < deadline:
        time.sleep(0.1)
    fds = server.fds()
    print(f"soak: file descriptors {baseline_fds} before, {fds} after", flush=True)
    if fds > baseline_fds:
        failures.append(f"file descriptors {baseline_fds} -> {fds}")
    server.stop()
    if failures:
        print("soak: FAILED: " + "; ".join(failures), flush=True)
        sys.exit(1)
    print("soak: passed", flush=True)

if __name__ == "__main__":
    main()
