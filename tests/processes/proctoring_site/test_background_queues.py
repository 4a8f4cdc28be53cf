"""The background queues' settings: plain RQ queues, on the first shard whatever this process's
own shard is, so that every worker and gateway schedules and publishes to one place."""

from __future__ import annotations

import json

from tests.support import start_django


def test_the_background_queues_are_plain_and_live_on_the_first_shard():
    shards = "redis://127.0.0.1:7001/0,redis://127.0.0.1:7002/0"
    code = (
        "from django.conf import settings as s\n"
        "from proctoring.results import attempt_control\n"
        "import json\n"
        "print(json.dumps({'queues': s.RQ_QUEUES, 'background': s.BACKGROUND_QUEUES,"
        " 'control': attempt_control.control_redis_url()}))"
    )
    done = start_django({"REDIS_SHARDS": shards, "REDIS_SHARD": "1", "REDIS_URL": None}, code)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["background"] == ["exams", "webhooks"], "deadlines first: a worker takes in this order"
    assert seen["queues"]["proctoring"]["URL"].startswith("redis://127.0.0.1:7002/")
    assert seen["queues"]["exams"]["URL"].startswith("redis://127.0.0.1:7001/")
    assert seen["queues"]["exams"]["QUEUE_CLASS"] == "django_rq.queues.DjangoRQ"
    assert seen["queues"]["webhooks"]["URL"].startswith("redis://127.0.0.1:7001/")
    assert seen["queues"]["webhooks"]["QUEUE_CLASS"] == "django_rq.queues.DjangoRQ"
    assert seen["control"].startswith("redis://127.0.0.1:7001/")
