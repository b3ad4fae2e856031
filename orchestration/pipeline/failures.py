"""Failures a user can act on, told apart from the rest: a full disk surfaces as an engine's
I/O error, a model's runtime error or an `OSError`, and must read as a full disk wherever it
happens."""

import errno
from pathlib import Path

NO_SPACE = "No space left on device"  # ENOSPC, as every layer (OS, DuckDB, Postgres) words it


def disk_full(error: BaseException | str) -> bool:
    """Whether an error (or its message, or any cause it chains) says the disk is full."""
    seen: set[int] = set()
    while isinstance(error, BaseException) and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            return True
        if NO_SPACE.lower() in str(error).lower():
            return True
        error = error.__cause__ or error.__context__
    return isinstance(error, str) and NO_SPACE.lower() in error.lower()


def disk_full_hint(where: Path | str) -> str:
    """What to do, for the folder (or the server) whose disk filled up."""
    place = f"the disk holding {Path(where).resolve()}" if isinstance(where, Path) else where
    return (f"{place} is full: free space there (or move it to a larger disk) and run again; "
            "nothing loaded was lost")
