"""The direction of dependencies (README.md, "Architecture in a few lines"), enforced: a rule without
a test decays. `make lint` checks the imports again with import-linter (pyproject.toml)."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AWS_AND_FRAMEWORKS = {"boto3", "botocore", "pynamodb", "requests", "chalice", "aws_lambda_powertools", "integrations"}


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_domain_and_services_import_only_the_stdlib_and_each_other():
    for path in [*(ROOT / "chalicelib" / "domain").glob("*.py"), *(ROOT / "chalicelib" / "services").glob("*.py")]:
        assert not imports(path) & AWS_AND_FRAMEWORKS, path


def test_integrations_never_touch_aws_chalice_or_the_environment():
    for path in (ROOT / "integrations").rglob("*.py"):
        assert not imports(path) & {"boto3", "botocore", "pynamodb", "chalice", "aws_lambda_powertools"}, path
        assert "os.environ" not in path.read_text() and "getenv" not in path.read_text(), path


def test_app_knows_only_chalice_and_the_handlers():
    assert imports(ROOT / "app.py") <= {"chalice", "chalicelib"}
    text = (ROOT / "app.py").read_text()
    assert "adapters" not in text and "boto3" not in text


def test_integrations_ship_through_the_vendor_symlink():
    link = ROOT / "vendor" / "integrations"
    assert link.is_symlink() and link.resolve() == (ROOT / "integrations").resolve()


def test_no_scan_outside_tests():
    for path in [*(ROOT / "chalicelib").rglob("*.py"), *(ROOT / "integrations").rglob("*.py"), ROOT / "app.py"]:
        text = path.read_text()
        assert ".scan(" not in text and '"Scan"' not in text, f"{path} scans the table"
