#!/usr/bin/env python3
"""Lyon's latency while Paris's module misbehaves (issue 14), against a running server.

Started by bench/sandbox.sh, which provisions the server. For each scenario, Paris's module is
switched back on (a fault may have switched it off), `clients` threads ask Paris's attack route
again as soon as answered, and Lyon's probes measure, one after another:
  - sign-in: GET /connexion then POST /connexion (a real account, a session written);
  - module: GET /m/hostile/ping (a module call);
  - write: GET /m/hostile/write (a module call that writes to the module's storage);
  - home: GET / (the commune's home page).
Prints p50/p99 per probe, and their ratio to the at-rest figures of the same run.

Usage: sandbox_load.py BIN PORT BASE_DOMAIN PARIS LYON ACCOUNTS PASSWORD SECONDS
"""

import http.client
import os
import re
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

BIN, PORT, BASE, PARIS, LYON = sys.argv[1:6]
PORT = int(PORT)
ACCOUNTS = int(sys.argv[6])
PASSWORD = sys.argv[7]
SECONDS = float(sys.argv[8])
ROOT = Path(__file__).resolve().parent.parent

# (name, method, module, route, concurrent Paris clients). A route absent from the module's
# source is skipped (the assailant grows one file per wall).
SCENARIOS = [
    ("writer held: write + 300 ms, 16 clients", "POST", "assailant",
     "/runtime/hold-write?ms=300&value=held", 16),
    ("writer held: read, spin 300 ms, write", "GET", "hostile", "/write?wait_ms=300&value=x", 6),
    ("slow reads: transaction held 1 s", "GET", "assailant", "/runtime/hold-db?ms=1000", 16),
    ("CPU loops (hostile loop)", "GET", "hostile", "/loop", 6),
    ("memory bombs (hostile memory)", "GET", "hostile", "/memory", 6),
    ("memory held: 60 MiB for 1 s", "GET", "assailant", "/runtime/memory?mib=60&hold_ms=1000", 16),
    ("write then checkouts until deadline", "GET", "assailant", "/runtime/write-then-spin", 4),
    ("checkouts loop (n=30000)", "GET", "assailant", "/runtime/checkouts", 4),
    ("WASI sleep 5 s", "GET", "assailant", "/runtime/sleep?ms=5000", 8),
    ("storage fill (100 × 256 KiB a call)", "GET", "assailant", "/storage/fill?count=100", 2),
    ("notice flood (n=5000)", "GET", "assailant", "/volumes/notices?n=5000", 2),
    ("e-mail flood (n=5000)", "GET", "assailant", "/volumes/notices?n=5000&email=1", 2),
    ("SMS flood (5000 numbers)", "GET", "assailant", "/volumes/sms?numbers=5000", 2),
    ("feed posts flood (n=2000)", "GET", "assailant", "/volumes/posts?n=2000", 2),
    ("huge bodies (20 MiB)", "GET", "assailant", "/volumes/body", 2),
]


# SANDBOX_SCENARIOS=1,3: only those (numbered from 1 as listed), for a quick look.
if os.environ.get("SANDBOX_SCENARIOS"):
    SCENARIOS = [SCENARIOS[int(i) - 1]
                 for i in os.environ["SANDBOX_SCENARIOS"].split(",")]


def route_exists(module, route):
    path = route.split("?")[0]
    sources = ROOT / "modules" / module / "src"
    text = "".join(p.read_text() for p in sources.glob("*.rs"))
    return f'"{path}"' in text


def conn():
    return http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)


def request(c, method, host, path, headers=None, body=None):
    h = {"Host": f"{host}.{BASE}"}
    h.update(headers or {})
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    return r.status, r.getheader("Set-Cookie") or "", data


