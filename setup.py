"""Packaging that pyproject.toml cannot say: a built wheel carries the top-level templates/ and
static/ (which the checkout keeps beside the packages) inside proctoring_site/, where the settings
look for them once installed, and the Lua scripts of proctoring/store/scripts/. Everything else is
in pyproject.toml."""

from setuptools import find_packages, setup

SHIPPED = {"proctoring_site.templates": "templates", "proctoring_site.static": "static"}
# The Lua scripts proctoring/store/lua.py reads from beside it. Said here, not in pyproject.toml's
# [tool.setuptools.package-data]: that table would replace this whole argument.
LUA = {"proctoring.store.scripts": ["*.lua", "includes/*.lua"]}

setup(
    packages=[*find_packages(include=["proctoring_site*", "exams*", "proctoring*"]), *SHIPPED],
    package_dir=SHIPPED,
    package_data={**dict.fromkeys(SHIPPED, ["**/*"]), **LUA},
)
