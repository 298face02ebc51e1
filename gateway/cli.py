"""The ``gateway`` command: serve, check, plugins, and whatever plugins add."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from gateway import scaffold
from gateway.config import Config, ConfigError, load_config
from gateway.plugins import Hooks, PluginError, load_hooks


def _load(args: argparse.Namespace) -> Config:
    return load_config(args.config)


def cmd_serve(args: argparse.Namespace) -> int:
    from gateway.server import run

    config = _load(args)
    run(config)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    config = _load(args)
    assert config.hooks is not None
    dialects = config.hooks.dialects()
    print(f"config: {config.path}")
    print(f"server: http://{config.server.host}:{config.server.port} ({config.server.workers} worker(s))")
    print(f"storage: {config.storage.url}")
    print(f"admin API: {'on' if config.admin_key else 'off (no [admin] api_key)'}")
    print(f"plugins: {', '.join(config.hooks.plugin_names())}")
    for source in config.sources:
        paths = ", ".join(r.path for r in dialects[source.dialect].routes)
        print(f"source {source.name!r}: dialect {source.dialect} ({paths})")
    for sink in config.sinks:
        s = sink.settings
        print(f"sink {sink.name!r}: type {sink.type}, batches of {s['batch_max_events']} events or "
              f"{s['batch_max_seconds']}s, starting at the {s['start']}")
    print("ok")
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    hooks = load_hooks()
    for name in hooks.plugin_names():
        print(name)
    print(f"dialects: {', '.join(sorted(hooks.dialects()))}")
    print(f"sink types: {', '.join(sorted(hooks.sink_types()))}")
    return 0


def build_parser(hooks: Hooks | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description="A self-hosted analytics event gateway.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func, help_text in (("serve", cmd_serve, "serve the gateway"),
                                  ("check", cmd_check, "validate the config and show what would run")):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--config", default="config.toml", help="path to config.toml (default: %(default)s)")
        p.set_defaults(func=func)
    sub.add_parser("plugins", help="list the loaded plugins").set_defaults(func=cmd_plugins)
    scaffold.add_command(sub)
    try:
        (hooks or load_hooks()).add_commands(sub)
    except PluginError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
    return parser


def main(argv: Sequence[str] | None = None, hooks: Hooks | None = None) -> int:
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser(hooks).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ConfigError, PluginError) as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
