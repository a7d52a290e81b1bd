# The two commands: `make run` starts the whole hub locally, `make test` runs every test (after `make lint`).
# `make bench` measures cost and scale (bench/run.py) and writes bench/results.json.
# Each installs what it needs: a .venv with the pinned packages (and Debian packages when missing).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-12)
export AWS_DEFAULT_REGION ?= us-east-1

# Debian packages the tests need: Chromium (Playwright drives it; its own browser download cannot
# work here), CJK fonts so Japanese pages render in screenshots, and Node.js (the CDK's synthesis)
# when the machine has none.
SYSTEM_PACKAGES := chromium fonts-noto-cjk

INFRA_VENV   := .venv-infra
INFRA_STAMP  := $(INFRA_VENV)/.installed-$(shell cat requirements.txt infra/requirements.txt | sha256sum | cut -c1-12)
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(shell cat infra/requirements-checkov.txt | sha256sum | cut -c1-12)
# One stack per stage (README, "Deploy"): `make synth STAGE=staging` writes infra/cdk.out/RelationsHub-staging.template.json.
STAGE        ?= prod
COMMA        := ,
STACK        := RelationsHub-$(STAGE)
TEMPLATE     := infra/cdk.out/$(STACK).template.json
# the stages `make infra-check` synthesizes and checks (tests/infra compares them); staging with a custom domain
CHECK_DOMAIN := DOMAIN_NAME=relations-staging.example.co.jp \
                CERTIFICATE_ARN=arn:aws:acm:ap-northeast-1:123456789012:certificate/00000000-0000-0000-0000-000000000000
