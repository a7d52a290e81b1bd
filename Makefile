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
TEMPLATE     := infra/cdk.out/RelationsHub.template.json
# synthesis is offline: a placeholder account and region stand in for the real ones at deploy time
SYNTH_ENV    := AWS_DEFAULT_REGION=ap-northeast-1 CDK_DEFAULT_REGION=ap-northeast-1 CDK_DEFAULT_ACCOUNT=123456789012 \
                JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1

.PHONY: run test test-fast lint bench install system-packages clean synth infra-check

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

# The AWS stack, synthesized offline into infra/cdk.out/ (needs Node.js for the CDK's jsii runtime).
synth: $(INFRA_STAMP) system-packages
	rm -rf infra/cdk.out
	cd infra && $(SYNTH_ENV) ../$(INFRA_VENV)/bin/python app.py > /dev/null

# cfn-lint and checkov on the synthesized template: zero findings; every suppression, with its
# reason, is in infra/checkov.yaml.
infra-check: synth $(CHECKOV_STAMP)
	$(INFRA_VENV)/bin/cfn-lint $(TEMPLATE)
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --framework cloudformation --config-file infra/checkov.yaml -f $(TEMPLATE)

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
	rm -rf $(VENV) $(INFRA_VENV) $(CHECKOV_VENV) .pytest_cache .hypothesis tests/artifacts .local infra/cdk.out infra/chalice.out \
	       .ruff_cache .mypy_cache .import_linter_cache
