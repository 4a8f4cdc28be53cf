from django.conf import settings

from tests import redis_plugin


def test_suite_uses_its_own_redis(redis_conn):
    assert settings.REDIS_URL == redis_plugin.redis_server().url
    assert redis_conn.ping()
