"""The folder of prometheus-client's multiprocess mode, for `runtime-api serve`.

Kept apart from everything that imports prometheus_client: the library picks its storage when
it is first imported, so `serve` must set `PROMETHEUS_MULTIPROC_DIR` before that happens in
its own process and in the workers uvicorn spawns (they inherit the environment).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def prepare_multiprocess_dir() -> tuple[Path, bool]:
    """Point prometheus-client at a folder for `serve`'s processes. Returns the folder and
    whether it is ours to remove at exit. A folder the operator named is emptied: the files of
    an earlier server would add its counts to ours."""
    if "prometheus_client" in sys.modules:  # its metrics would stay in this process's memory
        raise RuntimeError("prometheus_client was imported before its multiprocess folder was set")
    given = multiprocess_dir()
    if given is not None:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink(missing_ok=True)
        return path, False
    # On tmpfs when there is one: every metric update writes to these files' pages, and a
    # disk-backed mapping adds write-back faults to the requests that touch them.
    shm = Path("/dev/shm")
    parent = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
    path = Path(tempfile.mkdtemp(prefix="runtime-api-metrics-", dir=parent))
    os.environ[MULTIPROC_ENV] = str(path)
    return path, True


def remove_multiprocess_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
