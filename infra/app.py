"""The relations hub's AWS stack: `cd infra && cdk deploy` (or `make synth` to only synthesize)."""
import os
import sys

import aws_cdk as cdk

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stacks.hub import HubStack  # noqa: E402

app = cdk.App(outdir=os.environ.get("CDK_OUTDIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "cdk.out")))
HubStack(app, "RelationsHub", stage=app.node.try_get_context("stage") or "prod",
         env=cdk.Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")))
app.synth()
