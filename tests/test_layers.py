"""The package's rooms (its top-level modules and subpackages) import one another in layers:
no room imports one that imports it back, directly or through others, lazy imports inside
functions included. A cycle is how a change in one part starts to break another's import."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "llmhpo"


def room_of(module: str) -> str | None:
    """`llmhpo.store.folder` -> `store`; None outside the package and for llmhpo itself."""
    parts = module.split(".")
    return parts[1] if parts[0] == "llmhpo" and len(parts) > 1 else None


def imported_modules(path: Path, module: str) -> set[str]:
    """The absolute names `path` (the module `module`) imports, anywhere in it."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            package = module if path.name == "__init__.py" else module.rpartition(".")[0]
            base = package.split(".")[: len(package.split(".")) - max(node.level - 1, 0)]
            prefix = ".".join(base) + "." if node.level else ""
            names.add(prefix + (node.module or ""))
    return names


def room_imports() -> dict[str, set[str]]:
    """Each room and the other rooms it imports."""
    imports: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        module = module.removesuffix(".__init__")
        room = room_of(module)
        if room is None:
            continue
        targets = {room_of(name) for name in imported_modules(path, module)}
        imports.setdefault(room, set()).update(targets - {room, None})
    return imports


def rooms_on_a_cycle(imports: dict[str, set[str]]) -> list[str]:
    """The rooms that reach themselves by following imports."""
    on_cycle = []
    for room in imports:
        seen, todo = set(), list(imports[room])
        while todo:
            other = todo.pop()
            if other not in seen:
                seen.add(other)
                todo.extend(imports.get(other, ()))
        if room in seen:
            on_cycle.append(room)
    return sorted(on_cycle)


def test_the_rooms_of_the_package_import_one_another_without_a_cycle():
    imports = room_imports()
    assert {"store", "study", "tuners", "assemble", "llm"} <= set(imports)  # it reads them
    assert "store" in imports["tuners"] and "tuners" in imports["study"]  # and their imports
    assert rooms_on_a_cycle(imports) == []


def test_a_room_that_imports_back_is_on_a_cycle():
    imports = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert rooms_on_a_cycle(imports) == ["a", "b", "c"]
