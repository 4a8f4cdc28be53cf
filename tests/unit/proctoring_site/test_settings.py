"""Settings from the environment: typed readers, the one Redis address, start-up that stops when wrong.

Here the tests that need no Redis, no database and no process;
the others are in tests/processes/proctoring_site/test_settings.py."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from proctoring_site import env as env_module
from proctoring_site.env import Env, read_dotenv
from proctoring_site.redis_config import redacted, redis_url, tls_options, with_options

# --- Env: typed readers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", True),
        ("true", True),
        ("YES", True),
        (" on ", True),
        ("0", False),
        ("False", False),
        ("off", False),
    ],
)
def test_bool_reads_the_usual_spellings(value, expected):
    assert Env({"FLAG": value}).bool("FLAG", not expected) is expected


def test_unset_values_fall_back_to_their_defaults():
    env = Env({})
    assert env.bool("FLAG", True) is True
    assert env.int("COUNT", 7) == 7
    assert env.float("SECONDS", 1.5) == 1.5
    assert env.str("NAME", "fallback") == "fallback"
    assert env.list("HOSTS", ["a"]) == ["a"]


def test_empty_values_fall_back_to_their_defaults():
    env = Env({"COUNT": "", "SECONDS": "  ", "FLAG": ""})
    assert env.int("COUNT", 7) == 7
    assert env.float("SECONDS", 1.5) == 1.5
    assert env.bool("FLAG", True) is True


@pytest.mark.parametrize("name", ["REDIS_PORT", "REDIS_PASSWORD", "REDIS_TLS"])
def test_redis_part_without_redis_host_is_refused_naming_both(name):
    with pytest.raises(ImproperlyConfigured, match=f"{name}.*REDIS_HOST"):
        redis_url(Env({name: "1"}))


def test_values_are_read_without_surrounding_whitespace():
    env = Env({"COUNT": " 12 ", "NAME": "  api  "})
    assert env.int("COUNT", 0) == 12
    assert env.str("NAME") == "api"


@pytest.mark.parametrize(
    ("read", "value"),
    [
        pytest.param(lambda env: env.bool("SOME_FLAG", False), "maybe", id="bool"),
        pytest.param(lambda env: env.int("SOME_FLAG", 1), "ten", id="int-word"),
        pytest.param(lambda env: env.int("SOME_FLAG", 1), "2.5", id="int-fraction"),
        pytest.param(lambda env: env.float("SOME_FLAG", 1.0), "soon", id="float-word"),
        pytest.param(lambda env: env.float("SOME_FLAG", 1.0), "nan", id="float-nan"),
        pytest.param(lambda env: env.float("SOME_FLAG", 1.0), "inf", id="float-inf"),
    ],
)
def test_wrong_value_names_the_variable_and_shows_the_value(read, value):
    with pytest.raises(ImproperlyConfigured) as refused:
        read(Env({"SOME_FLAG": value}))
    assert "SOME_FLAG" in str(refused.value)
    assert repr(value) in str(refused.value)


def test_int_within_its_bounds_is_accepted_inclusively():
    assert Env({"N": "1"}).int("N", 5, minimum=1, maximum=10) == 1
    assert Env({"N": "10"}).int("N", 5, minimum=1, maximum=10) == 10


@pytest.mark.parametrize(
    ("value", "bound"), [("0", "at least 1"), ("11", "at most 10"), ("-1", "at least 1")]
)
def test_int_outside_its_bounds_is_refused_naming_the_bound(value, bound):
    with pytest.raises(ImproperlyConfigured) as refused:
        Env({"MAX_THINGS": value}).int("MAX_THINGS", 5, minimum=1, maximum=10)
    message = str(refused.value)
    assert "MAX_THINGS" in message and bound in message and value in message


@pytest.mark.parametrize(("value", "bound"), [("0.05", "at least 0.1"), ("301", "at most 300")])
def test_float_outside_its_bounds_is_refused_naming_the_bound(value, bound):
    with pytest.raises(ImproperlyConfigured) as refused:
        Env({"TIMEOUT": value}).float("TIMEOUT", 10.0, minimum=0.1, maximum=300)
    assert "TIMEOUT" in str(refused.value) and bound in str(refused.value)


def test_interval_reads_two_numbers_around_zero():
    read = Env({"WINDOW": " -30 , 0.5 "}).interval
    assert read("WINDOW", (-10.0, 2.0), minimum=-3600, maximum=3600) == (-30.0, 0.5)
    assert Env({}).interval("WINDOW", (-10.0, 2.0), minimum=-3600, maximum=3600) == (-10.0, 2.0)
    assert Env({"WINDOW": "0,0"}).interval("WINDOW", (-10.0, 2.0), minimum=-1, maximum=1) == (0.0, 0.0)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("10", "two numbers"),
        ("-1,2,3", "two numbers"),
        ("soon,later", "a number"),
        ("-1,nan", "a finite number"),
        ("5,10", "from at most 0 to at least 0"),
        ("-10,-2", "from at most 0 to at least 0"),
        ("-7200,2", "at least -3600"),
    ],
)
def test_a_wrong_interval_names_the_variable_and_shows_the_value(value, says):
    with pytest.raises(ImproperlyConfigured) as refused:
        Env({"PROCTORING_CAPTURED_AT_WINDOW": value}).interval(
            "PROCTORING_CAPTURED_AT_WINDOW", (-10.0, 2.0), minimum=-3600, maximum=3600
        )
    message = str(refused.value)
    assert "PROCTORING_CAPTURED_AT_WINDOW" in message and says in message


def test_ints_read_a_list_of_whole_numbers_such_as_the_webhook_retry_delays():
    read = Env({"DELAYS": " 1, 2 ,30"}).ints
    assert read("DELAYS", (5,), minimum=1, maximum=60, most=5) == (1, 2, 30)
    assert Env({}).ints("DELAYS", (5, 300), minimum=1, maximum=60, most=5) == (5, 300)
    assert settings.PROCTORING_WEBHOOK_RETRY_DELAYS == (5, 300, 1800, 7200, 18000, 36000, 36000)


@pytest.mark.parametrize(
    ("value", "says"),
    [("1,x", "whole numbers"), ("1,,2", "whole numbers"), ("-1", "whole numbers"), ("1,2,3,4", "up to 3"),
     ("0,1", "at least 1"), ("1,100", "at most 60")],
)  # fmt: skip
def test_a_wrong_list_of_ints_names_the_variable_and_shows_the_value(value, says):
    with pytest.raises(ImproperlyConfigured) as refused:
        Env({"PROCTORING_WEBHOOK_RETRY_DELAYS": value}).ints(
            "PROCTORING_WEBHOOK_RETRY_DELAYS", (5,), minimum=1, maximum=60, most=3
        )
    message = str(refused.value)
    assert "PROCTORING_WEBHOOK_RETRY_DELAYS" in message and says in message


def test_the_frame_bounds_default_to_a_webcam_picture_and_a_few_seconds():
    assert settings.PROCTORING_MAX_FRAME_PIXELS == 1920 * 1080
    assert settings.PROCTORING_CAPTURED_AT_WINDOW == (-10.0, 2.0)
    assert settings.REFERENCE_API_MAX_PIXELS == settings.PROCTORING_MAX_FRAME_PIXELS


def test_list_splits_on_commas_and_drops_blanks():
    assert Env({"HOSTS": " a.example , b.example,, ,c"}).list("HOSTS", []) == ["a.example", "b.example", "c"]


def test_list_default_is_a_copy():
    default = ["x"]
    read = Env({}).list("HOSTS", default)
    read.append("y")
    assert default == ["x"]


# --- .env files -----------------------------------------------------------------------------------


def test_dotenv_reads_quotes_comments_and_export(tmp_path):
    path = tmp_path / ".env"
    path.write_text(
        "# a comment\n"
        "\n"
        "PLAIN=value\n"
        "  SPACED  =  padded  \n"
        'DOUBLE="with spaces # not a comment"\n'
        "SINGLE='single'\n"
        "export EXPORTED=yes\n"
        "EQUALS=a=b=c\n"
        "EMPTY=\n"
        "MISMATCHED=\"'\n"
    )
    assert read_dotenv(path) == {
        "PLAIN": "value",
        "SPACED": "padded",
        "DOUBLE": "with spaces # not a comment",
        "SINGLE": "single",
        "EXPORTED": "yes",
        "EQUALS": "a=b=c",
        "EMPTY": "",
        "MISMATCHED": "\"'",
    }


@pytest.mark.parametrize("line", ["JUST_A_NAME", "=value", "export"])
def test_dotenv_malformed_line_is_refused_with_file_and_line_number(tmp_path, line):
    path = tmp_path / ".env"
    path.write_text(f"GOOD=1\n{line}\n")
    with pytest.raises(ImproperlyConfigured) as refused:
        read_dotenv(path)
    assert f"{path}:2" in str(refused.value)
    assert repr(line) in str(refused.value)


def test_missing_dotenv_is_no_values(tmp_path):
    assert read_dotenv(tmp_path / "absent.env") == {}


def test_real_environment_wins_over_dotenv(tmp_path, monkeypatch):
    path = tmp_path / ".env"
    path.write_text("SETTINGS_TEST_BOTH=from-file\nSETTINGS_TEST_FILE_ONLY=from-file\n")
    monkeypatch.setenv("DJANGO_ENV_FILE", str(path))
    monkeypatch.setenv("SETTINGS_TEST_BOTH", "from-environment")
    env = env_module.load(tmp_path)
    assert env.str("SETTINGS_TEST_BOTH") == "from-environment"
    assert env.str("SETTINGS_TEST_FILE_ONLY") == "from-file"


# --- the Redis address ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["redis://cache.internal:6380/2", "rediss://:pw@cache.internal:6380/0", "unix:///run/redis.sock?db=1"],
)
def test_redis_url_is_used_as_is(url):
    assert redis_url(Env({"REDIS_URL": url, "REDIS_HOST": "ignored.example"})) == url


def test_redis_url_with_another_scheme_is_refused():
    with pytest.raises(ImproperlyConfigured) as refused:
        redis_url(Env({"REDIS_URL": "http://cache.internal:6379"}))
    assert "REDIS_URL" in str(refused.value) and "'http://cache.internal:6379'" in str(refused.value)


@pytest.mark.parametrize("url", ["redis://cache.internal:port/0", "redis://cache.internal:99999/0"])
def test_redis_url_with_a_bad_port_is_refused(url):
    with pytest.raises(ImproperlyConfigured) as refused:
        redis_url(Env({"REDIS_URL": url}))
    assert "REDIS_URL" in str(refused.value) and repr(url) in str(refused.value)


def test_no_redis_settings_means_the_local_default():
    assert redis_url(Env({})) == "redis://127.0.0.1:6379/0"


def test_redis_host_alone_builds_a_plain_url_on_the_default_port():
    assert redis_url(Env({"REDIS_HOST": "cache.internal"})) == "redis://cache.internal:6379/0"


def test_redis_parts_build_a_tls_url_with_the_password_quoted():
    password = "p@ss:w/rd#%?"
    url = redis_url(
        Env(
            {
                "REDIS_HOST": "cache.internal",
                "REDIS_PORT": "6380",
                "REDIS_PASSWORD": password,
                "REDIS_TLS": "true",
            }
        )
    )
    assert url == "rediss://:p%40ss%3Aw%2Frd%23%25%3F@cache.internal:6380/0"
    # The client reads back exactly the password that was configured.
    kwargs = redis.Redis.from_url(url).connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["password"]) == ("cache.internal", 6380, password)


def test_redis_tls_off_builds_redis_scheme():
    url = redis_url(Env({"REDIS_HOST": "h", "REDIS_PASSWORD": "pw", "REDIS_TLS": "false"}))
    assert url == "redis://:pw@h:6379/0"


def test_ipv6_redis_host_builds_a_url_the_client_can_read():
    url = redis_url(Env({"REDIS_HOST": "::1", "REDIS_PORT": "6380"}))
    kwargs = redis.Redis.from_url(url).connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"]) == ("::1", 6380)


@pytest.mark.parametrize(
    ("variables", "name"),
    [
        ({"REDIS_HOST": "h", "REDIS_PORT": "abc"}, "REDIS_PORT"),
        ({"REDIS_HOST": "h", "REDIS_PORT": "0"}, "REDIS_PORT"),
        ({"REDIS_HOST": "h", "REDIS_PORT": "65536"}, "REDIS_PORT"),
        ({"REDIS_HOST": "h", "REDIS_TLS": "sometimes"}, "REDIS_TLS"),
    ],
)
def test_bad_redis_part_is_refused_naming_it(variables, name):
    with pytest.raises(ImproperlyConfigured) as refused:
        redis_url(Env(variables))
    assert name in str(refused.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:secret@h:6379/0", "redis://:***@h:6379/0"),
        ("rediss://user:secret@h:6380/1", "rediss://user:***@h:6380/1"),
        ("redis://:p%40ss@h:6379/0", "redis://:***@h:6379/0"),
        ("redis://h:6379/0", "redis://h:6379/0"),
    ],
)
def test_redacted_hides_only_the_password(url, shown):
    assert redacted(url) == shown


def test_queue_and_channel_layer_share_the_one_redis_url():
    assert settings.RQ_QUEUES["proctoring"]["URL"] == settings.REDIS_URL
    layer: dict[str, Any] = settings.CHANNEL_LAYERS["default"]
    assert [host["address"] for host in layer["CONFIG"]["hosts"]] == [settings.REDIS_URL]


# --- start-up, in a fresh process -----------------------------------------------------------------


# --- Redis over TLS: the CA every client is given ---------------------------------------------------


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    from tests.faults.test_redis_tls import make_pki

    return str(make_pki(tmp_path_factory.mktemp("pki"), "Settings Test CA").ca)


def test_plain_redis_gets_no_tls_options():
    assert tls_options(Env({}), "redis://cache.internal:6379/0") == {}


def test_tls_checks_certificate_and_host_name_against_the_system_cas_by_default():
    options = tls_options(Env({}), "rediss://cache.internal:6380/0")
    assert options == {"ssl_cert_reqs": "required", "ssl_check_hostname": True}


def test_tls_ca_file_is_the_ca_clients_trust(ca_file):
    options = tls_options(Env({"REDIS_TLS_CA_FILE": ca_file}), "rediss://cache.internal:6380/0")
    assert options == {"ssl_cert_reqs": "required", "ssl_check_hostname": True, "ssl_ca_certs": ca_file}


@pytest.mark.parametrize(
    ("url", "ca", "shown"),
    [
        pytest.param("rediss://h:6380/0", "/nowhere/ca.pem", "'/nowhere/ca.pem'", id="missing-file"),
        pytest.param("rediss://h:6380/0", __file__, repr(__file__), id="not-pem"),
        pytest.param("redis://:pw@h:6379/0", "CA", "'redis://:***@h:6379/0'", id="without-tls"),
    ],
)
def test_bad_tls_ca_file_is_refused_naming_it(url, ca, shown, ca_file):
    with pytest.raises(ImproperlyConfigured) as refused:
        tls_options(Env({"REDIS_TLS_CA_FILE": ca_file if ca == "CA" else ca}), url)
    assert "REDIS_TLS_CA_FILE" in str(refused.value) and shown in str(refused.value)
    assert "pw@" not in str(refused.value)


def test_options_ride_in_the_url_as_redis_py_reads_them(ca_file):
    options = tls_options(Env({"REDIS_TLS_CA_FILE": ca_file}), "rediss://:p%40ss@h:6380/0")
    url = with_options("rediss://:p%40ss@h:6380/0?socket_timeout=3", options)
    parsed = redis.connection.parse_url(url)
    assert (parsed["password"], parsed["socket_timeout"], parsed["ssl_ca_certs"]) == ("p@ss", 3.0, ca_file)
    assert (parsed["ssl_cert_reqs"], parsed["ssl_check_hostname"]) == ("required", True)
    assert with_options("redis://h:6379/0", {}) == "redis://h:6379/0"
