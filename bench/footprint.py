#!/usr/bin/env python3
"""The footprint bench's measuring part (scripts/bench-footprint.sh builds the apps and runs this
under Xvfb, in a private D-Bus session with an unlocked gnome-keyring).

It compares the release Paydesk app with a minimal Tauri v2 app (bench/footprint-baseline) built
with the same toolchain, and prints each figure beside the baseline's, with the ratio and target:

- start-up: the time from starting the app to its first interactive frame. Both apps are started
  by tauri-driver (WebKitWebDriver), which polls the page every POLL_S for the element a person
  would use first: Paydesk's sign-in form (shown once the UI's `status` call says the embedded
  default is ready), the baseline's button (shown once its one command answered at mount). The
  WebDriver overhead is the same for both. Paydesk's "UI mounted" (its first screen of any kind,
  e.g. "Connecting...") is printed too. One untimed-for-the-ratio first start per app (Paydesk
  seeds its fresh data folder then), then RUNS starts each, interleaved; the median counts.
- idle memory: each app started on its own (no WebDriver), left alone IDLE_S seconds, then the
  PSS of its process and every descendant (WebKitWebProcess, WebKitNetworkProcess) is summed from
  /proc/<pid>/smaps_rollup. Paydesk's figure includes the embedded central (SQLite) and sandbox
  gateway, which run in its process.
- binary size: the two release executables as built (cargo's release profile strips debuginfo).

Standard library only.
"""

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

POLL_S = 0.015
START_TIMEOUT_S = 60.0
MEMORY_TARGET = 1.3
STARTUP_TARGET = 1.5


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Driver:
    """A minimal W3C WebDriver client for tauri-driver (only the calls the bench makes)."""

    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"

    def call(self, method, path, body=None, timeout=START_TIMEOUT_S):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.load(response).get("value")
        except urllib.error.HTTPError as e:
            value = json.load(e).get("value") or {}
            raise RuntimeError(f"{value.get('error')}: {value.get('message')}") from None

    def listening(self):
        try:
            self.call("GET", "/status", timeout=1)
            return True
        except (OSError, RuntimeError):
            return False

    def new_session(self, app):
        caps = {"capabilities": {"alwaysMatch": {"browserName": "wry", "tauri:options": {"application": app}}}}
        return self.call("POST", "/session", caps)["sessionId"]

    def exists(self, session, css):
        try:
            self.call("POST", f"/session/{session}/element", {"using": "css selector", "value": css})
            return True
        except RuntimeError as e:
            if str(e).startswith("no such element"):
                return False
            raise
        except (OSError, http.client.HTTPException):
            # tauri-driver now and then drops a connection while the app starts: not found yet
            # (the start's time limit still holds).
            return False

    def delete_session(self, session):
        try:
            self.call("DELETE", f"/session/{session}", timeout=15)
        except (OSError, RuntimeError) as e:
            print(f"  (closing the session: {e})", file=sys.stderr)


