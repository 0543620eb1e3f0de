# camkit — see README.md. `make run` and `make test` are the two commands.
SHELL := /bin/bash
GO    ?= go
BIN   := $(CURDIR)/bin
TOOLS := $(BIN)/tools
export PATH := $(TOOLS):$(PATH)

# Pinned code generators: `make generate` must reproduce the committed code byte for byte.
PROTOC_GEN_GO      := google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
PROTOC_GEN_GO_GRPC := google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
TEMPL              := github.com/a-h/templ/cmd/templ@v0.3.1100

PLUGINS := $(notdir $(wildcard plugins/*))
THEMES  := $(notdir $(wildcard themes/*))
TESTFLAGS ?= -race -count=1 -timeout 30m

.PHONY: all build run test generate tools lint bench fuzz clean

all: build

build:
	@mkdir -p $(BIN)/plugins
	$(GO) build -o $(BIN)/camkit ./cmd/camkit
	@for p in $(PLUGINS); do echo "build plugins/$$p"; $(GO) build -o $(BIN)/plugins/$$p ./plugins/$$p || exit 1; done
	@for t in $(THEMES); do echo "build themes/$$t"; $(GO) build -o $(BIN)/plugins/theme-$$t ./themes/$$t || exit 1; done

run: build
	$(BIN)/camkit serve

# Every test of both modules, with the race detector. Tests that need PostgreSQL
# read CAMKIT_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres).
# Both modules always run, so one failure does not hide another.
test: build
	@rc=0; \
	(cd sdk && $(GO) test $(TESTFLAGS) ./...) || rc=1; \
	CAMKIT_BIN=$(BIN) $(GO) test $(TESTFLAGS) ./... || rc=1; \
	exit $$rc

tools:
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) $(GO) install $(PROTOC_GEN_GO)
	GOBIN=$(TOOLS) $(GO) install $(PROTOC_GEN_GO_GRPC)
	GOBIN=$(TOOLS) $(GO) install $(TEMPL)

generate: tools
	cd sdk/proto && protoc -I . --go_out=. --go_opt=paths=source_relative \
		--go-grpc_out=. --go-grpc_opt=paths=source_relative $$(find . -name '*.proto' | sort)
	$(TOOLS)/templ generate -path themes

lint:
	$(GO) vet ./...
	cd sdk && $(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)

# The figures of BENCHMARKS.md; see scripts/bench.sh. Output also in bench.out.
bench: build
	bash scripts/bench.sh

# Every native Go fuzz target of both modules for FUZZTIME each, one after
# another (scripts/fuzz.sh); fails if one finds a failing input, which go test
# keeps in that package's testdata/fuzz/. Their seed corpora run in `make test`.
FUZZTIME ?= 30s
FUZZPARALLEL ?= 1
fuzz: build
	FUZZTIME=$(FUZZTIME) FUZZPARALLEL=$(FUZZPARALLEL) CAMKIT_BIN=$(BIN) bash scripts/fuzz.sh

clean:
	rm -rf $(BIN)
