"""The minimal consumer served the way `rungateway --processes N` serves the project: N daphne
processes on one port, each with its own SO_REUSEPORT socket (`proctoring_site.gateway_group`),
so the bench compares like with like.

    python -m bench.minimal_group PORT PROCESSES
"""

from __future__ import annotations

import sys

from proctoring_site import gateway_group

APP = "bench.minimal_asgi:application"
HOST = "127.0.0.1"


def main(argv: list[str]) -> int:
    port, processes = int(argv[0]), int(argv[1])
    return gateway_group.serve(
        HOST, port, processes, lambda fd: [sys.executable, "-m", "daphne", "--fd", str(fd), APP]
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
