# shopassist — the two commands a new user needs are `make run` and `make test`.
GO      ?= go
BIN     := bin/assistant
ARGS    ?=

.PHONY: run build test ort models fuzz bench vet clean

## run: fetch what is missing, build, and serve the demo store on :8080
run: build
	./$(BIN) serve $(ARGS)

## build: build bin/assistant
build: ort
	$(GO) build -o $(BIN) ./cmd/assistant

## test: vet, run every test (real Redis, started here) and short fuzz runs
test: ort
	scripts/test.sh

## ort: fetch ONNX Runtime's shared library into third_party/onnxruntime
ort:
	@scripts/fetch-ort.sh >/dev/null

## models: retrain the default models from the data (needs python3-torch; installs it with apt-get):
## the intent classifier, then the bi-encoder, then the cross-encoder (which starts from the bi-encoder)
models:
	training/build_models.sh
	training/build_biencoder.sh
	training/build_reranker.sh

## fuzz: longer fuzzing of every fuzz target (FUZZTIME per target: a duration or a count, default 60s)
fuzz:
	FUZZTIME=$${FUZZTIME:-60s} scripts/fuzz.sh

## bench: the benchmarks recorded in BENCHMARKS.md
bench: ort
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin
