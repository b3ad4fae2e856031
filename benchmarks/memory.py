"""The peak memory a benchmark's child process reports of itself."""

from pathlib import Path


def peak_rss_mb() -> float:
    """This process's peak resident set (`VmHWM`), in MB. Not getrusage's `ru_maxrss`: on Linux
    a child started by fork and exec keeps its parent's peak in it, so a runner holding the
    portal's rows made every child it started look at least that big."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")
