"""`python -m bench.load --clients N --fps 2 --frame-kb 50 --duration S`: the gateway load
generator under the name the throughput issue gives it (see `bench/gateway_load.py` for all
flags: `--baseline`, `--workers`, `--json`, ...)."""

from __future__ import annotations

import sys

from bench.gateway_load import main


def translate(argv: list[str]) -> list[str]:
    """`--duration S` is `--seconds S`; every other flag passes through."""
    out: list[str] = []
    for arg in argv:
        if arg == "--duration":
            out.append("--seconds")
        elif arg.startswith("--duration="):
            out.append("--seconds=" + arg.split("=", 1)[1])
        else:
            out.append(arg)
    return out


if __name__ == "__main__":
    try:
        sys.exit(main(translate(sys.argv[1:])))
    except KeyboardInterrupt:
        sys.exit(130)
