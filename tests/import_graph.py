"""Who imports whom among the project's apps, read from the source (no import runs).

    .venv/bin/python -m tests.import_graph [--root DIR]   # cross-app imports, per pair and in total

Used by tests/test_import_rules.py; the command prints the figures the closing notes quote.
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("core", "audit", "accounts", "webhooks", "identities", "recognition", "evaluation", "reenrollment", "videos",
        "cameras", "enrollment", "monitoring", "facerec_site")
FRAMEWORKS = ("django", "rest_framework", "drf_spectacular", "celery", "kombu", "pgvector")


@dataclass(frozen=True)
class Import:
    path: Path          # the importing file, relative to ROOT
    module: str         # the module imported from
    name: str | None    # the name imported (from X import name), None for `import X`
    line: int

    @property
    def app(self) -> str:
        return self.path.parts[0]

    @property
    def target_app(self) -> str:
        return self.module.split(".")[0]


def source_files(folder: str) -> list[Path]:
    return sorted(p.relative_to(ROOT) for p in (ROOT / folder).rglob("*.py")
                  if "migrations" not in p.parts and "tests" not in p.parts)


def imports_of(path: Path) -> list[Import]:
    """Every absolute import in the file, at any depth (imports inside functions count too)."""
    found = []
    for node in ast.walk(ast.parse((ROOT / path).read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [Import(path, alias.name, None, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [Import(path, node.module, alias.name, node.lineno) for alias in node.names]
    return found


def all_imports(apps=APPS) -> list[Import]:
    return [imp for app in apps for path in source_files(app) for imp in imports_of(path)]


def cross_app(imports: list[Import]) -> list[Import]:
    return [imp for imp in imports if imp.target_app in APPS and imp.target_app != imp.app]


def main(argv: list[str] | None = None) -> int:
    global ROOT
    args = argv if argv is not None else sys.argv[1:]
    if args[:1] == ["--root"]:  # another checkout, e.g. an older commit's `git archive`
        ROOT = Path(args[1]).resolve()
    imports = cross_app(all_imports())
    statements = {(imp.path, imp.line, imp.module) for imp in imports}
    pairs = Counter((path.parts[0], module.split(".")[0]) for path, _, module in statements)
    for (source, target), count in sorted(pairs.items()):
        print(f"{source:>13} -> {target:<13} {count:3d}")
    both = {tuple(sorted(pair)) for pair in pairs if pair[::-1] in pairs}
    print(f"cross-app import statements: {len(statements)}; app pairs importing each other both ways: "
          f"{len(both)} ({', '.join('<->'.join(pair) for pair in sorted(both)) or 'none'})")
    shared = sum(n for (_, target), n in pairs.items() if target in ("core", "audit"))
    print(f"of which into the shared layers (core, audit): {shared}; between the other apps: "
          f"{len(statements) - shared}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
