# Dripcast. `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
SERVICES := eval "$$(scripts/services.sh up)"
SQLC := cd tools && go tool sqlc -f ../sqlc.yaml
GO_TEST_FLAGS ?= -count=1 -race -timeout=30m
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
test: verify ## the whole test suite against real Postgres and Redis, and each fuzz target briefly
	@$(SERVICES) && go test $(GO_TEST_FLAGS) $$(go list ./... | grep -v /e2e)
	@$(MAKE) --no-print-directory fuzz
	@$(SERVICES) && echo "end-to-end tests, alone: they measure rates per second" && go test $(GO_TEST_FLAGS) ./e2e

# Parsers and compilers of untrusted input, each fuzzed for FUZZTIME by `make test`.
FUZZTIME ?= 4s
FUZZ_TARGETS := segment:FuzzCompile templates:FuzzRender importer:FuzzCSVRows importer:FuzzNDJSONLine phone:FuzzNormalize \
	whatsapp:FuzzParseNotification whatsapp:FuzzVerifySignature integrations:FuzzVerify

.PHONY: fuzz
fuzz: ## run each fuzz target for FUZZTIME (4s; longer with FUZZTIME=10m)
	@for t in $(FUZZ_TARGETS); do \
	  go test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) ./$${t%%:*} | tail -1 || exit 1; done

.PHONY: build
build: ## build bin/dripcast
	go build -o bin/dripcast ./cmd/dripcast

.PHONY: generate
generate: ## regenerate queries/ from sql/ with sqlc
	$(SQLC) generate

.PHONY: verify
verify: ## gofmt, go vet, sqlc output fresh, migrations apply and roll back cleanly
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^queries/')); \
	  if [ -n "$$unformatted" ]; then echo "not gofmt-formatted:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	$(SQLC) diff
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
bench: ## benchmarks beside same-run baselines, 3 runs each; the table goes into BENCHMARKS.md
	@mkdir -p .cache
	@$(SERVICES) && { go test -run '^$$' -bench . -benchtime 1x -count 3 -timeout 30m ./importer -args -import-rows=1000000 && \
	  go test -run '^$$' -bench . -benchtime 1x -count 3 -timeout 30m ./broadcast -args -expand-contacts=1000000 && \
	  go test -run '^$$' -bench . -benchtime 1x -count 3 -timeout 60m ./dashboards -args -panel-messages=10000000 && \
	  go test -run '^$$' -bench Tier -benchtime 1x -count 3 -timeout 10m ./e2e -args -bench-tier=2000; } | tee .cache/bench.txt
	cd tools && go run ./benchtable -in ../.cache/bench.txt -out ../BENCHMARKS.md

.PHONY: bench-smoke
bench-smoke: ## the benchmarks at a small size, so CI keeps their harness (and the table) working
	@mkdir -p .cache
	@$(SERVICES) && { go test -run '^$$' -bench . -benchtime 1x ./importer -args -import-rows=5000 && \
	  go test -run '^$$' -bench . -benchtime 1x ./broadcast -args -expand-contacts=5000 && \
	  go test -run '^$$' -bench . -benchtime 1x ./dashboards -args -panel-messages=20000 && \
	  go test -run '^$$' -bench Tier -benchtime 1x ./e2e -args -bench-tier=250; } | tee .cache/bench-smoke.txt
	cp BENCHMARKS.md .cache/BENCHMARKS.smoke.md
	cd tools && go run ./benchtable -in ../.cache/bench-smoke.txt -out ../.cache/BENCHMARKS.smoke.md > /dev/null

.PHONY: services-up
services-up: ## start local Postgres and Redis (installing them when missing) and print their URLs
	@scripts/services.sh up

.PHONY: services-down
services-down: ## stop local Postgres and Redis
	@scripts/services.sh down
