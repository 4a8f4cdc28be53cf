"""Packaging that pyproject.toml cannot say: a built wheel carries the top-level templates/ and
static/ (which the checkout keeps beside the packages) inside proctoring_site/, where the settings
look for them once installed. Everything else is in pyproject.toml."""

from setuptools import find_packages, setup

SHIPPED = {"proctoring_site.templates": "templates", "proctoring_site.static": "static"}

setup(
    packages=[*find_packages(include=["proctoring_site*", "exams*", "proctoring*"]), *SHIPPED],
    package_dir=SHIPPED,
    package_data=dict.fromkeys(SHIPPED, ["**/*"]),
)
