"""The package's declared layering, checked from the imports of every module.

errors/version <- io, blocks <- keys <- registry <- schemes <- layers, data, files <- shards <- models
<- distribute <- training <- experiments, security <- cli: a module imports only from its own
component or from components below it (function-level imports included), so the
tree shows the architecture and nothing imports upwards.
"""

import ast
from pathlib import Path

import keras_lie

LEVELS = {
    "errors": 0, "version": 0, "options": 0,
    "io": 1, "blocks": 1,
    "manifest": 1.5,  # the deprecated alias of io.dataset_manifest
    "keys": 2,
    "registry": 2.5,  # one record per scheme, read by everything above
    "encryption_spec": 2.75,  # a key's public facts, from a key or a manifest
    "schemes": 3,
    "layers": 4, "data": 4, "files": 4,
    "shards": 4.5,  # Beam pipelines writing TFDS datasets: encrypt files into shards
    "models": 5,
    "distribute": 5.5,  # tf.distribute plumbing that training uses
    "training": 6,
    "experiments": 7, "security": 7,
    "cli": 8,
}
PACKAGE = Path(keras_lie.__file__).parent
# Names that moved up a floor keep a warning alias where they were: the only imports allowed to point up.
DEPRECATED_ALIASES = {("layers/__init__.py", "models"), ("files.py", "data")}


def component(module_path: Path) -> str:
    return module_path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def imported_components(source: str):
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "keras_lie":
                names = [f"keras_lie.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            names = [node.args[0].value]  # importlib.import_module("keras_lie.x") counts too
        for name in names:
            parts = name.split(".")
            if parts[0] == "keras_lie" and len(parts) > 1:
                yield parts[1], node.lineno


def test_every_component_has_a_level():
    components = {component(p) for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE}
    assert components <= set(LEVELS), components - set(LEVELS)


def test_no_module_imports_upwards():
    violations = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "__init__.py":
            continue  # the public facade re-exports from every component
        own = component(path)
        for other, line in imported_components(path.read_text()):
            if (path.relative_to(PACKAGE).as_posix(), other) in DEPRECATED_ALIASES:
                continue
            if other != own and LEVELS.get(other, 99) >= LEVELS[own]:
                violations.append(f"{path.relative_to(PACKAGE.parent)}:{line} ({own}) imports {other}")
    assert not violations, "\n".join(violations)


def test_the_check_finds_an_upward_import():
    assert list(imported_components("def f():\n    from keras_lie.security import attack\n")) == [("security", 2)]
    assert list(imported_components("importlib.import_module('keras_lie.models')")) == [("models", 1)]


def test_the_architecture_document_names_every_component_on_its_floor():
    table = (PACKAGE.parent / "docs" / "architecture.md").read_text()
    rows = [line.split("|") for line in table.splitlines() if line.startswith("| ") and "`" in line]
    documented = {name.strip(" `"): float(row[1]) for row in rows for name in row[2].split(",")}
    assert documented == {name: float(level) for name, level in LEVELS.items()}
