#!/usr/bin/env python3
"""Change -> diagnostics latency of `nasc lsp` on one file, as an editor sees it.

Usage: python3 scripts/lsp_latency.py NASC_BINARY FILE.nas
       python3 scripts/lsp_latency.py NASC_BINARY --large   (the three 5,000-line documents below)
Opens FILE, then sends 40 full-text changes (each appends a comment) and times each until the
server publishes diagnostics for it; prints the median and p95 (the 25 ms debounce included).
"""
import subprocess, json, sys, time, threading, queue, tempfile, os

def large_documents():
    """5,000-line documents: 10,000 diagnostics; 1,000 blocks with a shape error each; no errors."""
    d = tempfile.mkdtemp()
    def write(name, text):
        open(os.path.join(d, name), "w").write(text)
        return os.path.join(d, name)
    names = "model M(x: [B, 8]) -> [B, 8] {\n" + "".join(f"    let a{i} = nope{i}\n" for i in range(5000)) + "    return x\n}\n"
    def blocks(prefix, body):
        return "".join(f"block {prefix}{i}(x: [B, 8]) -> [B, 8] {{\n{body}}}\n" for i in range(1000)) + f"model M(x: [B, 8]) -> [B, 8] {{\n    return x |> {prefix}0\n}}\n"
    shapes = blocks("B", "    let y = x |> dense(4)\n    let z = y + x\n    return z |> dense(3)\n")
    ok = blocks("C", "    let y = x |> dense(8) |> relu\n    let z = y + x\n    return z |> dense(8)\n")
    return [write("errors10000.nas", names), write("shapes1000.nas", shapes), write("ok5000.nas", ok)]

binary = sys.argv[1]
if sys.argv[2] == "--large":
    for f in large_documents():
        subprocess.run([sys.executable, sys.argv[0], binary, f], check=True)
    sys.exit(0)
path = sys.argv[2]
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
