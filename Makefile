# sspr-bot: `make run` and `make test` are the README's quick start; the rest are helpers.
# Needs python3 (3.11 or newer), make, and access to PyPI.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.ONESHELL:
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Stamps: the install is redone only when pyproject.toml changes.
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
# The account `make chat` signs in as (a demo account, see config/DEMO-ACCOUNTS.md).
CHAT_USER ?= alice
# `make run PORT=4000 CONFIG=sspr.yaml`: the port to listen on (0: any free one) and the
# config file; unset, server.port and the embedded defaults.
PORT ?=
CONFIG ?=

# Debian packages the test suite needs (real servers the fixtures start). Installed with
# apt-get when missing and running as root; otherwise `make test` names them and stops.
# graphviz: `sspr-bot config graph --output x.svg` draws with its `dot`.
# systemd: tests/deploy checks the unit with `systemd-analyze` and `systemd-sysusers`.
APT_PACKAGES := redis-server redis-tools slapd ldap-utils samba samba-ad-dc winbind krb5-user chromium \
	graphviz systemd

.PHONY: help run test chat clean system-packages

help:
	@echo "make run     start the bot; it prints the web chat address first (default"
	echo "            http://127.0.0.1:3978/). Choose with PORT=4000 and CONFIG=sspr.yaml"
	echo "make test    install what the tests need, then ruff, mypy and pytest"
	echo "make chat    talk to the bot in this terminal as $(CHAT_USER) (CHAT_USER=bob, CONFIG=...)"
	echo "make clean   remove .venv, sspr-data and caches"

run: $(STAMP)
	@exec $(BIN)/sspr-bot serve $(if $(CONFIG),--config '$(CONFIG)') $(if $(PORT),--port '$(PORT)')

test: system-packages $(TEST_STAMP)
	@set -x
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

chat: $(STAMP)
	@exec $(BIN)/sspr-bot chat --user $(CHAT_USER) $(if $(CONFIG),--config '$(CONFIG)')

clean:
	rm -rf $(VENV) sspr-data .pytest_cache .mypy_cache .ruff_cache build test-artifacts \
		*.egg-info sspr-conversation.mmd
	find . -path ./.git -prune -o -type d -name __pycache__ -exec rm -rf {} +

system-packages:
	@packages="$(strip $(APT_PACKAGES))"
	[ -n "$$packages" ] || exit 0
	missing=""
	for package in $$packages; do
		dpkg-query -W -f='$${Status}' "$$package" 2>/dev/null | grep -q 'install ok installed' \
			|| missing="$$missing $$package"
	done
	[ -n "$$missing" ] || exit 0
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
		echo "The tests need these Debian packages:$$missing" >&2
		echo "Install them (sudo apt-get install$$missing) or run make test as root." >&2
		exit 1
	fi
	echo "Installing Debian packages:$$missing"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing
	# The tests start their own servers; services a package may have started get out of the way.
	for service in slapd samba-ad-dc smbd nmbd winbind redis-server; do
		service "$$service" stop >/dev/null 2>&1 || true
	done

$(STAMP): pyproject.toml | $(BIN)/python
	@echo "Installing sspr-bot into $(VENV) (takes a minute the first time)"
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# `.[test,fast]` includes everything `make run` needs, so it satisfies both stamps; with `fast`
# the bots the tests start serve on uvloop, as a production install with it does.
$(TEST_STAMP): pyproject.toml | $(BIN)/python
	@echo "Installing sspr-bot and its test tools into $(VENV) (takes a minute the first time)"
	$(BIN)/python -m pip install --quiet -e '.[test,fast]'
	touch $@ $(STAMP)

# Debian's python3 has no venv module (ensurepip) until the python3-venv package is
# installed; as root it is installed here, otherwise the message says what to do.
$(BIN)/python:
	@if ! $(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
		echo "sspr-bot needs Python 3.11 or newer; '$(PYTHON)' is: $$($(PYTHON) -V 2>&1 || true)" >&2
		exit 1
	fi
	rm -rf $(VENV)
	if $(PYTHON) -m venv $(VENV); then exit 0; fi
	rm -rf $(VENV)
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "'$(PYTHON) -m venv' failed: installing Debian's python3-venv"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
		$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); exit 1; }
	else
		echo "'$(PYTHON) -m venv' failed. On Debian or Ubuntu install the venv module first:" >&2
		echo "    sudo apt-get install python3-venv" >&2
		exit 1
	fi
