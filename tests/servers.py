"""Real servers for the tests: nx-27017 (MongoDB wire protocol) and moto (AWS), each on a
free loopback port. Started by fixtures in conftest.py; nothing here is a mock."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(wsgi_app) -> Iterator[int]:
    """Serve a WSGI app (threaded, as `python app.py` does) on a free loopback port."""
    from werkzeug.serving import make_server

    port = free_port()
    server = make_server("127.0.0.1", port, wsgi_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield port
    finally:
        server.shutdown()


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@dataclass
class NxServer:
    """A running nx-27017 process; `url(db)` gives a DATABASE_URL for one logical database."""

    process: subprocess.Popen
    port: int

    def url(self, database: str) -> str:
        return f"mongodb://127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_nx(data_dir: Path, port: int | None = None) -> NxServer:
    """Start nx-27017 on `data_dir` (a free port, or `port` to bring a stopped one back)."""
    binary = shutil.which("nx-27017") or str(Path(sys.executable).parent / "nx-27017")
    if not Path(binary).exists():
        raise RuntimeError("nx-27017 is not installed (pip install -r requirements-dev.txt)")
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [binary, "--host", "127.0.0.1", "-p", str(port), "--data-dir", str(data_dir / "db"),
         "--log-file", str(data_dir / "nx.log"), "--pid-file", str(data_dir / "nx.pid")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy(),
    )
    wait_for_port(port)
    return NxServer(process, port)


@dataclass
class MotoServer:
    """moto's HTTP server (the real AWS API surface, in-process); `reset()` empties it."""

    server: object
    url: str

    def reset(self) -> None:
        import urllib.request

        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=10).read()

    def stop(self) -> None:
        self.server.stop()


def start_moto() -> MotoServer:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return MotoServer(server, f"http://{host}:{port}")
