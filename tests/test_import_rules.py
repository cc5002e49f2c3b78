"""The arrows between the apps (docs/ARCHITECTURE.md), checked on the source: a new import that
breaks one fails here, naming the file and line."""

from __future__ import annotations

import pytest

from tests import import_graph
from tests.import_graph import APPS, FRAMEWORKS, Import

DOMAIN_APPS = set(APPS) - {"core", "facerec_site"}


def _where(imports: list[Import]) -> list[str]:
    return [f"{imp.path}:{imp.line} imports {imp.module}{'.' + imp.name if imp.name else ''}" for imp in imports]


def _imports_nothing_of_django_or_the_apps(module: str) -> bool:
    path = import_graph.Path(*module.split(".")).with_suffix(".py")
    return (import_graph.ROOT / path).is_file() and not any(
        imp.target_app in FRAMEWORKS or imp.target_app in APPS for imp in import_graph.imports_of(path))


@pytest.mark.parametrize("folder", ["recognition/pipeline", "evaluation/metrics"])
def test_the_ml_code_imports_no_django_and_no_app(folder):
    # ...except core's Django-free helpers (the one atomic file writer, core.files).
    files = [path for path in import_graph.source_files(folder.split("/")[0]) if str(path).startswith(folder)]
    assert files
    allowed_own = folder.replace("/", ".")  # the package's own modules
    bad = [imp for path in files for imp in import_graph.imports_of(path)
           if imp.target_app in FRAMEWORKS
           or (imp.target_app in APPS and not (allowed_own and imp.module.startswith(allowed_own))
               and not (imp.target_app == "core" and _imports_nothing_of_django_or_the_apps(imp.module)))]
    assert _where(bad) == []


def test_core_imports_no_app():
    bad = [imp for imp in import_graph.all_imports(["core"]) if imp.target_app in APPS and imp.target_app != "core"]
    assert _where(bad) == []


def test_no_app_imports_another_apps_private_names():
    private = [imp for imp in import_graph.cross_app(import_graph.all_imports())
               if (imp.name or "").startswith("_") or any(part.startswith("_") and part != "__init__"
                                                          for part in imp.module.split("."))]
    assert _where(private) == []


def test_apps_reach_each_other_only_through_public_modules_and_never_the_site():
    # The project package wires the apps together (settings, urls, the Celery app, jobs);
    # an app may use its Celery app and nothing else of it.
    bad = [imp for imp in import_graph.cross_app(import_graph.all_imports(sorted(DOMAIN_APPS | {"core"})))
           if imp.target_app == "facerec_site" and imp.module != "facerec_site.celery"]
    assert _where(bad) == []


def test_the_audit_log_and_core_sit_below_the_domain_apps():
    # audit imports only core; its API view, which needs accounts.roles, lives in accounts.
    bad = [imp for imp in import_graph.cross_app(import_graph.all_imports(["audit"]))
           if imp.target_app != "core"]
    assert _where(bad) == []


# The arrows of docs/ARCHITECTURE.md: each app may import the apps listed for it, and no other
# (facerec_site wires everything and may import any app).
LAYERS = {
    "core": set(),
    "audit": {"core"},
    "accounts": {"core", "audit"},
    "webhooks": {"core", "audit", "accounts"},
    "identities": {"core", "audit", "accounts", "webhooks"},
    "recognition": {"core", "audit", "accounts", "webhooks", "identities"},
    "reenrollment": {"core", "audit", "accounts", "webhooks", "identities", "recognition"},
    "evaluation": {"core", "audit", "accounts", "webhooks", "identities", "recognition"},
    "videos": {"core", "audit", "accounts", "webhooks", "identities", "recognition"},
    "cameras": {"core", "audit", "accounts", "webhooks", "identities", "recognition"},
    "enrollment": {"core", "audit", "accounts", "webhooks", "identities", "recognition", "reenrollment", "videos",
                   "cameras"},
    # The platform's state for operators reads every app; only facerec_site imports it.
    "monitoring": {"core", "audit", "accounts", "webhooks", "identities", "recognition", "reenrollment", "evaluation",
                   "videos", "cameras", "enrollment"},
}

MAX_MODULE_LINES = 450
# Modules allowed over MAX_MODULE_LINES, each with its reason (none today).
LONG_MODULES: dict[str, str] = {}


def test_every_app_is_placed_in_the_layers():
    assert set(LAYERS) == DOMAIN_APPS | {"core"}


def test_no_two_apps_import_each_other():
    pairs = {(imp.app, imp.target_app) for imp in import_graph.cross_app(import_graph.all_imports())}
    assert sorted({tuple(sorted(pair)) for pair in pairs if pair[::-1] in pairs}) == []


def test_the_apps_import_only_the_layers_below_them():
    bad = [imp for imp in import_graph.cross_app(import_graph.all_imports(sorted(LAYERS)))
           if imp.target_app != "facerec_site" and imp.target_app not in LAYERS[imp.app]]
    assert _where(bad) == []


def test_no_module_is_over_450_lines():
    sizes = {str(path): len((import_graph.ROOT / path).read_text().splitlines())
             for app in APPS for path in import_graph.source_files(app)}
    long = {path: lines for path, lines in sizes.items() if lines > MAX_MODULE_LINES and path not in LONG_MODULES}
    assert long == {}
    assert sorted(set(LONG_MODULES) - {path for path, lines in sizes.items() if lines > MAX_MODULE_LINES}) == []


def test_the_checker_sees_imports_inside_functions(tmp_path, monkeypatch):
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "late.py").write_text("def f():\n    from identities.models import Identity\n")
    monkeypatch.setattr(import_graph, "ROOT", tmp_path)
    assert _where(import_graph.all_imports(["core"])) == ["core/late.py:2 imports identities.models.Identity"]
