"""The settings for Redis beyond one server: Sentinel (`REDIS_SENTINELS`) and shards
(`REDIS_SHARDS`), read from the environment with clear errors for what cannot work."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from proctoring_site.env import Env
from proctoring_site.redis_config import (
    SentinelConfig,
    channel_layer_host,
    redis_shards,
    rq_connection,
    sentinel_config,
)


def test_sentinels_are_read_with_the_master_name_and_both_passwords():
    config = sentinel_config(
        Env(
            {
                "REDIS_SENTINELS": "10.0.0.1:26379, 10.0.0.2:26379,[::1]:26380",
                "REDIS_SENTINEL_MASTER": "exams",
                "REDIS_PASSWORD": "data-pw",
                "REDIS_SENTINEL_PASSWORD": "sentinel-pw",
            }
        )
    )
    assert config == SentinelConfig(
        sentinels=(("10.0.0.1", 26379), ("10.0.0.2", 26379), ("::1", 26380)),
        master="exams",
        password="data-pw",
        sentinel_password="sentinel-pw",
    )
    # The description shown in logs names no password.
    assert config.url == "redis+sentinel://10.0.0.1:26379,10.0.0.2:26379,::1:26380/exams"


def test_no_sentinels_means_none_and_the_master_name_defaults_to_proctoring():
    assert sentinel_config(Env({})) is None
    config = sentinel_config(Env({"REDIS_SENTINELS": "s1:26379"}))
    assert config is not None and config.master == "proctoring"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"REDIS_SENTINELS": "s1"}, "host:port"),
        ({"REDIS_SENTINELS": "s1:port"}, "host:port"),
        ({"REDIS_SENTINELS": "s1:70000"}, "host:port"),
        ({"REDIS_SENTINELS": " , "}, "lists no host:port"),
        ({"REDIS_SENTINELS": "s1:26379", "REDIS_URL": "redis://h:6379/0"}, "REDIS_URL are both set"),
        ({"REDIS_SENTINELS": "s1:26379", "REDIS_HOST": "h"}, "REDIS_HOST are both set"),
        ({"REDIS_SENTINELS": "s1:26379", "REDIS_SENTINEL_MASTER": "two words"}, "without spaces"),
        ({"REDIS_SENTINEL_MASTER": "exams"}, "without REDIS_SENTINELS"),
    ],
)
def test_sentinel_settings_that_cannot_work_are_refused(values, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        sentinel_config(Env(values))


def test_sentinel_configures_django_rq_and_the_channel_layer():
    config = sentinel_config(
        Env(
            {"REDIS_SENTINELS": "s1:26379,s2:26379", "REDIS_PASSWORD": "pw", "REDIS_SENTINEL_PASSWORD": "spw"}
        )
    )
    assert config is not None
    rq = rq_connection(config, config.url, {})
    assert rq["SENTINELS"] == [("s1", 26379), ("s2", 26379)]
    assert rq["MASTER_NAME"] == "proctoring" and rq["PASSWORD"] == "pw"
    assert rq["SENTINEL_KWARGS"]["password"] == "spw"
    host = channel_layer_host(config, config.url, {}, socket_timeout=30)
    assert host["master_name"] == "proctoring" and host["sentinels"] == [("s1", 26379), ("s2", 26379)]
    assert host["password"] == "pw" and host["sentinel_kwargs"]["password"] == "spw"
    assert host["socket_timeout"] == 30


def test_sentinel_over_tls_gives_both_kinds_of_connection_the_certificate_checks():
    config = sentinel_config(Env({"REDIS_SENTINELS": "s1:26379", "REDIS_TLS": "true"}))
    assert config is not None and config.url.startswith("rediss+sentinel://")
    tls = {"ssl_cert_reqs": "required", "ssl_check_hostname": True}
    rq = rq_connection(config, config.url, tls)
    assert rq["CONNECTION_KWARGS"]["ssl"] is True and rq["CONNECTION_KWARGS"]["ssl_cert_reqs"] == "required"
    assert rq["SENTINEL_KWARGS"]["ssl"] is True


def test_shards_are_read_and_checked():
    assert redis_shards(Env({})) == []
    urls = redis_shards(Env({"REDIS_SHARDS": "redis://a:6379/0, redis://b:6379/0"}))
    assert urls == ["redis://a:6379/0", "redis://b:6379/0"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"REDIS_SHARDS": "redis://a:6379/0,http://b/"}, "REDIS_URL must start with"),
        ({"REDIS_SHARDS": "redis://a:6379/0,rediss://b:6379/0"}, "mixes schemes"),
        ({"REDIS_SHARDS": "redis://a:6379/0,redis://a:6379/0"}, "twice"),
        ({"REDIS_SHARDS": "redis://a:6379/0", "REDIS_URL": "redis://c:6379/0"}, "both set"),
        ({"REDIS_SHARDS": "redis://a:6379/0", "REDIS_SENTINELS": "s:26379"}, "both set"),
        ({"REDIS_SHARD": "1"}, "without REDIS_SHARDS"),
    ],
)
def test_shard_settings_that_cannot_work_are_refused(values, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        redis_shards(Env(values))
