"""mkdocs hooks that generate the API pages' directives from the package itself.

- `<!-- api: spikax.NAME -->` becomes the module's docstring followed by one mkdocstrings block
  per public name the module exports (found at build time, so a new name appears without
  editing the page). Each name is documented under its public path (`spikax.layers.Layer`, not
  the private module it is defined in), which is the path cross-references use.
- `<!-- api-optional: spikax.NAME -->` does the same when the subpackage exists, and otherwise
  says that this version does not include it, so the site builds (with `--strict`) either way.
"""

import importlib
import importlib.util
import inspect
import pathlib
import re
import sys

REPO = str(pathlib.Path(__file__).resolve().parents[1])

# subpackages with a page of their own
_PAGES = {"spikax." + name for name in ("surrogate", "neurons", "layers", "network", "loop", "online", "encoding",
                                         "losses", "datasets", "training", "plotting", "plasticity", "eventprop",
                                         "io", "hw", "cli")}
MARKER = re.compile(r"<!-- api(?P<optional>-optional)?: (?P<name>[\w.]+)(?: (?P<members>[\w ,]+))? -->")


def _import_from_repo() -> None:
    """Import the repository's packages, as the tests do (mkdocs restores `sys.path` after loading hooks)."""
    if REPO not in sys.path:
        sys.path.insert(0, REPO)


def _exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def _public_names(module) -> list[str]:
    names = getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")]
    # Names a module builds on first use (module `__getattr__`, e.g. `ALL_SURROGATES`) are only annotated.
    names = list(names) + [n for n in getattr(module, "__annotations__", {}) if not n.startswith("_") and n not in names]
    keep = []
    for name in names:
        obj = getattr(module, name)
        if inspect.ismodule(obj):  # a public submodule of this package is documented here too
            if obj.__name__.startswith(module.__name__ + ".") and obj.__name__ not in _PAGES:
                keep.append(name)
            continue
        if isinstance(obj, (tuple, list, dict, frozenset)) or str(getattr(obj, "__module__", "")).startswith("spikax"):
            keep.append(name)  # spikax's own objects and tables (re-exported third-party names are not ours)
    return keep


def _directives(name: str, members: list[str] | None, level: int = 1) -> str:
    """The module's own docstring, then each public name under its public path (submodules recursively)."""
    module = importlib.import_module(name)
    root = "false" if level == 1 else "true"
    blocks = [f"::: {name}\n    options:\n      members: false\n      show_root_heading: {root}\n"
              f"      heading_level: {level}\n"]
    for member in members or _public_names(module):
        if inspect.ismodule(getattr(module, member)):
            blocks.append(_directives(f"{name}.{member}", None, level + 1))
        else:
            blocks.append(f"::: {name}.{member}\n    options:\n      heading_level: {level + 1}\n")
    return "\n".join(blocks)


def on_page_markdown(markdown, page, config, files):
    _import_from_repo()
    def replace(match):
        name = match.group("name")
        members = match.group("members")
        members = [m.strip() for m in members.replace(",", " ").split()] if members else None
        if match.group("optional") and not _exists(name):
            return f"`{name}` is not part of this version of spikax."
        return _directives(name, members)

    return MARKER.sub(replace, markdown)
