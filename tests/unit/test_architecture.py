"""The direction of dependencies and the shape of the core (docs/architecture.md), enforced: a rule
without a test decays. `make lint` checks the imports again with import-linter (pyproject.toml)."""
from __future__ import annotations

import ast
import dataclasses
import re
import typing
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


def test_no_module_of_chalicelib_is_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / "chalicelib").rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 400}
    assert long == {}


def test_services_hold_no_storage_key():
    """Key formats live in the DynamoDB package alone (chalicelib/adapters/dynamo/keys.py)."""
    key = re.compile(r"""["'][A-Z_]{2,}#|#P#|T#\{""")
    for path in (ROOT / "chalicelib" / "services").glob("*.py"):
        assert not key.search(path.read_text()), path


def test_no_port_is_typed_any():
    from chalicelib.domain import ports as port_module
    from chalicelib.services.ports import Ports

    hints = typing.get_type_hints(Ports, vars(port_module) | {"ports": port_module})
    for field in dataclasses.fields(Ports):
        assert hints[field.name] is not typing.Any and "Any" not in repr(hints[field.name]), field.name


def test_every_service_names_its_ports_in_its_constructor():
    """Composition, not mixins: a service's constructor lists exactly what it uses, typed."""
    import inspect

    from chalicelib.services import Services

    for field in dataclasses.fields(Services):
        if field.name == "ports":
            continue
        service = typing.get_type_hints(Services)[field.name]
        assert service.__bases__ == (object,), f"{service.__name__} inherits"
        parameters = list(inspect.signature(service.__init__).parameters.values())[1:]
        assert parameters, service.__name__
        for parameter in parameters:
            assert parameter.annotation not in (inspect.Parameter.empty, "Any", typing.Any), (service, parameter)


def test_the_registry_declares_every_optional_vendor_capability():
    """Services never probe a vendor module (hasattr): what a module can do is listed in the registry,
    and this keeps the lists true to the modules."""
    from integrations import registry

    assert set(registry.ENRICHED) == {n for n, m in registry.SOURCES.items() if hasattr(m, "fetch")}
    assert set(registry.SECRET_FORMATS) == {n for n, m in registry.SOURCES.items() if hasattr(m, "check_secret")}
    assert all(registry.ENRICHED[n] is registry.SOURCES[n] for n in registry.ENRICHED)
    services = ROOT / "chalicelib" / "services"
    assert not any("hasattr(" in p.read_text() or "getattr(" in p.read_text() for p in services.glob("*.py"))


def test_import_app_loads_no_handler_domain_rule_or_aws_library_before_first_use():
    """The cold start target (bench/coldstart.py: import app within 2x import chalice): registering
    the routes needs chalice, the error middleware and nothing else; the rest loads on first use."""
    import subprocess
    import sys

    watched = "('chalicelib', 'aws_lambda_powertools', 'boto', 'pynamodb')"
    probe = f"import sys, app; print(' '.join(m for m in sys.modules if m.startswith({watched})))"
    loaded = set(subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split())
    assert loaded <= {"chalicelib", "chalicelib.observability", "chalicelib.handlers", "chalicelib.handlers.http",
                      "chalicelib.domain", "chalicelib.domain.errors"}, loaded
