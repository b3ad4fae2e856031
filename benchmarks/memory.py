"""The peak memory of a benchmark's process, read from /proc."""

from pathlib import Path


def peak_rss_mb(pid: int | str = "self") -> float:
    """The peak resident set (`VmHWM`) of process `pid` (default: this one), in MB. Not
    getrusage's `ru_maxrss`: on Linux a child started by fork and exec keeps its parent's peak
    in it, so a runner holding the portal's rows made every child it started look at least that
    big. Read a child's before it is reaped."""
    status = Path(f"/proc/{pid}/status")
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM in {status}")
