"""The relations hub's AWS stack, one stack per stage: `make synth STAGE=<stage>` (default prod)
writes cdk.out/RelationsHub-<stage>.template.json; `make deploy STAGE=... PUBLIC_URL=...` deploys it.

Context (`-c name=value`): stage (default prod); domainName and certificateArn (the API's custom
domain); consoleTenants, consoleIdp, consoleIdpName (stacks/console.py)."""
import os
import sys

import aws_cdk as cdk

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stacks.hub import HubStack, stack_name  # noqa: E402

app = cdk.App(outdir=os.environ.get("CDK_OUTDIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "cdk.out")))
stage = app.node.try_get_context("stage") or "prod"
# The stack's name comes from its stage and nothing else: deploying another stage makes another stack,
# never an update (and a table replacement) of this one.
HubStack(app, stack_name(stage), stage=stage,
         env=cdk.Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")))
app.synth()
