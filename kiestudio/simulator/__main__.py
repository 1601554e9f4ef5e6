"""``python -m kiestudio.simulator --host 127.0.0.1 --port 8765 [--seed S] [--time-scale X] …``

Every :class:`SimulatorConfig` field is a flag (``--rate-window 1``) and an env var (``KIE_SIM_RATE_WINDOW=1``);
flags win over env vars. Refuses to start when ``KIE_SIMULATOR_FORBIDDEN=1``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .config import SimulatorConfig, config_fields, parse_text_value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m kiestudio.simulator", description="Kie.ai API simulator")
    parser.add_argument("--host", default=os.environ.get("KIE_SIM_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("KIE_SIM_PORT", "8765")))
    parser.add_argument("--log-level", default="info")
    parser.add_argument(
        "--api-key", action="append", dest="api_key_list", metavar="KEY", help="accepted key (repeatable)"
    )
    parser.add_argument("--no-callbacks", action="store_true", help="never POST callbacks")
    for name in config_fields():
        if name == "api_keys":
            continue
        parser.add_argument("--" + name.replace("_", "-"), dest=name, metavar="VALUE", default=None)
    return parser


def config_from_args(args: argparse.Namespace, environ: dict[str, str] | None = None) -> SimulatorConfig:
    fields = config_fields()
    overrides = {}
    for name, hint in fields.items():
        raw = getattr(args, name, None)
        if raw is not None:
            overrides[name] = parse_text_value(name, hint, raw)
    if args.api_key_list:
        overrides["api_keys"] = list(args.api_key_list)
    if args.no_callbacks:
        overrides["callbacks"] = False
    return SimulatorConfig.from_env(environ, **overrides)


def main(argv: Sequence[str] | None = None) -> int:
    if os.environ.get("KIE_SIMULATOR_FORBIDDEN", "").strip().lower() in ("1", "true", "yes", "on"):
        print("The Kie simulator is forbidden here (KIE_SIMULATOR_FORBIDDEN is set).", file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"Invalid simulator configuration: {exc}", file=sys.stderr)
        return 2
    import uvicorn

    from .app import create_app

    print(f"Kie simulator on http://{args.host}:{args.port} (seed {config.seed}, time scale {config.time_scale})")
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level=args.log_level)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
