# The two commands: `make run` starts the whole hub locally, `make test` runs every test.
# Each installs what it needs: a .venv with the pinned packages (and Debian packages when missing).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-12)
export AWS_DEFAULT_REGION ?= us-east-1

# Debian packages the browser tests need: Chromium (Playwright drives it; its own browser
# download cannot work here) and CJK fonts so Japanese pages render in screenshots.
SYSTEM_PACKAGES := chromium fonts-noto-cjk

.PHONY: run test test-fast install system-packages clean

install: $(STAMP)

system-packages:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
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

run: $(STAMP)
	$(BIN)/python tools/local_hub.py

test: $(STAMP) system-packages
	$(BIN)/python -m pytest -n 2 --dist loadgroup

test-fast: $(STAMP) system-packages
	$(BIN)/python -m pytest -n 2 -m "not slow"

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis tests/artifacts .local
