"""The gateway process loads no worker code: import-linter proves it of the imports it can see
(`make lint`); this proves it of the process itself, imports done at run time included, through
the first frame it enqueues."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.support import BASE_DIR, child_env, python

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

_PROBE = """
import asyncio, json, sys
import proctoring_site.asgi  # what daphne loads
from proctoring.core.frames import parse_image
from proctoring.queue import enqueue
from tests.support import jpeg_bytes

async def first_frame():
    await enqueue.aprepare()
    await enqueue.aenqueue_frame("probe", "probe", 1, parse_image(jpeg_bytes(), 1 << 20))

asyncio.run(first_frame())
worker = [name for name in sys.modules if name.startswith(("proctoring.worker", "proctoring.jobs"))]
print(json.dumps(sorted(worker)))
"""


def test_the_gateway_process_imports_no_worker_module(redis_conn) -> None:
    done = subprocess.run(
        python("-c", _PROBE), cwd=BASE_DIR, env=child_env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
    assert redis_conn.llen("rq:queue:proctoring") == 1, "the probe's frame was enqueued"
