#!/usr/bin/env python3
"""Change -> diagnostics latency of `nasc lsp` on one file, as an editor sees it.

Usage: python3 scripts/lsp_latency.py NASC_BINARY FILE.nas
Opens FILE, then sends 40 full-text changes (each appends a comment) and times each until the
server publishes diagnostics for it; prints the median and p95 (the 25 ms debounce included).
"""
import subprocess, json, sys, time, threading, queue
binary = sys.argv[1]; path = sys.argv[2]
p = subprocess.Popen([binary,"lsp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
q = queue.Queue()
def send(obj):
    b = json.dumps(obj).encode(); p.stdin.write(b"Content-Length: %d\r\n\r\n" % len(b) + b); p.stdin.flush()
def reader():
    while True:
        line = p.stdout.readline()
        if not line: return
        if line.startswith(b"Content-Length"):
            n = int(line.split(b":")[1]); p.stdout.readline(); q.put(json.loads(p.stdout.read(n)))
threading.Thread(target=reader, daemon=True).start()
send({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{}}}); q.get()
send({"jsonrpc":"2.0","method":"initialized","params":{}})
text = open(path).read(); uri = "file:///tmp/lat.nas"
send({"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":uri,"languageId":"nas","version":1,"text":text}}})
def diags():
    while True:
        m = q.get(timeout=60)
        if m.get("method") == "textDocument/publishDiagnostics": return m
diags(); times=[]
for v in range(2, 42):
    t = time.time()
    send({"jsonrpc":"2.0","method":"textDocument/didChange","params":{"textDocument":{"uri":uri,"version":v},"contentChanges":[{"text":text+f"// {v}\n"}]}})
    diags(); times.append((time.time()-t)*1000)
times.sort(); print(f"{path}: {text.count(chr(10))} lines, change -> diagnostics median {times[20]:.1f} ms, p95 {times[37]:.1f} ms (25 ms debounce included)")
p.kill()
