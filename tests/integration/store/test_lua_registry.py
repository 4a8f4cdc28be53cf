"""The Lua scripts run by SHA and survive a Redis that has lost them (a restart, a failover):
on a client, on a pipeline and on an asyncio client."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any, cast

import redis.asyncio

from proctoring.store import keys, lua, scripts


def failure(client: Any) -> Any:
    return scripts.breaker_failure(
        client,
        api_failures=keys.api_failures(),
        circuit_open=keys.api_circuit_open(),
        threshold=2,
        cooldown=5,
        now=1.0,
    )


def test_a_script_is_called_by_its_sha_and_loaded_again_when_redis_has_lost_it(redis_conn: Any) -> None:
    assert failure(redis_conn) is False
    sha = hashlib.sha1(lua.script("breaker_failure.lua").text.encode()).hexdigest()
    assert redis_conn.script_exists(sha) == [True]
    redis_conn.script_flush()
    assert failure(redis_conn) is True  # the second failure opens the circuit
    assert redis_conn.get(keys.api_failures()) == b"2"


def test_a_pipeline_loads_the_scripts_redis_lacks_before_it_runs(redis_conn: Any) -> None:
    redis_conn.script_flush()
    with redis_conn.pipeline(transaction=True) as pipe:
        scripts.fairness_join(
            pipe, waiting=keys.client_waiting("c"), sparse_ring=keys.clients_ring_sparse(), job_id="j",
            client_id="c", at_front=False, ttl=60,
        )  # fmt: skip
        pipe.llen(keys.client_waiting("c"))
        assert pipe.execute() == [None, 1]
    assert redis_conn.lrange(keys.clients_ring_sparse(), 0, -1) == [b"c"]


def test_an_asyncio_client_runs_the_same_script(redis_conn: Any) -> None:
    async def run() -> None:
        pool = redis.asyncio.ConnectionPool(**redis_conn.connection_pool.connection_kwargs)
        client = redis.asyncio.Redis(connection_pool=pool)
        try:
            await client.script_flush()
            # Any script: the dispatch is lua.Script's (the gateway's enqueue is the asyncio one).
            await scripts.fairness_join(
                cast(Any, client), waiting=keys.client_waiting("c"), sparse_ring=keys.clients_ring_sparse(),
                job_id="j", client_id="c", at_front=True, ttl=60,
            )  # fmt: skip
        finally:
            await client.aclose()
            await pool.disconnect()

    asyncio.run(run())
    assert redis_conn.lrange(keys.client_waiting("c"), 0, -1) == [b"j"]
