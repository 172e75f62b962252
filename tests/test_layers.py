"""The layer rules (who may import whom) of the project's design, checked on every module of
``registry/`` and ``zoo/``: core is pure, the client never reaches the server or the storage, no
registry module loads TensorFlow or the zoo at import time (the CLI's zoo commands import them
inside the command), and the zoo uses nothing of the registry but its core."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

HEAVY = ("tensorflow", "tf_keras", "tensorflow_model_optimization", "zoo")
HTTP = ("requests", "httpx", "urllib3")
WEB = ("flask", "werkzeug")
DB_S3 = ("sqlalchemy", "alembic", "psycopg", "boto3", "botocore")


@dataclass(frozen=True)
class Rule:
    """What a package must not import: ``never`` anywhere in its files, ``lazy_only`` only at a
    module's top level (a function may import it when the command runs)."""

    never: tuple[str, ...]
    lazy_only: tuple[str, ...] = ()


def _layers(*names: str) -> tuple[str, ...]:
    return tuple(f"registry.{n}" for n in names)


RULES: dict[str, Rule] = {
    "registry.core": Rule(WEB + DB_S3 + HTTP + HEAVY + _layers("storage", "server", "client", "schools", "cli")),
    "registry.storage": Rule(WEB + HEAVY + _layers("server", "client", "schools", "cli")),
    "registry.server": Rule(HEAVY + _layers("client", "schools", "cli")),
    "registry.client": Rule(WEB + DB_S3 + HEAVY + _layers("storage", "server", "schools", "cli")),
    # The school mirror is a small web server of its own (Flask), never the registry's.
    "registry.schools": Rule(DB_S3 + HEAVY + _layers("storage", "server", "cli")),
    "registry.cli": Rule((), lazy_only=HEAVY),
    "registry": Rule(HEAVY),  # the package's own top-level modules
    "zoo": Rule(WEB + DB_S3 + _layers("storage", "server", "client", "schools", "cli")),
}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(source: str, module: str, is_package: bool) -> list[tuple[int, str, bool]]:
    """(line, absolute module, at the top level?) for each import of ``source``, relative ones
    resolved against ``module``; ``from a import b`` also yields ``a.b`` (b may be a module)."""
    tree = ast.parse(source)
    top = {id(node) for node in tree.body}
    top |= {
        id(child)
        for node in tree.body
        if isinstance(node, (ast.If, ast.Try))  # `if TYPE_CHECKING:` and try/except imports
        for child in ast.walk(node)
    }
    package = module.split(".") if is_package else module.split(".")[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name, id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            found.append((node.lineno, base, id(node) in top))
            found += [(node.lineno, f"{base}.{a.name}", id(node) in top) for a in node.names]
    return found


def rule_for(module: str) -> tuple[str, Rule] | None:
    owners = [name for name in RULES if module == name or module.startswith(name + ".")]
    if not owners:
        return None
    name = max(owners, key=len)
    return name, RULES[name]


def crossings(root: Path) -> list[str]:
    """Every import under ``root``'s registry/ and zoo/ that breaks its package's rule."""
    out = []
    for path in sorted([*root.glob("registry/**/*.py"), *root.glob("zoo/**/*.py")]):
        module = module_name(path, root)
        owner = rule_for(module)
        if owner is None:
            continue
        name, rule = owner
        lines = set()  # one report per import statement
        for line, target, at_top in imports(path.read_text(encoding="utf-8"), module, path.name == "__init__.py"):
            banned = rule.never + (rule.lazy_only if at_top else ())
            if line not in lines and any(target == b or target.startswith(b + ".") for b in banned):
                lines.add(line)
                where = "at import time " if target.split(".")[0] in rule.lazy_only else ""
                out.append(f"{path.relative_to(root)}:{line} imports {target} {where}(not allowed in {name})")
    return out


def test_every_import_keeps_to_the_layers() -> None:
    assert crossings(REPO) == []


def test_every_module_falls_under_a_rule() -> None:
    for path in [*REPO.glob("registry/**/*.py"), *REPO.glob("zoo/**/*.py")]:
        assert rule_for(module_name(path, REPO)), path


@pytest.mark.parametrize(
    ("path", "source", "expected"),
    [
        ("registry/client/x.py", "from registry.server import api\n", "imports registry.server"),
        ("registry/client/x.py", "from ..storage.index import Index\n", "imports registry.storage"),
        ("registry/core/x.py", "import urllib3\n", "imports urllib3"),
        ("registry/cli/x.py", "import tensorflow as tf\n", "imports tensorflow at import time"),
        ("registry/schools/x.py", "def f():\n    import boto3\n", "imports boto3"),
        ("zoo/x.py", "from registry import server\n", "imports registry.server"),
    ],
)
def test_a_crossing_is_reported(tmp_path: Path, path: str, source: str, expected: str) -> None:
    target = tmp_path / path
    target.parent.mkdir(parents=True)
    for parent in target.parents:
        if parent == tmp_path:
            break
        (parent / "__init__.py").touch()
    target.write_text(source)
    (found,) = crossings(tmp_path)
    assert expected in found and found.startswith(path)


def test_the_cli_may_import_the_zoo_inside_a_command(tmp_path: Path) -> None:
    (tmp_path / "registry" / "cli").mkdir(parents=True)
    (tmp_path / "registry" / "cli" / "x.py").write_text(
        "def build():\n    from zoo import build\n    import tensorflow\n"
    )
    assert crossings(tmp_path) == []
