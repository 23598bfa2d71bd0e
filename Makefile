# Peregrine — run `make` for the list of targets.
GO        ?= go
BIN       := bin/peregrine
PKGS      := ./...
BENCHTIME ?= 1s
FUZZTIME  ?= 30s

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build bin/peregrine
	$(GO) build -o $(BIN) ./cmd/peregrine

.PHONY: run
run: build ## Run everything on this machine (peregrine run: agent + audit + admission), alerts on stdout
	./$(BIN) rules validate
	./$(BIN) run

.PHONY: test
test: ## Run all tests (the Falco conformance corpus in ../shared/conformance is required under CI)
	$(GO) test -count=1 $(PKGS)

.PHONY: bench
bench: ## Run the benchmarks and print ns/op and allocations
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) $(PKGS)

.PHONY: fuzz
fuzz: ## Fuzz the condition parser, the rule loader, the audit decoder, admission reviews and agent stream frames for FUZZTIME each
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./policies/condition
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) ./policies/rules
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./audit
	$(GO) test -run '^$$' -fuzz '^FuzzReview$$' -fuzztime $(FUZZTIME) ./webhook
	$(GO) test -run '^$$' -fuzz '^FuzzReadFrame$$' -fuzztime $(FUZZTIME) ./stream

.PHONY: generate
generate: ## Regenerate generated code: field catalogues (from the corpus) and the eBPF bindings (clang, bpftool)
	bpftool btf dump file /sys/kernel/btf/vmlinux format c > bpf/c/vmlinux.h
	$(GO) generate ./...

.PHONY: check-generated
check-generated: generate ## Regenerate and fail if the committed generated code differs
	@git diff --exit-code --stat -- bpf policies/fields || { echo "generated code is stale: run make generate and commit"; exit 1; }

.PHONY: lint
lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
