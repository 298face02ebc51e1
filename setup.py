"""Packaging beyond what pyproject.toml can say: where the plugin and schema packages are installed.

The repository keeps the layout the design names (``plugins/``, ``schemas/``), but installed under
those generic names they would collide with other distributions' top-level packages; in the wheel
(and an editable install) they are ``gateway_plugins`` and ``gateway_schemas``.
"""

from setuptools import find_namespace_packages, setup

RENAMED = {"plugins": "gateway_plugins", "schemas": "gateway_schemas"}


def packages() -> list[str]:
    found = find_namespace_packages(include=["gateway", "gateway.*", "plugins", "plugins.*", "schemas", "schemas.*"])
    out = []
    for name in found:
        top, _, rest = name.partition(".")
        out.append(RENAMED.get(top, top) + (f".{rest}" if rest else ""))
    return out


setup(packages=packages(), package_dir={new: old for old, new in RENAMED.items()})