# The CDK CLI, pinned in infra/package.json (and its lock), installed into infra/node_modules.
CDK          := infra/node_modules/.bin/cdk
CDK_STAMP    := infra/node_modules/.installed-$(shell cat infra/package.json infra/package-lock.json | sha256sum | cut -c1-12)
# CDK context of a deploy: the stage, and the API's custom domain when both are given
DOMAIN_NAME     ?=
CERTIFICATE_ARN ?=
PUBLIC_URL      ?= $(if $(DOMAIN_NAME),https://$(DOMAIN_NAME))
CDK_CONTEXT  := -c stage=$(STAGE) $(if $(DOMAIN_NAME),-c domainName=$(DOMAIN_NAME)) \
                $(if $(CERTIFICATE_ARN),-c certificateArn=$(CERTIFICATE_ARN)) \
                $(if $(CONSOLE_TENANTS),-c consoleTenants=$(CONSOLE_TENANTS))
CDK_PARAMETERS := --parameters PublicUrl=$(PUBLIC_URL) $(if $(PLATFORM_PRINCIPALS),--parameters PlatformPrincipals=$(PLATFORM_PRINCIPALS)) \
                $(if $(ALARM_EMAIL),--parameters AlarmEmail=$(ALARM_EMAIL)) \
                $(if $(LOG_RETENTION_DAYS),--parameters LogRetentionDays=$(LOG_RETENTION_DAYS))
# deploy and diff run the CLI from infra/ with the infra virtualenv first on PATH (cdk.json runs its python)
CDK_RUN      := cd infra && PATH="$(CURDIR)/$(INFRA_VENV)/bin:$$PATH" JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1 \
                ../$(CDK)
# what `make diff` compares against: the template last deployed from here, else the last synthesized one
AGAINST      ?= $(firstword $(wildcard infra/deployed/$(STACK).template.json) $(TEMPLATE))
# synthesis is offline: a placeholder account and region stand in for the real ones at deploy time
SYNTH_ENV    := AWS_DEFAULT_REGION=ap-northeast-1 CDK_DEFAULT_REGION=ap-northeast-1 CDK_DEFAULT_ACCOUNT=123456789012 \
                JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1

.PHONY: run test test-fast lint bench install system-packages clean synth infra-check deploy diff cdk-cli

install: $(STAMP)

system-packages:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	command -v node >/dev/null 2>&1 || missing="$$missing nodejs"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "pip<26.3"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

$(INFRA_STAMP): requirements.txt infra/requirements.txt
	@test -x $(INFRA_VENV)/bin/python || $(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/python -m pip install --quiet --disable-pip-version-check "pip<26.3"
	$(INFRA_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r infra/requirements.txt
	@rm -f $(INFRA_VENV)/.installed-*
	@touch $(INFRA_STAMP)

$(CHECKOV_STAMP): infra/requirements-checkov.txt
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check "pip<26.3"
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r infra/requirements-checkov.txt
	@rm -f $(CHECKOV_VENV)/.installed-*
	@touch $(CHECKOV_STAMP)

# The AWS stack of STAGE, synthesized offline into infra/cdk.out/$(STACK).template.json (needs Node.js for
# the CDK's jsii runtime). Other stages' templates stay (tests/infra compares two).
synth: $(INFRA_STAMP) system-packages
	rm -f infra/cdk.out/$(STACK).* infra/cdk.out/manifest.json infra/cdk.out/tree.json
	cd infra && $(SYNTH_ENV) CDK_CONTEXT_JSON='{"stage": "$(STAGE)"$(if $(DOMAIN_NAME),$(COMMA) "domainName": "$(DOMAIN_NAME)")$(if \
	  $(CERTIFICATE_ARN),$(COMMA) "certificateArn": "$(CERTIFICATE_ARN)")}' ../$(INFRA_VENV)/bin/python app.py > /dev/null
	@echo "synthesized $(TEMPLATE)"

# cfn-lint and checkov on the templates of prod and of staging (with a custom domain): zero findings;
# every suppression, with its reason, is in infra/stacks/suppressions.py.
infra-check: $(INFRA_STAMP) $(CHECKOV_STAMP)
	$(MAKE) --no-print-directory synth STAGE=staging $(CHECK_DOMAIN)
	$(MAKE) --no-print-directory synth STAGE=prod
	for t in infra/cdk.out/RelationsHub-prod.template.json infra/cdk.out/RelationsHub-staging.template.json; do \
	  $(INFRA_VENV)/bin/cfn-lint $$t && \
	  $(CHECKOV_VENV)/bin/checkov --quiet --compact --framework cloudformation --config-file infra/checkov.yaml -f $$t \
	  || exit 1; done

$(CDK_STAMP): infra/package.json infra/package-lock.json
	cd infra && npm ci --no-audit --no-fund --loglevel=error
	@rm -f infra/node_modules/.installed-*
	@touch $(CDK_STAMP)

cdk-cli: $(CDK_STAMP)

# Deploy STAGE to the AWS account of the current credentials (README, "Deploy"; docs/operations.md):
#   make deploy STAGE=prod PUBLIC_URL=https://relations.example.co.jp [DOMAIN_NAME=... CERTIFICATE_ARN=...]
#               [ALARM_EMAIL=ops@example.co.jp] [PLATFORM_PRINCIPALS=arn:...] [LOG_RETENTION_DAYS=90]
#               [CONSOLE_TENANTS=acme] [DRY_RUN=1: print the commands, run nothing]
# Bootstrapping is idempotent: the first deploy to an account and region needs it, later ones skip quickly.
deploy: $(INFRA_STAMP) $(CDK_STAMP) system-packages
	@test -n "$(PUBLIC_URL)" || { echo "PUBLIC_URL=https://... is required (or DOMAIN_NAME with CERTIFICATE_ARN)"; exit 2; }
	@set -e; \
	bootstrap='$(CDK_RUN) bootstrap $(CDK_CONTEXT)'; \
	deploy='$(CDK_RUN) deploy $(STACK) $(CDK_CONTEXT) $(CDK_PARAMETERS) --require-approval broadening'; \
	if [ -n "$(DRY_RUN)" ]; then echo "$$bootstrap"; echo "$$deploy"; exit 0; fi; \
	sh -c "$$bootstrap"; sh -c "$$deploy"; \
	mkdir -p infra/deployed && cp infra/cdk.out/$(STACK).template.json infra/deployed/$(STACK).template.json

# What a deploy of STAGE would change, offline (no AWS credentials): the app now against AGAINST (the
# template last deployed from this checkout, else the last synthesized one; any template file works).
# Against the live stack instead: `make diff LIVE=1` (needs credentials).
diff: $(INFRA_STAMP) $(CDK_STAMP) system-packages
	@test -f "$(AGAINST)" || { echo "nothing to compare against: make synth STAGE=$(STAGE) first, or AGAINST=<template>"; exit 2; }
	@mkdir -p infra/deployed && cp "$(AGAINST)" infra/deployed/.against.json
	$(if $(LIVE),$(CDK_RUN) diff $(STACK) $(CDK_CONTEXT),$(CDK_RUN) diff $(STACK) $(CDK_CONTEXT) --template deployed/.against.json --no-path-metadata --no-version-reporting \
	  --app "$(SYNTH_ENV) ../$(INFRA_VENV)/bin/python app.py")

run: $(STAMP)
	$(BIN)/python tools/local_hub.py

# Ingest cost, cold start, memory, scaling, agency batches, cost per 1,000 rejections, the console's
# pages at 100,000 people: a table on stdout and bench/results.json (committed as the latest figures;
# the README quotes them). One step alone: `.venv/bin/python -m bench.run --only console`.
bench: $(STAMP)
	$(BIN)/python -m bench.run

# Static checks, configured in pyproject.toml: ruff (style, imports, likely bugs), mypy (strict types of the
# domain, the use cases and the integrations), import-linter (the layers may not import upwards), vulture (dead
# code; what frameworks and tests use by name is in tools/vulture_allowlist.py).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy chalicelib/domain chalicelib/services integrations chalicelib/wiring.py
	$(BIN)/lint-imports
	$(BIN)/vulture --min-confidence 80 app.py chalicelib integrations tools bench

test: $(STAMP) lint system-packages infra-check
	$(BIN)/python -m pytest -n 2 --dist loadgroup

test-fast: $(STAMP) system-packages
	$(BIN)/python -m pytest -n 2 -m "not slow"

clean:
	rm -rf $(VENV) $(INFRA_VENV) $(CHECKOV_VENV) infra/node_modules .pytest_cache .hypothesis tests/artifacts .local infra/cdk.out infra/chalice.out \
	       .ruff_cache .mypy_cache .import_linter_cache
