"""Configuration is read once per invocation, by the handler, and passed down."""

from __future__ import annotations

import ast
from pathlib import Path

PRODUCT = Path(__file__).resolve().parents[2] / "src" / "autovid"
SETTINGS_CLASSES = {"Config", "Settings", "Limits", "RenderSettings", "WebhookSettings"}


def environment_reads(path: Path) -> list[str]:
    """Where a module reads settings from the environment: ``X.from_env()`` or a settings class
    constructed (pydantic-settings reads the environment when one is built)."""
    tree = ast.parse(path.read_text(), str(path))
    settings_names = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "autovid.core.config"
        for alias in node.names
        if alias.name in SETTINGS_CLASSES
    }
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "from_env":
            found.append(f"{path.name}:{node.lineno} {ast.unparse(func)}()")
        elif isinstance(func, ast.Name) and func.id in settings_names:
            found.append(f"{path.name}:{node.lineno} {func.id}()")
    return found


def test_nothing_below_the_handlers_reads_the_environment_for_settings() -> None:
    reads = [
        read
        for path in sorted(PRODUCT.rglob("*.py"))
        if path != PRODUCT / "core" / "config.py"
        for read in environment_reads(path)
    ]
    assert reads == []


def test_the_check_sees_a_deep_read(tmp_path: Path) -> None:
    module = tmp_path / "deep.py"
    module.write_text("from autovid.core.config import Limits\n\ndef f():\n    return Limits().max_asset_bytes\n")
    assert environment_reads(module) == ["deep.py:4 Limits()"]
