"""Servers under test as subprocesses on loopback, and what they use of the machine."""

import asyncio
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
BENCH_CONFIG = ROOT / "bench" / "config.yaml"
HOST = "127.0.0.1"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class ServerFailed(Exception):
    """A server did not start, or died while it was measured."""


def free_port() -> int:
    """Return a loopback port that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Server:
    """One server process: started, polled until ready, measured, stopped."""

    def __init__(self, name: str, argv: list[str], logs: Path) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.argv = [*argv, "--port", str(self.port)]
        self.log_path = logs / f"{name}-{self.port}.log"
        self.process: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        """Return the process id of the running server."""
        assert self.process is not None, "the server was not started"
        return self.process.pid

    async def start(self) -> float:
        """Start the process; return the seconds until /healthz first said 200."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as output:
            began = time.monotonic()
            self.process = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        await self._wait_ready(began)
        elapsed = time.monotonic() - began
        log.info("Started %s (pid %s) in %.2f s", self.name, self.pid, elapsed)
        return elapsed

    async def _wait_ready(self, began: float) -> None:
        timeout = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while time.monotonic() - began < START_TIMEOUT_S:
                self.check_alive()
                try:
                    async with session.get(f"{self.url}/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.005)
        raise ServerFailed(f"{self.name} did not answer /healthz; see {self.log_path}")

    def check_alive(self) -> None:
        """Raise if the process has ended."""
        if self.process is not None and self.process.poll() is not None:
            raise ServerFailed(
                f"{self.name} exited with {self.process.returncode}; "
                f"see {self.log_path}"
            )

    def stop(self) -> None:
        """Ask the process to stop, and kill it if it does not in time."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in time; killing it", self.name)
            self.process.kill()
            self.process.wait()

    def memory_mb(self, key: str = "VmRSS") -> float:
        """Return a memory figure of /proc/<pid>/status (VmRSS, VmHWM) in MiB."""
        return memory_mb(self.pid, key)

    def reset_peak(self) -> None:
        """Lower the process's VmHWM to its current VmRSS (Linux clear_refs 5)."""
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")

    def cpu_seconds(self) -> float:
        """Return the CPU time the process has used, user and system."""
        return cpu_seconds(self.pid)


def memory_mb(pid: int, key: str) -> float:
    """Read one kB figure of a process's status file, in MiB."""
    return memory(pid)[key]


def memory(pid: int) -> dict[str, float]:
    """Read every kB figure of a process's status file at once, in MiB."""
    # The keys say _mb; the figures are MiB (kB / 1024), as top shows.
    figures = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if value.strip().endswith(" kB"):
            figures[name] = int(value.split()[0]) / 1024
    return figures


def cpu_seconds(pid: int) -> float:
    """Read utime + stime of a process's stat file, in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name may hold spaces; the fields after it are plain.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def portal_server(data: Path, logs: Path, name: str = "portal") -> Server:
    """Describe the real server on a data folder with the bench config."""
    argv = [
        sys.executable,
        "run.py",
        "serve",
        "--config",
        str(BENCH_CONFIG),
        "--data",
        str(data),
        "--host",
        HOST,
    ]
    return Server(name, argv, logs)


def baseline_server(logs: Path) -> Server:
    """Describe the bare aiohttp server, started the same way."""
    argv = [sys.executable, "bench/baseline.py", "--host", HOST]
    return Server("baseline", argv, logs)
