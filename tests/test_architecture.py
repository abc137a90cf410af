"""Package layout rules (issues 10 and 18): no import cycles (imports inside functions included),
no module over 500 lines, at most 12 modules at the package root, a tests/<package>/ folder per
subpackage, records read by attribute only (no class answers `obj["key"]` / `obj.get(...)`), only
cli/ and report/ print, domain modules never import cli/, and `pytest_tfperf.optimize` stays the
function."""
from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest_tfperf

PACKAGE = Path(pytest_tfperf.__file__).parent


def _modules() -> dict[str, Path]:
    """{dotted module name: file} for every module of the package (packages as their __init__)."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path], *, in_functions: bool = True) -> set[str]:
    """Package modules `name` imports: at import time, and (`in_functions`) inside its functions,
    where a cycle hides until the function runs."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def visit(nodes):
        for node in nodes:
            if not in_functions and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name in modules)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".") if is_package else name.split(".")[:-1]
                    base = base[:len(base) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    if sub in modules:
                        found.add(sub)
                    elif target in modules:
                        found.add(target)
            elif isinstance(node, ast.ClassDef):
                visit(node.body)
            else:
                visit(list(ast.iter_child_nodes(node)))

    visit(ast.parse(path.read_text()).body)
    found.discard(name)
    return found


def test_every_submodule_imports_and_optimize_stays_the_function():
    names = [m.name for m in pkgutil.walk_packages(pytest_tfperf.__path__, "pytest_tfperf.")]
    for name in names:
        importlib.import_module(name)
    assert "pytest_tfperf.optimization.pipeline" in names and "pytest_tfperf.cli.compare" in names
    assert callable(pytest_tfperf.optimize) and pytest_tfperf.optimize.__name__ == "optimize"
    assert pytest_tfperf.optimize_with_report.__name__ == "optimize_with_report"


def _cycle(in_functions: bool) -> str | None:
    """The first import cycle found, as 'a -> b -> a', or None."""
    modules = _modules()
    graph = {name: _imports(name, path, modules, in_functions=in_functions)
             for name, path in modules.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(nxt):] + [nxt]))
            if nxt not in state:
                dfs(nxt)
        stack.pop()
        state[node] = 2

    try:
        for name in sorted(graph):
            if name not in state:
                dfs(name)
    except AssertionError as exc:
        return str(exc)
    return None


def test_no_import_cycles_imports_inside_functions_included():
    assert _cycle(in_functions=False) is None
    assert _cycle(in_functions=True) is None


def test_the_cycle_check_sees_imports_inside_functions(tmp_path):
    a = tmp_path / "a.py"
    a.write_text("def f():\n    from pkg import b\n")
    modules = {"pkg.a": a, "pkg.b": tmp_path / "b.py"}
    assert _imports("pkg.a", a, modules) == {"pkg.b"}
    assert _imports("pkg.a", a, modules, in_functions=False) == set()


def test_at_most_12_modules_at_the_package_root():
    root = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(root) <= 12, root


def test_every_subpackage_with_code_has_a_tests_folder():
    tests = Path(__file__).parent
    missing = [p.name for p in sorted(PACKAGE.iterdir())
               if (p / "__init__.py").is_file() and len(list(p.rglob("*.py"))) > 1
               and not list((tests / p.name).glob("test_*.py"))]
    assert not missing, f"subpackages without tests/<package>/test_*.py: {missing}"


def test_records_are_read_by_attribute_only():
    """No package class answers `obj["key"]` or `obj.get(key)` like a dict (issue 18: the dict
    shim on records is gone; records are read as `rec.field`)."""
    found = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
                            item.name == "__getitem__" or item.name == "get" and item.args.args
                            and item.args.args[0].arg == "self"):
                        found.append(f"{name}.{node.name}.{item.name}")
    assert not found, found


# Split on other branches of issue 10; drop each name when its split is merged.
_SPLIT_ELSEWHERE: frozenset[str] = frozenset()  # every module is under the limit now


def test_no_module_over_500_lines():
    long = {name: n for name, path in _modules().items()
            if (n := len(path.read_text().splitlines())) > 500 and name not in _SPLIT_ELSEWHERE}
    assert not long, f"modules over 500 lines: {long}"


def test_only_cli_and_report_print_and_domain_never_imports_cli():
    printing, importing_cli = [], []
    for name, path in _modules().items():
        if name.startswith(("pytest_tfperf.cli", "pytest_tfperf.report")):
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "print"):
                printing.append(f"{name}:{node.lineno}")
            if isinstance(node, ast.ImportFrom) and (
                    (node.module or "").split(".")[-1] == "cli" or (node.module or "").startswith("cli")
                    or any(a.name == "cli" for a in node.names)):
                importing_cli.append(f"{name}:{node.lineno}")
    assert not printing, f"print outside cli/ and report/: {printing}"
    assert not importing_cli, f"domain modules importing cli: {importing_cli}"


def test_cli_has_one_module_per_available_command():
    from pytest_tfperf import cli

    modules = cli.command_modules()
    assert {"summarize", "bench", "optimize", "compare"} <= set(modules)
    assert set(modules) <= set(cli.COMMANDS)  # a missing one (merge, before it lands) is skipped
    for module in modules.values():
        assert callable(module.register) and callable(module.run)
    parser = cli.build_parser(modules)
    assert parser.parse_args(["compare", "a.json", "b.json"]).command == "compare"


def test_a_suite_that_does_not_use_tfperf_pays_no_numpy_or_tensorflow(pytester):
    """Start-up cost (README: the plugin adds ~30 ms): pytest's header shows tfperf's timing
    settings, and building them must not import NumPy, TensorFlow or the timing engine."""
    pytester.makeconftest("""
        import json, sys

        def pytest_sessionfinish(session):
            heavy = ("numpy", "tensorflow", "pytest_tfperf.timing.engine", "pytest_tfperf.model")
            with open("loaded.json", "w") as f:
                json.dump([m for m in heavy if m in sys.modules], f)
    """)
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert any(line.startswith("tfperf:") for line in result.stdout.lines)  # the header ran
    import json

    assert json.loads((pytester.path / "loaded.json").read_text()) == []
