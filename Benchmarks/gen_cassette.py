#!/usr/bin/env python3
"""Fills a cassette with N synthetic interactions, fingerprinted exactly as tapedeck does, for scale benchmarks.

Usage: gen_cassette.py TAPEDECK_BIN OUT.sqlite N
The schema is created by tapedeck itself (a short record-mode start), then rows are inserted directly.
"""
import hashlib, json, os, re, sqlite3, subprocess, sys, time

def canonical(value):
    # Keys sorted by code point (= UTF-8 byte order), no whitespace, non-ASCII kept: tapedeck's canonical JSON.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

def fingerprint(method, path, body):
    body = dict(body)
    body.pop("stream", None)
    return hashlib.sha256(method.encode() + b"\0" + path.encode() + b"\0" + canonical(body)).hexdigest()

def request(i):
    return {"model": "claude-sonnet-4-5", "max_tokens": 256, "messages": [{"role": "user", "content": f"Benchmark question number {i}"}]}

def message(i):
    return {"model": "claude-sonnet-4-5-20250929", "id": "msg_01Bench%018d" % i, "type": "message", "role": "assistant",
            "content": [{"type": "text", "text": f"Recorded answer number {i}. " * 8}], "stop_reason": "end_turn",
            "stop_sequence": None, "stop_details": None,
            "usage": {"input_tokens": 12, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 40}}

def create_schema(binary, path):
    env = dict(os.environ, CI="")
    proc = subprocess.Popen([binary, "serve", "--mode", "record", "--port", "0", "--cassette", path, "--log-level", "warning",
                             "--upstream", "http://127.0.0.1:9"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    for line in proc.stdout:
        if "ANTHROPIC_BASE_URL" in line:
            break
    proc.terminate()
    proc.wait(timeout=10)

def main():
    binary, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(out + suffix):
            os.remove(out + suffix)
    create_schema(binary, out)
    db = sqlite3.connect(out)
    rows = []
    for i in range(n):
        req = request(i)
        body = json.dumps(req, separators=(",", ":")).encode()
        rows.append(("2026-01-01T00:00:00Z", "POST", "/v1/messages", None, fingerprint("POST", "/v1/messages", req), 1,
                     "[]", body, 200, json.dumps([["content-type", "application/json"], ["request-id", "req_01Bench%018d" % i]]),
                     json.dumps(message(i), separators=(",", ":")).encode(), 0, None, None, "claude-sonnet-4-5"))
    db.executemany("""INSERT INTO interaction (recorded_at, method, path, query, fingerprint, occurrence, request_headers,
                      request_body, status, response_headers, response_body, is_stream, events, message, model)
                      VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""", rows)
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()

if __name__ == "__main__":
    main()
