"""A built wheel (`pip install .`, not -e) carries everything the site needs: the packages, their
migrations, and the top-level templates/ and static/ inside proctoring_site/, where the settings
find them once installed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support import BASE_DIR

pytestmark = pytest.mark.slow

# What a wheel is built from; the rest of the checkout (tests, docs, caches, the venv) is not copied,
# so that the build writes nothing into the checkout itself.
SOURCES = [
    "pyproject.toml",
    "setup.py",
    "README.md",
    "proctoring_site",
    "proctoring",
    "exams",
    "templates",
    "static",
]
PACKAGES = ["proctoring_site", "proctoring", "exams"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        if (BASE_DIR / name).is_dir():
            shutil.copytree(BASE_DIR / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(BASE_DIR / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    # Offline: no index, no build isolation (the venv's own setuptools builds it).
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index"]
    done = subprocess.run(
        [*build, "-q", "-w", str(out), str(source)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [built] = out.glob("proctoring_pipeline-*.whl")
    return built


def files_under(*roots: str, suffix: str = "") -> set[str]:
    return {
        path.relative_to(BASE_DIR).as_posix()
        for root in roots
        for path in (BASE_DIR / root).rglob(f"*{suffix}")
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_wheel_carries_templates_and_static_files_inside_proctoring_site(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = files_under("templates", "static")
    assert len(shipped) > 10  # the checkout's own, so a new template or script is checked too
    assert {f"proctoring_site/{name}" for name in shipped} <= names
    assert not [name for name in names if name.startswith(("templates/", "static/"))]


def test_wheel_carries_every_module_and_migration(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = files_under(*PACKAGES, suffix=".py")
    assert {"proctoring/migrations/0001_initial.py", "exams/migrations/0001_initial.py"} <= modules
    assert modules <= names


def test_wheel_carries_every_lua_script_and_include(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    scripts = files_under("proctoring/store/scripts", suffix=".lua")
    assert {"proctoring/store/scripts/take.lua", "proctoring/store/scripts/includes/key_for.lua"} <= scripts
    assert scripts <= names


FIND_EVERYTHING = """
import json
import django
django.setup()
from django.conf import settings
from django.contrib.staticfiles import finders
from django.db.migrations.loader import MigrationLoader
from django.template.loader import get_template
import proctoring_site
print(json.dumps({
    "package": proctoring_site.__file__,
    "template": get_template("exams/attempt.html").origin.name,
    "static": finders.find("proctoring/embed.js"),
    "migrations": sorted(app for app, _ in MigrationLoader(None).disk_migrations),
}))
"""


def test_installed_wheel_finds_its_templates_static_files_and_migrations(wheel, tmp_path):
    installed = tmp_path / "site-packages"
    zipfile.ZipFile(wheel).extractall(installed)  # what pip install does for a pure-Python wheel
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # Run from a directory without the checkout, with the unpacked wheel first on the path.
    environment = dict(
        os.environ, PYTHONPATH=str(installed), DJANGO_SETTINGS_MODULE="proctoring_site.settings"
    )
    done = subprocess.run(
        [sys.executable, "-c", FIND_EVERYTHING],
        cwd=elsewhere,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    package = installed / "proctoring_site"
    assert found["package"] == str(package / "__init__.py")
    assert found["template"] == str(package / "templates" / "exams" / "attempt.html")
    assert found["static"] == str(package / "static" / "proctoring" / "embed.js")
    assert {"exams", "proctoring"} <= set(found["migrations"])
