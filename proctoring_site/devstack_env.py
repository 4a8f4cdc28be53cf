"""What `make run` chose (its Redis, its API, development mode), left in `var/devstack.env` while
it runs, so that `manage.py` in a second terminal talks to the same stack: `proctoring_token`,
`proctoring_stats`, `rqstats` just work, rather than failing on the production checks or reading
some other Redis on 6379.

Read only while the `make run` that wrote it is alive (its pid is in the file), and only by a
shell that configures no Redis of its own: a deployment, a test's child process or a developer
pointing elsewhere keeps its own settings. Values already in the environment always win.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from pathlib import Path

FILE_NAME = "devstack.env"
PID_VARIABLE = "DEVSTACK_PID"
# A shell that sets any of these has a Redis of its own in mind.
REDIS_VARIABLES = ("REDIS_URL", "REDIS_HOST", "REDIS_SENTINELS", "REDIS_SHARDS")


def write(path: Path, values: Mapping[str, str], pid: int) -> None:
    """Leaves `values` for other shells, with the pid of the process that serves them."""
    lines = [f"{name}={value}" for name, value in {**values, PID_VARIABLE: str(pid)}.items()]
    temporary = path.with_suffix(".tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write("# written by make run while it runs; removed when it stops\n" + "\n".join(lines) + "\n")
    temporary.replace(path)


def remove(path: Path, pid: int) -> None:
    """Removes the file if it is still the one `pid` wrote."""
    if read(path).get(PID_VARIABLE) == str(pid):
        path.unlink(missing_ok=True)


def read(path: Path) -> dict[str, str]:
    try:
        text = path.read_text()
    except OSError:
        return {}
    values = {}
    for line in text.splitlines():
        name, equals, value = line.partition("=")
        if equals and not name.startswith("#"):
            values[name.strip()] = value.strip()
    return values


def load(path: Path, environ: MutableMapping[str, str] | None = None) -> bool:
    """Sets the values `make run` left in `path` that `environ` lacks, if that `make run` is alive
    and `environ` names no Redis of its own. Returns whether it did."""
    environ = os.environ if environ is None else environ
    if any(environ.get(name) for name in REDIS_VARIABLES):
        return False
    values = read(path)
    pid = values.pop(PID_VARIABLE, "")
    if not pid.isdigit() or not _alive(int(pid)):
        return False
    for name, value in values.items():
        environ.setdefault(name, value)
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
