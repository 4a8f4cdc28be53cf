#!/usr/bin/env python
"""Django's command-line utility."""

import os
import sys
from pathlib import Path


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proctoring_site.settings")
    # In a second terminal beside `make run`: its Redis and settings (proctoring_site/devstack_env.py).
    from proctoring_site import devstack_env

    devstack_env.load(Path(__file__).resolve().parent / "var" / devstack_env.FILE_NAME)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