class Probe:
    def __init__(self):
        self.times = {"sign-in": [], "module": [], "write": [], "home": []}
        self.failures = {k: 0 for k in self.times}
        self.login_index = 0

    def timed(self, kind, fn):
        started = time.monotonic()
        try:
            ok = fn()
        except Exception:
            ok = False
        took = time.monotonic() - started
        self.times[kind].append(took)
        if not ok:
            self.failures[kind] += 1

    def sign_in(self, scenario):
        # One account per sign-in of a scenario (5 attempts a minute per address), and a client
        # address per sign-in (20 a minute per address; the server trusts X-Forwarded-For).
        i = self.login_index
        self.login_index += 1
        forwarded = {"X-Forwarded-For": f"10.{scenario}.{i // 250}.{i % 250 + 1}"}
        c = conn()
        status, cookie, html = request(c, "GET", LYON, "/connexion", forwarded)
        if status != 200:
            return False
        token = re.search(rb'name="csrf_token" value="([^"]+)"', html)
        if not token:
            return False
        cookies = "; ".join(part.split(";")[0] for part in cookie.split(", ") if "=" in part)
        body = urllib.parse.urlencode({
            "csrf_token": token.group(1).decode(),
            "email": f"habitant{i % ACCOUNTS}@lyon.fr",
            "password": PASSWORD,
            "next": "/",
        })
        headers = dict(forwarded)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        if cookies:
            headers["Cookie"] = cookies
        status, _, _ = request(c, "POST", LYON, "/connexion", headers, body)
        c.close()
        return status == 303

    def run(self, scenario, seconds):
        c = conn()
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            if self.login_index < ACCOUNTS:
                self.timed("sign-in", lambda: self.sign_in(scenario))
            self.timed("module", lambda: request(c, "GET", LYON, "/m/hostile/ping")[0] == 200)
            self.timed("write", lambda: request(
                c, "GET", LYON, "/m/hostile/write?value=lyon")[0] == 200)
            self.timed("home", lambda: request(c, "GET", LYON, "/")[0] == 200)
        c.close()


def form_token(c, slug):
    """A CSRF token and its cookie, from the sign-in form (a module POST needs them)."""
    status, cookie, html = request(c, "GET", slug, "/connexion")
    token = re.search(rb'name="csrf_token" value="([^"]+)"', html)
    cookies = "; ".join(part.split(";")[0] for part in cookie.split(", ") if "=" in part)
    return (token.group(1).decode() if token else ""), cookies


def attack(method, path, stop, statuses, lock):
    c = None
    token = cookies = None
    while not stop.is_set():
        try:
            c = c or conn()
            if method == "POST":
                if token is None:
                    token, cookies = form_token(c, PARIS)
                body = urllib.parse.urlencode({"csrf_token": token})
                headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookies}
                status, _, _ = request(c, "POST", PARIS, path, headers, body)
            else:
                status, _, _ = request(c, "GET", PARIS, path)
        except Exception:
            status = "error"
            c = None
        with lock:
            statuses[status] = statuses.get(status, 0) + 1


def enable(module):
    subprocess.run([BIN, "module", "enable", "--tenant", PARIS, module], check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def percentile(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main():
    rows = []
    rest = None
    runs = [("at rest", None, None, None, 0)] + SCENARIOS
    for n, (name, method, module, route, clients) in enumerate(runs):
        if module and not route_exists(module, route):
            rows.append((name, None, None, "route absent: skipped"))
            continue
        statuses, lock, stop = {}, threading.Lock(), threading.Event()
        threads = []
        if module:
            enable(module)
            time.sleep(3)  # running servers pick the switch up within seconds
            path = f"/m/{module}{route}"
            threads = [threading.Thread(target=attack, args=(method, path, stop, statuses, lock))
                       for _ in range(clients)]
            for t in threads:
                t.start()
            time.sleep(1.5)  # the attack under way
        probe = Probe()
        probe.run(n + 1, SECONDS)
        stop.set()
        for t in threads:
            t.join()
        figures = {k: (percentile(v, 0.5), percentile(v, 0.99), len(v), probe.failures[k])
                   for k, v in probe.times.items()}
        if rest is None:
            rest = figures
        paris = ", ".join(f"{k}×{v}" for k, v in sorted(statuses.items(), key=str))
        rows.append((name, figures, clients, paris or "-"))
        print(f"  done: {name}", file=sys.stderr, flush=True)
        time.sleep(2)  # let queues drain before the next scenario

    print(f"{'Paris misbehaving':44} {'probe':8} {'p50 ms':>8} {'p99 ms':>8} {'×rest p50':>9} "
          f"{'×rest p99':>9} {'n':>4} {'fail':>4}  Paris answers")
    for name, figures, clients, paris in rows:
        if figures is None:
            print(f"{name:44} {paris}")
            continue
        for i, (kind, (p50, p99, count, failed)) in enumerate(figures.items()):
            r50 = p50 / rest[kind][0] if rest[kind][0] else float("nan")
            r99 = p99 / rest[kind][1] if rest[kind][1] else float("nan")
            label = name if i == 0 else ""
            tail = f"  {clients} clients: {paris}" if i == 0 and clients else ""
            print(f"{label:44} {kind:8} {p50 * 1000:8.1f} {p99 * 1000:8.1f} {r50:9.2f} "
                  f"{r99:9.2f} {count:4} {failed:4}{tail}")


if __name__ == "__main__":
    main()
