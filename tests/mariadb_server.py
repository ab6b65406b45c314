"""Start a private, throwaway MariaDB server for tests.

    server = start_mariadb(tmp_path, slow_query_log="ON", long_query_time=0)
    with server.connect(database="shop") as conn:
        ...
    server.stop()
    server.start()  # again, on the same data directory, port and socket (or: restart())

Nothing is read from the system's option files (``--no-defaults``); the data directory, unix
socket, error log and pid file all live under the given directory (the socket goes to a short
private directory under the system temp dir if the path would be too long for a unix socket).
By default the server has no TCP listener; pass ``networking=True`` to get one on a free
127.0.0.1 port (``server.port``).  Extra keyword options become ``--name=value`` server
options (``True`` -> bare ``--name``).

Tests should call :func:`require_mariadb` (or catch :class:`MariaDBUnavailable`) to skip when
the server binaries are not installed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["MariaDBServer", "MariaDBUnavailable", "find_binaries", "require_mariadb",
           "start_mariadb"]

_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes on Linux; keep a margin


class MariaDBUnavailable(RuntimeError):
    """The MariaDB server binaries are not installed (tests should skip)."""


def find_binaries() -> tuple[str, str]:
    """Return (server, install-db) paths or raise :class:`MariaDBUnavailable`."""
    server = (shutil.which("mariadbd") or shutil.which("mariadbd", path="/usr/sbin:/usr/libexec")
              or shutil.which("mysqld", path="/usr/sbin"))
    install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
    if not server or not install:
        raise MariaDBUnavailable(
            "mariadbd / mariadb-install-db not installed (apt-get install mariadb-server)"
        )
    return server, install


def require_mariadb() -> tuple[str, str]:
    """Like :func:`find_binaries` but skips the calling test when they are missing."""
    import pytest

    try:
        return find_binaries()
    except MariaDBUnavailable as exc:
        pytest.skip(str(exc))
        raise  # unreachable; keeps type checkers happy


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MariaDBServer:
    """A running server started by :func:`start_mariadb`.  ``stop()`` is idempotent."""

    def __init__(self, base: Path, datadir: Path, socket_path: Path, port: int | None,
                 error_log: Path, process: subprocess.Popen[bytes], socket_dir: Path | None,
                 command: list[str] | None = None):
        self.base = base
        self.datadir = datadir
        self.socket = str(socket_path)
        self.port = port
        self.error_log = error_log
        self.process = process
        self._socket_dir = socket_dir
        self._private_socket_dir = socket_dir  # made again by start() after stop() removed it
        self._command = command

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def connect(self, **kwargs: Any):
        """A pymysql connection as root over the unix socket (``kwargs`` go to pymysql)."""
        import pymysql

        kwargs.setdefault("charset", "utf8mb4")
        kwargs.setdefault("autocommit", True)
        return pymysql.connect(unix_socket=self.socket, user="root", password="", **kwargs)

    def error_log_tail(self, chars: int = 3000) -> str:
        try:
            return self.error_log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, timeout: float = 30.0) -> None:
        """Shut the server down cleanly (SIGTERM to our own child), killing it if it hangs."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None

    def start(self, startup_timeout: float = 60.0) -> None:
        """Start the stopped server again with the same command line: same data directory
        (kept by ``stop()``), port, socket and options. Returns once it accepts connections;
        does nothing while it runs. The port was free when first chosen; a stranger taking it
        in between makes this raise ``RuntimeError`` with the error log."""
        if self.running:
            return
        if self._command is None:
            raise RuntimeError("this server was not made by start_mariadb: no command to rerun")
        if self._private_socket_dir is not None:
            self._private_socket_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._socket_dir = self._private_socket_dir
        self.process = subprocess.Popen(self._command, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        self._wait_ready(startup_timeout)

    def restart(self, timeout: float = 30.0, startup_timeout: float = 60.0) -> None:
        """``stop()`` then ``start()``: a server restart keeping its data, port and socket."""
        self.stop(timeout)
        self.start(startup_timeout)

    def _wait_ready(self, startup_timeout: float) -> None:
        """Wait for the server greeting on the unix socket; stop it and raise on failure."""
        socket_path = Path(self.socket)
        deadline = time.monotonic() + startup_timeout
        while True:
            if self.process.poll() is not None:
                returncode = self.process.returncode
                self.stop()
                raise RuntimeError(f"mariadbd exited with {returncode}:\n"
                                   f"{self.error_log_tail()}")
            if socket_path.exists():
                try:
                    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                        s.settimeout(2)
                        s.connect(str(socket_path))
                        if s.recv(4):  # the server greeting: it is ready
                            return
                except OSError:
                    pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"mariadbd did not start within {startup_timeout}s:\n"
                                   f"{self.error_log_tail()}")
            time.sleep(0.05)

    def __enter__(self) -> MariaDBServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _option(name: str, value: Any) -> str:
    name = name.replace("_", "-")
    if value is True:
        return f"--{name}"
    return f"--{name}={value}"


def start_mariadb(tmpdir: str | os.PathLike[str], *, networking: bool = False,
                  startup_timeout: float = 60.0, **options: Any) -> MariaDBServer:
    """Initialise a data directory under ``tmpdir`` and start ``mariadbd`` on it.

    Returns once the server accepts connections.  Raises :class:`MariaDBUnavailable` when the
    binaries are missing and ``RuntimeError`` (with the error log) when startup fails.
    """
    server_bin, install_bin = find_binaries()
    base = Path(tmpdir)
    base.mkdir(parents=True, exist_ok=True)
    datadir = base / "data"
    error_log = base / "mariadbd.err"
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0

    install = [install_bin, "--no-defaults", f"--datadir={datadir}",
               "--auth-root-authentication-method=normal", "--skip-test-db"]
    if is_root:
        install.append("--user=root")
    done = subprocess.run(install, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"mariadb-install-db failed ({done.returncode}):\n"
                           f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}")

    socket_dir = None
    socket_path = base / "mariadbd.sock"
    if len(str(socket_path)) > _SOCKET_PATH_MAX:
        socket_dir = Path(tempfile.mkdtemp(prefix="mdb"))
        socket_path = socket_dir / "s.sock"
    port = _free_port() if networking else None

    cmd = [server_bin, "--no-defaults", f"--datadir={datadir}", f"--socket={socket_path}",
           f"--pid-file={base / 'mariadbd.pid'}", f"--log-error={error_log}",
           "--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci",
           "--innodb-buffer-pool-size=16M", "--skip-name-resolve"]
    if networking:
        cmd += [f"--port={port}", "--bind-address=127.0.0.1"]
    else:
        cmd += ["--port=0", "--skip-networking"]
    if is_root:
        cmd.append("--user=root")
    cmd += [_option(k, v) for k, v in options.items()]

    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = MariaDBServer(base, datadir, socket_path, port, error_log, process, socket_dir,
                           command=cmd)
    server._wait_ready(startup_timeout)
    return server
