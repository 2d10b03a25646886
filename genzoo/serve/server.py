"""Running the explorer with uvicorn: in the foreground (`genzoo serve`), or in a thread of this process
(`BackgroundServer`, for the browser test and the load benchmark)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import torch
import uvicorn

from genzoo.errors import ConfigError
from genzoo.serve.app import create_app, load_runs, loopback_hosts


def serve(run_dirs: list[str | Path], host: str = "127.0.0.1", port: int = 8000, device: str | torch.device = "cpu",
          log_level: str = "warning", echo=print) -> None:
    """Load the runs, then serve them until Ctrl-C."""
    check_port(host, port)
    runs = load_runs(run_dirs, device)
    app = create_app(runs, allowed_hosts=loopback_hosts(host))
    shown = f"[{host}]" if ":" in host else host
    for r in runs:
        echo(f"  {r.index}  {r.name}  ({r.caps.model})")
    if loopback_hosts(host) is None:
        echo(f"warning: serving on {host}: anyone who can reach this machine on port {port} can use the explorer")
    echo(f"genzoo explorer at http://{shown}:{port}/  (Ctrl-C stops it)")
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)


def check_port(host: str, port: int) -> None:
    """A ConfigError when `host`:`port` cannot be bound (in use, or not an address of this machine)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            s.bind((host, port))
        except OSError as e:
            raise ConfigError(f"cannot serve on {host}:{port} ({e.strerror or e}): choose another --port, or a "
                              "--host address of this machine") from None


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on `host` right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class BackgroundServer:
    """`with BackgroundServer(app) as url:` serves `app` on a free loopback port in a thread; stops on exit."""

    def __init__(self, app, host: str = "127.0.0.1", port: int | None = None, timeout: float = 30.0):
        self.host, self.port, self.timeout = host, port or free_port(host), timeout
        config = uvicorn.Config(app, host=self.host, port=self.port, log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + self.timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the explorer did not start on {self.url}")
            time.sleep(0.02)
        return self.url

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(self.timeout)
