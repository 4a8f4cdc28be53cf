"""`manage.py rungateway`: becomes a daphne gateway with the flags the settings call for."""

from __future__ import annotations

import os
import shlex
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from proctoring_site.gateway import daphne_argv


class Command(BaseCommand):
    help = (
        "Serve the site and the camera WebSockets with daphne, with the WebSocket message cap "
        "computed from PROCTORING_MAX_FRAME_BYTES. The process becomes daphne (same PID), so "
        "signals from systemd or Docker reach it directly."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
        parser.add_argument(
            "--bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 for all)"
        )
        parser.add_argument(
            "--proxy-headers",
            action="store_true",
            help="behind a proxy: the client's address is X-Forwarded-For's first entry",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="print the daphne command line instead of running it"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not 1 <= options["port"] <= 65535:
            raise CommandError(f"--port must be 1-65535, got {options['port']}")
        argv = daphne_argv(options["port"], bind=options["bind"], proxy_headers=options["proxy_headers"])
        if options["dry_run"]:
            self.stdout.write(shlex.join(argv))
            return
        self.stdout.flush()
        os.execv(argv[0], argv)
