# Dripcast. `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
SERVICES := eval "$$(scripts/services.sh up)"
SQLC := cd tools && go tool sqlc -f ../sqlc.yaml
BENCH := go test -run '^$$' -bench . -benchtime 1x -timeout 90m
# Go 1.26.8, this machine's, has known vulnerabilities in net/http, crypto/tls and crypto/x509
# (make lint names them); the go command fetches this patched release from the module proxy.
export GOTOOLCHAIN := go1.26.10

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

.PHONY: demo
demo: build ## start Postgres and Redis, run Dripcast and show it at work
	@$(SERVICES) && go run ./cmd/demo

.PHONY: test
test: verify ## the whole test suite against real Postgres and Redis, and each fuzz target briefly (scripts/test.sh)
	@$(SERVICES) && scripts/test.sh

.PHONY: screenshots
screenshots: ## the console's screenshots in docs/console, taken by its browser tests
	@$(SERVICES) && scripts/chromium.sh && DRIPCAST_SCREENSHOTS=$(CURDIR)/docs/console \
	  go test -count=1 -run '^TestConsole' ./e2e

# Parsers and compilers of untrusted input, each fuzzed for FUZZTIME by `make test`, two at a
# time (scripts/fuzz.sh: a target that fails without a finding runs once more).
FUZZTIME ?= 4s
FUZZ_TARGETS := segment:FuzzCompile templates:FuzzRender importer:FuzzCSVRows importer:FuzzNDJSONLine phone:FuzzNormalize \
	whatsapp:FuzzParseNotification whatsapp:FuzzVerifySignature integrations:FuzzVerify api:FuzzCheckJSON

.PHONY: fuzz
fuzz: ## run each fuzz target for FUZZTIME (4s; longer with FUZZTIME=10m)
	@FUZZTIME=$(FUZZTIME) scripts/fuzz.sh $(FUZZ_TARGETS)

CHAOS_RUNS ?= 5

.PHONY: chaos
chaos: ## every fault scenario CHAOS_RUNS times (5), then a table of what each showed
	@mkdir -p .cache
	@$(SERVICES) && go test -count=$(CHAOS_RUNS) -run '^TestChaos' -v -timeout 60m ./e2e > .cache/chaos.txt 2>&1; \
	  status=$$?; grep -E '^(--- FAIL|FAIL|ok)' .cache/chaos.txt; \
	  printf '%-22s %5s %9s %10s %5s %8s %8s %6s %10s %10s\n' scenario runs messages duplicates lost unknown breaches wrong opted_out recover_s; \
	  grep -o 'CHAOS|.*' .cache/chaos.txt | awk -F'|' '{k=$$2; r[k]++; for (i = 3; i <= 9; i++) v[k, i] += $$i; if ($$10 > t[k]) t[k] = $$10} \
	    END {for (k in r) printf "%-22s %5d %9d %10d %5d %8d %8d %6d %10d %10.1f\n", k, r[k], v[k,3], v[k,4], v[k,5], v[k,6], v[k,7], v[k,8], v[k,9], t[k]}' | sort; \
	  echo "(sums over the runs; recover_s: the slowest run, from the fault to every message final)"; exit $$status

.PHONY: backup-check
backup-check: ## a full pgBackRest backup, WAL archived while a broadcast sends, a restore to a chosen instant, checked row by row (e2e TestBackupRestore)
	@$(SERVICES) && go test -count=1 -run '^TestBackupRestore$$' -v ./e2e

.PHONY: build
build: ## build bin/dripcast
	go build -o bin/dripcast ./cmd/dripcast

.PHONY: generate
generate: ## regenerate queries/ from sql/ with sqlc
	$(SQLC) generate

.PHONY: verify
verify: ## gofmt, go vet, sqlc output fresh, the tools module's checks (OpenAPI, compose file, PromQL), migrations up and down
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^queries/')); \
	  if [ -n "$$unformatted" ]; then echo "not gofmt-formatted:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	$(SQLC) diff
	cd tools && go test -count=1 ./...
	@$(SERVICES) && go test -count=1 -run '^TestMigrations' ./db

# The Go vulnerability database, as a module the proxy serves (vuln.go.dev is not reachable here).
VULNDB := golang.org/x/vulndb@v0.0.0-20261105234957-e22db6528018
LINT_BIN := .cache/lint

.PHONY: lint
lint: ## go vet, staticcheck and govulncheck (the tools pinned in tools/go.mod)
	go vet ./...
	@mkdir -p $(LINT_BIN)
	cd tools && go build -o ../$(LINT_BIN)/ honnef.co/go/tools/cmd/staticcheck golang.org/x/vuln/cmd/govulncheck ./vulnindex
	$(LINT_BIN)/staticcheck ./...
	@test -f $(LINT_BIN)/vulndb/index/db.json || $(LINT_BIN)/vulnindex -out $(LINT_BIN)/vulndb \
	  -osv "$$(cd tools && go mod download -json $(VULNDB) | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')/data/osv"
	$(LINT_BIN)/govulncheck -db file://$(CURDIR)/$(LINT_BIN)/vulndb ./...

.PHONY: bench
bench: ## benchmarks beside same-run baselines, 3 runs each (about 30 minutes), on a durable Postgres (fsync on); the table goes into BENCHMARKS.md
	@mkdir -p .cache
	@export DRIPCAST_PG_DURABLE=1 && $(SERVICES) && { $(BENCH) -count 3 ./importer -args -import-rows=1000000 && \
	  $(BENCH) -count 3 ./segment -args -count-contacts=100000 && \
	  $(BENCH) -count 3 ./broadcast -args -expand-contacts=1000000 && \
	  $(BENCH) -count 3 ./dashboards -args -panel-messages=10000000 && \
	  $(BENCH) -count 3 ./e2e -args -bench-tier=2000 -bench-sends=200000 -bench-webhook-messages=200000 \
	    -bench-rate-seconds=30 -bench-redis-audience=1000000 -bench-latency-samples=50; } | tee .cache/bench.txt
	cd tools && go run ./benchtable -in ../.cache/bench.txt -out ../BENCHMARKS.md

.PHONY: bench-smoke
bench-smoke: ## the benchmarks at a small size, so CI keeps their harness (and the table) working
	@mkdir -p .cache
	@$(SERVICES) && { $(BENCH) ./importer -args -import-rows=5000 && \
	  $(BENCH) ./segment -args -count-contacts=5000 && \
	  $(BENCH) ./broadcast -args -expand-contacts=5000 && \
	  $(BENCH) ./dashboards -args -panel-messages=20000 && \
	  $(BENCH) ./e2e -args -bench-tier=250 -bench-sends=4000 -bench-bound-sends=2000 -bench-webhook-messages=5000 \
	    -bench-rate-seconds=4 -bench-redis-audience=20000 -bench-redis-seconds=2 -bench-latency-samples=10; } | tee .cache/bench-smoke.txt
	cp BENCHMARKS.md .cache/BENCHMARKS.smoke.md
	cd tools && go run ./benchtable -in ../.cache/bench-smoke.txt -out ../.cache/BENCHMARKS.smoke.md > /dev/null

.PHONY: services-up
services-up: ## start local Postgres and Redis (installing them when missing) and print their URLs
	@scripts/services.sh up

.PHONY: services-down
services-down: ## stop local Postgres and Redis
	@scripts/services.sh down
