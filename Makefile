# vendorhub: `make run` starts everything locally, `make test` runs every test layer.
# Each target's `##` comment is what `make help` prints.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO ?= go
# -race doubles build and run time; it stays on for the whole suite (see README "Tests").
GO_TEST_FLAGS ?= -race -count=1 -timeout 25m
# An execution count, not a duration: Go 1.26's fuzz coordinator can fail a target with a bare
# "context deadline exceeded" when a duration runs out (go.dev/issue/75804).
FUZZTIME ?= 100000x
BIN := bin/vendorhub

.PHONY: help deps build run test vet golangci test-go fuzz bench lint fmt clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

deps: ## install missing Debian packages (as root), npm tools from package-lock.json, Go modules
	@scripts/deps.sh

build: ## build bin/vendorhub
	$(GO) build -o $(BIN) ./cmd/vendorhub

run: deps build ## start vendorhub dev: ephemeral Postgres, migrations, seed, sidecar; Ctrl-C stops
	$(BIN) dev

test: deps vet golangci fuzz test-go ## run every test layer: vet, golangci-lint, fuzz (FUZZTIME each), Go tests incl. pgTAP, Supabase CLI, end-to-end

vet: ## go vet and a gofmt check
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go')); if [[ -n $$out ]]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

golangci: ## golangci-lint (version pinned by go.mod's tool directive; rules in .golangci.yml)
	$(GO) tool golangci-lint run ./...

test-go: ## go test ./... (GO_TEST_FLAGS, default -race): unit, database, pgTAP (pg_prove), Supabase CLI, end-to-end
	$(GO) test $(GO_TEST_FLAGS) ./...

fuzz: ## run each fuzz target for FUZZTIME (default 100000x executions)
	@FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

# A full run (11 min on 2 cores in the committed run) starts `vendorhub run` with its defaults under an open-loop
# load, measures each figure against a floor in the same run, writes bench/results/<UTC>.json
# and regenerates docs/benchmarks.md. BENCH_FLAGS='-only system -system-for 10s' is a short
# partial run (never reported); '-stages' adds the stage micro-benchmarks.
bench: deps ## measure the sidecar as deployed: bench/results/<UTC>.json and docs/benchmarks.md
	$(GO) run ./bench $(BENCH_FLAGS)

lint: deps vet golangci ## go vet, gofmt, golangci-lint, and supabase db lint of the migrations on a fresh database
	$(GO) test -count=1 -run 'TestSupabaseCLI' ./tests

fmt: ## gofmt the Go files
	gofmt -w $$(git ls-files -co --exclude-standard '*.go')

clean: ## remove build outputs and test artifacts
	rm -rf bin tests/artifacts