def start_driver(tauri_driver, env):
    port, native = free_port(), free_port()
    proc = subprocess.Popen(
        [tauri_driver, "--port", str(port), "--native-port", str(native)],
        env={**env, "TAURI_WEBVIEW_AUTOMATION": "true"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    driver = Driver(port)
    deadline = time.monotonic() + 20
    while not driver.listening():
        if time.monotonic() > deadline or proc.poll() is not None:
            stop_group(proc)
            sys.exit("tauri-driver did not start listening")
        time.sleep(0.05)
    return proc, driver


def stop_group(proc):
    """SIGTERM to the process group, SIGKILL if it lingers."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    # Children the leader left behind in the group (WebKit's processes).
    for _ in range(50):
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def time_start(driver, app):
    """Seconds from asking for the app to (UI mounted, first interactive frame)."""
    for attempt in range(3):
        started = time.monotonic()
        try:
            session = driver.new_session(app["bin"])
            break
        except (OSError, http.client.HTTPException) as e:
            # tauri-driver now and then drops the connection of a session asked for right after
            # the previous one closed; that start is not timed, the next one is.
            print(f"  ({app['name']}: the session did not start ({e!r}); starting it again)", file=sys.stderr)
            time.sleep(2)
    else:
        sys.exit(f"{app['name']}: tauri-driver did not start a session in 3 tries")
    mounted = ready = None
    try:
        while ready is None:
            now = time.monotonic()
            if now - started > START_TIMEOUT_S:
                sys.exit(f"{app['name']}: no {app['ready_css']} after {START_TIMEOUT_S:.0f} s")
            if mounted is None and driver.exists(session, app["mounted_css"]):
                mounted = time.monotonic() - started
            if driver.exists(session, app["ready_css"]):
                ready = time.monotonic() - started
                mounted = mounted if mounted is not None else ready
                break
            time.sleep(POLL_S)
    finally:
        driver.delete_session(session)
        # Let the app and its WebKit processes go before the next start (not timed).
        time.sleep(2)
    return mounted, ready


def children_map():
    kids = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def process_tree(pid):
    kids, tree, todo = children_map(), [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(kids.get(p, []))
    return tree


def pss_kib(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    raise RuntimeError(f"no Pss in /proc/{pid}/smaps_rollup")


def process_name(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


def idle_memory(app, env, seconds):
    """Total PSS (KiB) of the app and its descendants after `seconds` idle, and the breakdown."""
    proc = subprocess.Popen(
        [app["bin"]], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        time.sleep(seconds)
        if proc.poll() is not None:
            sys.exit(f"{app['name']} exited with {proc.returncode} while idle")
        parts = []
        for pid in process_tree(proc.pid):
            try:
                parts.append((process_name(pid), pss_kib(pid)))
            except (OSError, RuntimeError):
                pass
        return sum(k for _, k in parts), parts
    finally:
        stop_group(proc)


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def verdict(ratio, target):
    return f"<= {target}x  {'met' if ratio <= target else 'MISSED'}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paydesk", required=True)
    parser.add_argument("--baseline", required=True)
    parser.add_argument("--tauri-driver", required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle-seconds", type=float, default=60)
    parser.add_argument("--skip-startup", action="store_true")
    args = parser.parse_args()

    env = dict(os.environ)
    apps = {
        "paydesk": {
            "name": "Paydesk",
            "bin": os.path.abspath(args.paydesk),
            "mounted_css": "main > *",
            "ready_css": '[data-testid="sign-in-form"]',
        },
        "baseline": {
            "name": "baseline",
            "bin": os.path.abspath(args.baseline),
            "mounted_css": '[data-testid="ready"]',
            "ready_css": '[data-testid="ready"]',
        },
    }
    print(f"load average (1, 5, 15 min) at start: {load()}")

    startup = {}
    if not args.skip_startup:
        proc, driver = start_driver(args.tauri_driver, env)
        try:
            first = {}
            for key in ("baseline", "paydesk"):
                first[key] = time_start(driver, apps[key])
                print(f"  first start {apps[key]['name']}: ready {first[key][1]:.3f} s (fresh data folder)")
            runs = {"baseline": [], "paydesk": []}
            for i in range(args.runs):
                for key in ("baseline", "paydesk"):
                    runs[key].append(time_start(driver, apps[key]))
                print(
                    f"  run {i + 1}: Paydesk mounted {runs['paydesk'][-1][0]:.3f} s, "
                    f"ready {runs['paydesk'][-1][1]:.3f} s; baseline ready {runs['baseline'][-1][1]:.3f} s"
                )
            for key in runs:
                startup[key] = (
                    statistics.median(r[0] for r in runs[key]),
                    statistics.median(r[1] for r in runs[key]),
                    min(r[1] for r in runs[key]),
                    max(r[1] for r in runs[key]),
                )
        finally:
            stop_group(proc)

    memory = {}
    for key in ("baseline", "paydesk"):
        total, parts = idle_memory(apps[key], env, args.idle_seconds)
        memory[key] = total
        detail = ", ".join(f"{name} {kib / 1024:.1f}" for name, kib in parts)
        print(f"  idle {args.idle_seconds:.0f} s {apps[key]['name']}: {total / 1024:.1f} MiB PSS ({detail})")

    size = {key: os.path.getsize(apps[key]["bin"]) for key in apps}

    print()
    print(f"{'what':<42} {'Paydesk':>12} {'baseline':>12} {'ratio':>7}  target")
    mem_ratio = memory["paydesk"] / memory["baseline"]
    print(
        f"{'idle memory, PSS app + WebKit (MiB)':<42} {memory['paydesk'] / 1024:>12.1f} "
        f"{memory['baseline'] / 1024:>12.1f} {mem_ratio:>6.2f}x  {verdict(mem_ratio, MEMORY_TARGET)}"
    )
    if startup:
        p, b = startup["paydesk"], startup["baseline"]
        ratio = p[1] / b[1]
        print(
            f"{'start to first interactive frame (s, med)':<42} {p[1]:>12.3f} {b[1]:>12.3f} "
            f"{ratio:>6.2f}x  {verdict(ratio, STARTUP_TARGET)}"
        )
        print(f"{'  range over the runs (s)':<42} {f'{p[2]:.3f}-{p[3]:.3f}':>12} {f'{b[2]:.3f}-{b[3]:.3f}':>12}")
        print(f"{'  start to UI mounted (s, median)':<42} {p[0]:>12.3f} {b[0]:>12.3f} {p[0] / b[0]:>6.2f}x")
    print(
        f"{'binary size (MiB)':<42} {size['paydesk'] / 2**20:>12.1f} {size['baseline'] / 2**20:>12.1f} "
        f"{size['paydesk'] / size['baseline']:>6.2f}x  (no target)"
    )
    print(
        "memory growth after 1,000 charges and a 10,000-result drain: not measured (the bench does "
        "not drive charges through the desktop yet)"
    )
    print(f"load average (1, 5, 15 min) at end: {load()}")


if __name__ == "__main__":
    main()
