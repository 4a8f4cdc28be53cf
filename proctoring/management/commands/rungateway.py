"""`manage.py rungateway`: becomes a daphne gateway with the flags the settings call for."""

from __future__ import annotations

import os
import shlex
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from proctoring_site import gateway_group
from proctoring_site.gateway import daphne_argv


class Command(BaseCommand):
    help = (
        "Serve the site and the camera WebSockets with daphne, with the WebSocket message cap "
        "computed from PROCTORING_MAX_FRAME_BYTES. With --processes 1 the process becomes daphne "
        "(same PID); with more it runs that many daphne processes on the one port and restarts any "
        "that dies; SIGTERM stops them all."
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
            "--processes",
            type=int,
            default=None,
            help="daphne processes serving the port (default: the cores this process may use, "
            f"here {gateway_group.default_processes()})",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="print the daphne command line instead of running it"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not 1 <= options["port"] <= 65535:
            raise CommandError(f"--port must be 1-65535, got {options['port']}")
        processes = options["processes"]
        if processes is None:
            processes = gateway_group.default_processes()
        if not 1 <= processes <= 64:
            raise CommandError(f"--processes must be 1-64, got {processes}")
        port, bind, proxy = options["port"], options["bind"], options["proxy_headers"]
        if options["dry_run"]:
            argv = daphne_argv(port, bind=bind, proxy_headers=proxy, fd=3 if processes > 1 else None)
            prefix = (
                f"{processes} x (each with its own SO_REUSEPORT socket on {bind}:{port}): "
                if processes > 1
                else ""
            )
            self.stdout.write(prefix + shlex.join(argv))
            return
        self.stdout.flush()
        if processes == 1:
            argv = daphne_argv(port, bind=bind, proxy_headers=proxy)
            os.execv(argv[0], argv)
            return  # only when execv is replaced, in tests
        try:
            status = gateway_group.serve(
                bind, port, processes, lambda fd: daphne_argv(port, bind=bind, proxy_headers=proxy, fd=fd)
            )
        except OSError as exc:
            raise CommandError(f"cannot listen on {bind}:{port}: {exc}") from exc
        raise SystemExit(status)
