"""Load benchmark of `genzoo serve`: concurrent clients asking for 64-image sample grids.

Starts `genzoo serve RUN` in a subprocess on a free loopback port (RUN: given, or a tiny DCGAN trained
here in a few seconds: 10 steps, default widths, mnist-mini), then C client threads send R requests in all
(GET /api/runs/0/grid.png?n=64&seed=i, a different seed each, so nothing is cached), and checks every
answer: status 200, image/png, a PNG that decodes to the grid's size. Prints p50/p95/max latency,
failures and requests/s, and writes bench/results/serve_load.json. Traffic goes to 127.0.0.1 only;
the number of requests and a time limit bound it.

    flock /tmp/genzoo-heavy.lock python bench/serve_load.py                 # 10 clients, 500 requests
    python bench/serve_load.py --run runs/dcgan-mnist-mini-... --clients 4 --requests 40
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def check_png(data: bytes, size: tuple[int, int] | None = None) -> str | None:
    """None when `data` is a PNG that decodes (to `size` = (width, height) when given), else what is wrong."""
    from PIL import Image

    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "not a PNG"
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            if size is not None and im.size != size:
                return f"a {im.size[0]}x{im.size[1]} image, expected {size[0]}x{size[1]}"
    except Exception as e:  # noqa: BLE001 - any decoding failure is a failed request
        return f"does not decode ({type(e).__name__})"
    return None


def run_load(base_url: str, clients: int, requests: int, n: int = 64, size: tuple[int, int] | None = None,
             timeout: float = 60.0, deadline_s: float = 600.0) -> dict:
    """`requests` GETs of an n-image grid from `clients` threads; latencies and failures. Stops early (the
    rest counted as failures) once `deadline_s` have passed."""
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    counter = iter(range(requests))
    start = time.perf_counter()

    def client():
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            if time.perf_counter() - start > deadline_s:
                with lock:
                    failures.append(f"request {i}: not sent, past the {deadline_s:.0f} s limit")
                continue
            url = f"{base_url}/api/runs/0/grid.png?n={n}&seed={i}"
            t0 = time.perf_counter()
            problem = None
            try:
                with urllib.request.urlopen(url, timeout=timeout) as r:
                    body, status, kind = r.read(), r.status, r.headers.get("content-type")
                if status != 200 or kind != "image/png":
                    problem = f"status {status}, {kind}"
                else:
                    problem = check_png(body, size)
            except (urllib.error.URLError, OSError) as e:
                problem = f"{type(e).__name__}: {e}"
            elapsed = time.perf_counter() - t0
            with lock:
                if problem:
                    failures.append(f"request {i}: {problem}")
                else:
                    latencies.append(elapsed)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    ms = sorted(x * 1000 for x in latencies)

    def pct(p: float) -> float | None:
        return round(ms[min(len(ms) - 1, int(round(p / 100 * (len(ms) - 1))))], 1) if ms else None

    return {"clients": clients, "requests": requests, "images_per_request": n, "ok": len(latencies),
            "failures": len(failures), "failure_examples": failures[:5], "wall_s": round(wall, 2),
            "requests_per_s": round(len(latencies) / wall, 1) if wall else None,
            "p50_ms": pct(50), "p95_ms": pct(95), "max_ms": round(ms[-1], 1) if ms else None,
            "mean_ms": round(statistics.fmean(ms), 1) if ms else None}


def tiny_run(folder: Path) -> Path:
    """A DCGAN trained for 10 steps on mnist-mini (seconds): real weights, real network sizes."""
    out = folder / "dcgan"
    subprocess.run([sys.executable, "-m", "genzoo", "train", "dcgan", "--steps", "10", "--batch-size", "32",
                    "--out", str(out), "--quiet", "--set", "data.limit=512"], check=True, env=_env(), cwd=ROOT)
    return out


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def start_server(run: Path, port: int, timeout: float = 120.0) -> subprocess.Popen:
    """`genzoo serve RUN --port PORT` in a subprocess, returned once it answers."""
    proc = subprocess.Popen([sys.executable, "-m", "genzoo", "serve", str(run), "--port", str(port)],
                            env=_env(), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"genzoo serve exited ({proc.returncode}): {proc.stderr.read()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/runs", timeout=2):
                return proc
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError(f"genzoo serve did not answer on port {port} within {timeout:.0f} s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", type=Path, help="run folder to serve (default: train a tiny DCGAN)")
    p.add_argument("--clients", type=int, default=10)
    p.add_argument("--requests", type=int, default=500)
    p.add_argument("--n", type=int, default=64, help="images per grid")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "serve_load.json")
    args = p.parse_args()

    from genzoo.serve.server import free_port

    with tempfile.TemporaryDirectory() as tmp:
        run = args.run or tiny_run(Path(tmp))
        port = free_port()
        server = start_server(run, port)
        try:
            base = f"http://127.0.0.1:{port}"
            with urllib.request.urlopen(f"{base}/api/runs/0") as r:
                info = json.load(r)
            c, h, w = info["image"]
            cols = int(args.n ** 0.5 + 0.999999)  # make_grid's default: ceil(sqrt(n)) per row
            rows = -(-args.n // cols)
            size = (cols * (w + 2) + 2, rows * (h + 2) + 2)
            run_load(base, 2, 4, args.n, size)  # warm-up (not counted)
            res = run_load(base, args.clients, args.requests, args.n, size)
        finally:
            server.terminate()
            server.wait(30)
    res.update(model=info["model"], image=info["image"], cpu_threads=os.cpu_count(), platform=platform.platform(),
               python=platform.python_version(), when=time.strftime("%Y-%m-%d %H:%M:%S"))
    print(f"{res['requests']} requests for {args.n}-image grids of {info['model']} ({c}x{h}x{w}), "
          f"{res['clients']} concurrent clients:")
    print(f"  p50 {res['p50_ms']} ms   p95 {res['p95_ms']} ms   max {res['max_ms']} ms   "
          f"{res['requests_per_s']} requests/s   failures {res['failures']}   wall {res['wall_s']} s")
    for f in res["failure_examples"]:
        print("  " + f)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n")
    print(f"wrote {args.out}")
    sys.exit(1 if res["failures"] else 0)


if __name__ == "__main__":
    main()
