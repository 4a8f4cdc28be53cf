"""Browser fixtures: Debian's Chromium driven by Playwright (a fake camera, optionally playing a
video made from the face fixtures), a gateway that also serves the pages' static files, and the
people who use the pages (an exam taker, a proctor).

Chromium comes from Debian's package (`/usr/bin/chromium`, installed by `.ci/run`), never from
Playwright's downloads.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.e2e.pages import ARTIFACTS, WATCH_SOCKET, screenshot
from tests.support import FIXTURES, Process

# The servers under test keep Django's async-safety check (an empty value leaves it on) and serve
# the pages' static files as `make run` does.
SERVER_ENV = {"DJANGO_ALLOW_ASYNC_UNSAFE": "", "DJANGO_SERVE_STATIC": "true"}

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    "--use-fake-device-for-media-stream",
]
# Answers the camera permission prompt with "allow"; without it, headless Chromium denies.
ALLOW_CAMERA = "--use-fake-ui-for-media-stream"
# Videos the fake camera can play instead of its own green test picture (which shows no face).
VIDEOS = {"face": "one_face.jpg", "no_face": "no_face_cat.jpg"}

TAKER = ("taker", "taker-pass-123")  # the `user` fixture of tests/conftest.py
PROCTOR = ("proctor", "proctor-pass-123")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM.exists() or os.environ.get("CI"):
        return  # in CI a missing browser fails the tests instead of hiding them
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is missing: apt-get install chromium")
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """MJPEG files (concatenated JPEGs, which Chromium's fake camera plays in a loop)."""
    folder = tmp_path_factory.mktemp("videos")
    made = {}
    for name, image in VIDEOS.items():
        path = folder / f"{name}.mjpeg"
        path.write_bytes((FIXTURES / "faces" / image).read_bytes() * 4)
        made[name] = path
    return made


# Module-scoped, not session-scoped: while Playwright runs, its loop is the thread's running loop,
# which would break every later test that uses asgiref's async_to_sync.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    # Meanwhile Django refuses ORM calls from this thread (a running loop) unless told otherwise:
    # the tests' own ORM calls, and the database flush after each test, are plain synchronous ones.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as driver:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield driver


@pytest.fixture(scope="module")
def chromium(playwright: Playwright, videos: dict[str, Path]) -> Iterator[Callable[..., Browser]]:
    """`chromium(video=None, camera_allowed=True)`: a headless Chromium whose fake camera plays
    `videos[video]` (or Chromium's own test picture); one browser per kind, shared by a module's tests."""
    browsers: dict[tuple[str | None, bool], Browser] = {}

    def launch(video: str | None = None, camera_allowed: bool = True) -> Browser:
        key = (video, camera_allowed)
        if key not in browsers:
            args = [*CHROMIUM_ARGS, *([ALLOW_CAMERA] if camera_allowed else [])]
            if video is not None:
                args.append(f"--use-file-for-fake-video-capture={videos[video]}")
            browsers[key] = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=args
            )
        return browsers[key]

    yield launch
    for browser in browsers.values():
        browser.close()


@pytest.fixture
def open_page(
    chromium: Callable[..., Browser], processes: list[Process], request: pytest.FixtureRequest
) -> Iterator[Callable[..., Page]]:
    """`open_page(video=None, camera_allowed=True, watch_socket=False, **context_options)`: a page
    in a fresh browser context (its own cookies: one person). Closed before the servers stop;
    a failed test leaves a screenshot of each of its pages in the artifacts."""
    contexts: list[BrowserContext] = []

    def open_page(
        video: str | None = None, camera_allowed: bool = True, watch_socket: bool = False, **options: Any
    ) -> Page:
        context = chromium(video, camera_allowed).new_context(**options)
        contexts.append(context)
        if watch_socket:
            context.add_init_script(WATCH_SOCKET)
        return context.new_page()

    yield open_page
    report = getattr(request.node, "call_report", None)
    for number, context in enumerate(contexts):
        if report is not None and report.failed:
            for page in context.pages:
                screenshot(page, f"FAILED-{request.node.name}-{number}")
        context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.call_report = report  # type: ignore[attr-defined]
    return report


@pytest.fixture(scope="session", autouse=True)
def artifacts() -> Path:
    """Where each scenario leaves a screenshot of its final state (ignored by git; a run
    replaces its own scenarios' screenshots, and a failed test adds `FAILED-*` ones)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@dataclass
class Gateway:
    process: Process
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def reference_api(self) -> str:
        return f"{self.url}/reference-api/v1/analyze"


@pytest.fixture
def start_gateway(start_daphne: Callable[..., tuple[Process, int]]) -> Callable[..., Gateway]:
    """`start_gateway(port=None, **env)`: daphne on 127.0.0.1 serving pages, static files (as
    `make run` does), both WebSockets and the reference API; `port` restarts one in place."""

    def start(port: int | None = None, **env: str) -> Gateway:
        return Gateway(*start_daphne(port, **{**SERVER_ENV, **env}))

    return start


@pytest.fixture
def start_page_worker(start_worker: Callable[..., Process]) -> Callable[..., Process]:
    """`start_page_worker(**env)`: `python manage.py rqworker proctoring`, ready once it has
    registered itself in the Redis it was given (`REDIS_URL` in `env`, else the suite's)."""

    def start(**env: str) -> Process:
        return start_worker(**{**SERVER_ENV, **env})

    return start


@pytest.fixture
def proctor(db: None) -> Any:
    """A superuser, as `make run`'s demo admin: every page, image and action (each role's limits
    are tests/integration/proctoring_site/test_roles.py's)."""
    return get_user_model().objects.create_superuser(PROCTOR[0], password=PROCTOR[1])
