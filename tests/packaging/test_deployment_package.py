"""`chalice package`: the zip Lambda gets holds integrations/, leaves tests/ and infra/ out, and its
handlers import and run from the unzipped package with nothing else on the path."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from chalicelib.adapters import resources
from integrations.sources import greenhouse
from tests.conftest import load_fixture

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("package")]


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    out = tmp_path_factory.mktemp("package")
    source = out / "source"  # what git tracks, copied: no local caches, no concurrent run's half-built files
    tracked = subprocess.run(["git", "ls-files", "app.py", "chalicelib", "integrations", "vendor", "requirements.txt",
                              ".chalice/config.json"], cwd=ROOT, check=True, capture_output=True, text=True).stdout.split()
    for name in tracked:
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / name).is_symlink():
            target.symlink_to(os.readlink(ROOT / name))
        else:
            shutil.copy2(ROOT / name, target)
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    built = subprocess.run([str(Path(sys.executable).parent / "chalice"), "package", "--stage", "dev", str(out / "build")],
                           cwd=source, env=env, capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]
    zip_path = out / "build" / "deployment.zip"
    unzipped = out / "unzipped"
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(unzipped)
        names = archive.namelist()
    return names, unzipped


def test_the_zip_holds_the_app_and_integrations_but_no_tests_or_infra(package):
    names, _ = package
    for required in ("app.py", "chalicelib/services/__init__.py", "chalicelib/services/intake.py", "integrations/registry.py",
                     "integrations/sources/greenhouse.py", "pynamodb/models.py", "aws_lambda_powertools/__init__.py", "boto3/__init__.py",
                     "standardwebhooks/webhooks.py"):
        assert required in names, required
    assert not [n for n in names if n.startswith(("tests/", "infra/", "tools/", ".venv/", "docs/"))]
    assert not [n for n in names if n.startswith(("moto/", "pytest/", "hypothesis/"))]  # dev tools stay out
    assert sorted(n for n in names if n.startswith("chalice/")) == ["chalice/__init__.py", "chalice/app.py"]  # its runtime only


INVOKE = textwrap.dedent('''
    import json, sys
    assert not [p for p in sys.path if "site-packages" in p], sys.path
    import app
    class Context:  # what Lambda passes
        function_name, memory_limit_in_mb, aws_request_id = "api_handler", 128, "pkg-test"
        invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:api_handler"
        def get_remaining_time_in_millis(self):
            return 30000
    def call(method, path, resource, params, body=b"", headers=None):
        event = {"httpMethod": method, "path": path, "resource": resource, "pathParameters": params,
                 "headers": {"Content-Type": "application/json", **(headers or {})}, "multiValueQueryStringParameters": None,
                 "queryStringParameters": None, "stageVariables": None, "isBase64Encoded": False, "body": body.decode(),
                 "requestContext": {"resourcePath": resource, "httpMethod": method, "requestId": "pkg-test", "path": path,
                                    "stage": "api"}}
        answer = app.app(event, Context())
        return answer["statusCode"], json.loads(answer["body"])
    payload = json.loads(sys.stdin.read())
    print(json.dumps([call("GET", "/health", "/health", None),
                      call("POST", "/webhooks/acme/nosuch", "/webhooks/{tenant}/{source}", {"tenant": "acme", "source": "nosuch"}, b"{}"),
                      call("POST", "/webhooks/acme/greenhouse", "/webhooks/{tenant}/{source}", {"tenant": "acme", "source": "greenhouse"},
                           payload["body"].encode(), payload["headers"])]))
''')


def test_handlers_run_from_the_unzipped_package_alone(package):
    _, unzipped = package
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{server._server.server_port}"
        aws = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        boto3.client("dynamodb", **aws).create_table(**resources.create_table_kwargs("relations-hub-pkg"))
        boto3.client("secretsmanager", **aws).create_secret(
            Name="relations-hub/pkg/acme/sources/greenhouse", SecretString=json.dumps({"webhook_secret": "pkg-secret-123"}))
        body = load_fixture("sources/greenhouse/reject_candidate")["body"]
        env = {"PATH": os.environ["PATH"], "AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": "us-east-1",
               "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "HUB_STAGE": "pkg", "HUB_TABLE": "relations-hub-pkg",
               "PYTHONPATH": str(unzipped)}
        result = subprocess.run([sys.executable, "-S", "-c", INVOKE], cwd=unzipped, env=env, capture_output=True, text=True,
                                input=json.dumps({"body": body, "headers": greenhouse.sign(body.encode(), "pkg-secret-123")}),
                                timeout=120)
        assert result.returncode == 0, result.stderr[-3000:]
        health, unknown, webhook = json.loads(result.stdout.strip().splitlines()[-1])
        assert health == [200, {"status": "ok"}]
        assert unknown[0] == 401 and unknown[1]["error"] == "invalid_signature"  # unknown sources look like bad signatures
        assert webhook == [202, {"accepted": 1, "ignored": 0, "duplicates": 0}]
    finally:
        server.stop()
