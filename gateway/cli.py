"""The ``gateway`` command: serve, check, plugins, rejections, and whatever plugins add.

Start-up is kept short (``gateway --help`` and ``check`` well under a second): every heavy module
is imported inside the command that needs it, never at the top of this file.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.config import Config
    from gateway.plugins import Hooks

DEFAULT_CONFIG = "config.toml"


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    """The one ``--config`` every command takes, with the same default (plugins' commands use it too)."""
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="path to config.toml (default: %(default)s)")


def _load(args: argparse.Namespace) -> Config:
    from gateway.config import load_config

    return load_config(args.config)


def cmd_serve(args: argparse.Namespace) -> int:
    import dataclasses

    from gateway import logs
    from gateway.server import run

    logs.setup(args.log_format)
    config = _load(args)
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    if overrides:
        config = dataclasses.replace(config, server=dataclasses.replace(config.server, **overrides))
    run(config)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from gateway.banner import summary

    config = _load(args)
    assert config.hooks is not None
    server = config.server
    print(f"config: {config.path}")
    print(f"server: http://{server.host}:{server.port} ({server.workers} worker(s))")
    print(f"plugins: {', '.join(config.hooks.plugin_names())}")
    for line in summary(config, server.host, server.port):
        print(line)
    print("ok")
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    from gateway.plugins import load_hooks

    hooks = load_hooks()
    for name in hooks.plugin_names():
        print(name)
    print(f"dialects: {', '.join(sorted(hooks.dialects()))}")
    print(f"sink types: {', '.join(sorted(hooks.sink_types()))}")
    return 0


def cmd_rejections(args: argparse.Namespace) -> int:
    from gateway.rejections_cli import run

    return run(args, _load(args))


def _add_serve(sub: Any) -> None:
    p = sub.add_parser("serve", help="serve the gateway")
    add_config_argument(p)
    p.add_argument("--host", help="address to listen on (default: [server] host)")
    p.add_argument("--port", type=int, help="port to listen on (default: [server] port)")
    p.add_argument("--log-format", choices=("text", "json"), default="text",
                   help="the log on standard error: plain lines or one JSON object per line (default: text)")
    p.set_defaults(func=cmd_serve)


def _add_check(sub: Any) -> None:
    p = sub.add_parser("check", help="validate the config and show what would run")
    add_config_argument(p)
    p.set_defaults(func=cmd_check)


def _add_rejections(sub: Any) -> None:
    p = sub.add_parser("rejections", help="recent refused events, newest first, with their reasons")
    add_config_argument(p)
    p.add_argument("--source", help="only this source's rejections")
    p.add_argument("--limit", type=int, default=20, help="how many (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="one JSON object per line, with the payload")
    p.set_defaults(func=cmd_rejections)


def _add_plugins(sub: Any) -> None:
    sub.add_parser("plugins", help="list the loaded plugins").set_defaults(func=cmd_plugins)


# The core's commands, in the order --help lists them; a new one is one more function here.
CORE_COMMANDS: tuple[Callable[[Any], None], ...] = (_add_serve, _add_check, _add_rejections, _add_plugins)


def build_parser(hooks: Hooks | None = None) -> argparse.ArgumentParser:
    from gateway.plugins import PluginError, load_hooks

    parser = argparse.ArgumentParser(prog="gateway", description="A self-hosted analytics event gateway.")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in CORE_COMMANDS:
        add(sub)
    try:
        (hooks or load_hooks()).add_commands(sub)
    except PluginError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
    return parser


def main(argv: Sequence[str] | None = None, hooks: Hooks | None = None) -> int:
    import logging

    from gateway.config import ConfigError
    from gateway.plugins import PluginError
    from gateway.startup import StartupError

    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser(hooks).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ConfigError, PluginError, StartupError) as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
