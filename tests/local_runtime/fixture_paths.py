"""Where the local runtime's test template lives (importable by the test modules)."""

from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
TEST_TEMPLATE = FIXTURES / "template.yaml"
