# kubectl-meshinsight — what a developer can do. `make help` lists the targets.

GO        ?= go
BIN       := bin
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null)
PKG       := github.com/meshinsight/kubectl-meshinsight
# AGENT_DIGEST (sha256:…, what `make image` writes to bin/image.digest) pins
# the plugin's default agent image by digest; releases always set it.
AGENT_DIGEST ?=
LDFLAGS   := -s -w -X $(PKG)/pkg/version.Version=$(VERSION) -X $(PKG)/pkg/version.Commit=$(COMMIT) $(if $(AGENT_DIGEST),-X $(PKG)/pkg/version.AgentDigest=$(AGENT_DIGEST))
DIST      ?= dist
PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64

.PHONY: bench-contention test-dist bench-keepalive testenv-node testenv-node-down test-node validate image build-agent-all help build build-agent test-agent testenv testenv-down prometheus prometheus-down test-integration bench-discover bench-agent generate check-generate test test-privileged fuzz lint check-cli-deps bench bench-e2e bench-probe bench-workload dist clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 22

build: ## Build the plugin into bin/kubectl-meshinsight
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/kubectl-meshinsight ./cmd/kubectl-meshinsight

build-agent: ## Build the profiling agent into bin/meshinsight-agent (Linux; links eBPF)
	CGO_ENABLED=0 GOOS=linux $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/meshinsight-agent ./cmd/meshinsight-agent

generate: ## Regenerate generated files: the embedded reference profile and the eBPF objects (needs clang-14, libbpf-dev)
	$(GO) run ./hack/refprofile > pkg/profile/reference.json.tmp && mv pkg/profile/reference.json.tmp pkg/profile/reference.json
	$(GO) generate ./pkg/probe/

check-generate: ## Fail if the committed eBPF objects differ from what the C sources build
	./hack/check-generate.sh

test: ## Fast unit tests (no cluster, no root)
	$(GO) test -count=1 ./...

test-privileged: ## Root suites: real eBPF programs in this kernel; sidecar datapath in netns with real haproxy/nginx
	$(GO) test -tags privileged -count=1 -p 1 -timeout 10m -v ./pkg/probe/ ./pkg/datapath/ ./pkg/accuracy/

test-agent: ## Node-local profile of a real haproxy (root; asserts eBPF/schedstat agreement: median ≤ 5%, each cell ≤ 10%)
	$(GO) test -tags privileged -count=1 -timeout 10m -v ./pkg/agent/

testenv: ## Build (cached) and start the real test control plane; prints the exports
	./hack/testenv/build.sh >&2
	./hack/testenv/up.sh

testenv-down: ## Stop the test control plane
	./hack/testenv/down.sh

prometheus: ## Start a real Prometheus over generated Istio series; prints the exports
	./hack/prometheus/run.sh start

prometheus-down: ## Stop that Prometheus and delete its data
	./hack/prometheus/run.sh stop

testenv-node: ## Build (cached) and start the real test node (kubelet, containerd, kube-proxy, stand-in Istio) in a netns; prints the exports (root)
	./hack/testenv/build.sh >&2
	VERSION=$(VERSION) ./hack/testenv/node-up.sh

testenv-node-down: ## Take the real test node down and restore the host
	./hack/testenv/node-down.sh

test-node: ## profile end to end on a real node through a real kubectl: success, capabilities, failure paths; host unchanged after (root, ~12 min)
	./hack/testenv/build.sh >&2
	$(GO) test -tags node -count=1 -p 1 -timeout 45m -v ./internal/nodetest/

INTEGRATION_PKGS := ./internal/testenv/ ./pkg/kube/ ./pkg/mesh/ ./pkg/telemetry/ ./pkg/cmd/

test-integration: ## Suites against the real control plane and Prometheus (start them with make testenv / make prometheus and export what they print)
	$(GO) test -tags integration -count=1 -p 1 -timeout 20m -v $(INTEGRATION_PKGS)

bench-discover: ## Discovery of 5,000 pods / 1,000 services in 50 namespaces on the real control plane, and every sidecar's visibility of them (target < 1 s)
	$(GO) test -tags integration -count=1 -run '^$$' -bench BenchmarkDiscoverLarge -benchtime 5x -timeout 20m ./pkg/kube/

# Every fuzz target, as package:Target: the parsers of everything read from
# users, clusters, agents and /proc, and the property that any valid graph
# and profile give a finite, non-negative, encodable report.
FUZZ_TARGETS := \
	./pkg/callgraph:FuzzParse ./pkg/profile:FuzzParse ./pkg/handoff:FuzzRead \
	./pkg/predict:FuzzParseWhatIf ./pkg/predict:FuzzParseSpeedups ./pkg/predict:FuzzPredict \
	./pkg/traces:FuzzParseJaeger ./pkg/traces:FuzzParseZipkin ./pkg/traces:FuzzParseOTLP \
	./pkg/traces:FuzzJaegerSpanScanner ./pkg/traces:FuzzJaegerDocScanner \
	./pkg/telemetry:FuzzParseStats ./pkg/symbolize:FuzzParseMaps ./pkg/datapath:FuzzListensOn \
	./pkg/probe:FuzzParseSchedstat ./pkg/probe:FuzzParseKernelSymbols \
	./pkg/agent:FuzzInContainer ./pkg/agent:FuzzProcStat ./pkg/agent:FuzzEffectiveCapabilities
FUZZTIME ?= 10s

fuzz: ## Run every fuzz target for FUZZTIME (10s) each on one worker, without minimizing; prints each target's executions and records them in bin/fuzz-execs.txt
	@mkdir -p $(BIN); : > $(BIN)/fuzz-execs.txt
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		out=$$($(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 0 -parallel 1 $$pkg 2>&1); rc=$$?; \
		execs=$$(echo "$$out" | grep -oE 'execs: [0-9]+ ' | tail -1 | grep -oE '[0-9]+'); \
		echo "$$pkg $$name: $${execs:-?} execs in $(FUZZTIME)" | tee -a $(BIN)/fuzz-execs.txt; \
		if [ $$rc -ne 0 ]; then echo "$$out"; exit 1; fi; \
	done

lint: check-cli-deps ## gofmt, go vet, and the CLI's dependency rule
	@out=$$(gofmt -l cmd pkg hack); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

check-cli-deps: ## The CLI must not link cilium/ebpf (it runs on macOS and Windows)
	@if $(GO) list -deps ./cmd/kubectl-meshinsight | grep -q '^github.com/cilium/ebpf'; then \
		echo "cmd/kubectl-meshinsight links github.com/cilium/ebpf"; exit 1; fi
	@echo "cmd/kubectl-meshinsight does not link cilium/ebpf"

validate: build-agent ## Measured vs predicted overhead on real haproxy sidecar chains (default, then diamond); prints the error tables (root, ~6 min)
	$(BIN)/meshinsight-agent validate --out $(BIN)/validate

bench: bench-e2e ## Benchmarks: predict on 10,000 workloads / 100,000 edges (target < 1 s, < 500 MiB); sidecar visibility of 1,000 Services (target < 1 s); end to end through the binary (goals printed)
	$(GO) test -run '^$$' -bench 'BenchmarkPredictLarge' -benchtime 5x -benchmem ./pkg/predict
	$(GO) test -run '^$$' -bench 'BenchmarkParseLarge' -benchtime 1x ./pkg/callgraph
	$(GO) test -run '^$$' -bench 'BenchmarkParseAndCriticalPath100k' -benchtime 5x -benchmem ./pkg/traces
	$(GO) test -run '^$$' -bench 'BenchmarkVisibilityLarge' -benchtime 5x -benchmem ./pkg/mesh

bench-e2e: ## End to end through the binary on 10,000 workloads / 100,000 edges (25 MB of JSON): wall time and peak RSS per output format, with the load average
	@$(GO) build -o $(BIN)/kubectl-meshinsight ./cmd/kubectl-meshinsight
	@$(GO) run ./hack/benchgraph -format json > $(BIN)/bench-graph.json
	@echo "end to end through the binary (parse JSON + predict + print), 10,000 workloads / 100,000 edges, $$(du -m $(BIN)/bench-graph.json | cut -f1) MB;"
	@echo "goals on a 2-vCPU machine: -o json and table <= 1.5 s and <= 500 MiB, -o yaml <= 5 s and <= 1 GiB; load average $$(cut -d' ' -f1-3 /proc/loadavg):"
	@for o in json table yaml; do \
		/usr/bin/time -f "  -o $$o: %e s wall, %U s user, peak RSS %M KiB" $(BIN)/kubectl-meshinsight predict -f $(BIN)/bench-graph.json -o $$o 2>&1 >/dev/null | grep -v '^Using' || exit 1; \
	done
	@echo "load average after: $$(cut -d' ' -f1-3 /proc/loadavg)"

bench-keepalive: ## The agent's CPU per request vs an independent keep-alive chain (hack/keepalive) for HTTP and TCP (root; prints the ratios)
	$(GO) test -tags privileged -count=1 -run '^$$' -bench BenchmarkKeepAliveAgreement -benchtime 1x -timeout 30m -v ./pkg/agent/

bench-contention: build-agent ## A proxy's CPU per request alone, beside a second profile, beside a busy loop (root; ~12 min; prints CPU-µs per request)
	hack/contention/run.sh 2 $(BIN)/meshinsight-agent

bench-probe: ## Observer effect of the eBPF probes (root)
	$(GO) test -tags privileged -count=1 -run '^$$' -bench ObserverEffect -benchtime 10x ./pkg/probe/

bench-agent: ## Two full local haproxy profiles back to back: wall time, repeatability, observer effect, eBPF/schedstat agreement (root)
	$(GO) test -tags privileged -count=1 -run '^$$' -bench BenchmarkLocalProfile -benchtime 1x -timeout 30m -v ./pkg/agent/

bench-workload: ## Loopback figures of the echo server and load generator (one process)
	$(GO) test -run '^$$' -bench 'BenchmarkLoopbackHTTP' -benchtime 3s ./pkg/loadgen
	$(GO) test -run '^$$' -bench 'BenchmarkLoopbackFixedRate' -benchtime 1x ./pkg/loadgen

AGENT_ARCHES := amd64 arm64

build-agent-all: ## Build the agent for linux/amd64 and linux/arm64 into bin/linux_ARCH/ (for make image)
	@for arch in $(AGENT_ARCHES); do \
		echo "building linux/$$arch"; \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/linux_$$arch/meshinsight-agent ./cmd/meshinsight-agent || exit 1; \
	done

image: build-agent-all ## Agent image (linux/amd64+arm64) without Docker: OCI layout bin/image + bin/meshinsight-agent.tar, tagged $(VERSION), digest in bin/image.digest; PUSH=REPO pushes it
	$(GO) run -ldflags '$(LDFLAGS)' ./hack/image $(foreach a,$(AGENT_ARCHES),-binary linux/$(a)=$(BIN)/linux_$(a)/meshinsight-agent) \
		-o $(BIN)/image -tar $(BIN)/meshinsight-agent.tar -digest-file $(BIN)/image.digest $(if $(PUSH),-push $(PUSH))

dist: ## Cross-compile release archives into dist/ (DIST=DIR elsewhere, PLATFORMS=linux/amd64 for one): binary, LICENSE and README at the archive's top level, as .krew.yaml and krew-index expect
	@test -f LICENSE || { echo "dist: LICENSE is missing: krew-index requires it in every archive"; exit 1; }
	@rm -rf $(DIST) && mkdir -p $(DIST)
	@for p in $(PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		dir=$(DIST)/kubectl-meshinsight_$${os}_$${arch}; mkdir -p $$dir; \
		echo "building $$os/$$arch"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $$dir/kubectl-meshinsight$$ext ./cmd/kubectl-meshinsight || exit 1; \
		cp LICENSE README.md $$dir/ || exit 1; \
		[ $$os = windows ] || cp cmd/kubectl-meshinsight/kubectl_complete-meshinsight $$dir/ || exit 1; \
		if [ $$os = windows ]; then (cd $$dir && zip -qr ../kubectl-meshinsight_$${os}_$${arch}.zip .); \
		else tar -C $$dir -czf $(DIST)/kubectl-meshinsight_$${os}_$${arch}.tar.gz .; fi; \
		rm -rf $$dir; \
	done
	@cd $(DIST) && sha256sum * > checksums.txt && cat checksums.txt

test-dist: ## The linux/amd64 release archive unpacked alone: --help, every help example that needs no cluster, predict without a kubeconfig; .krew.yaml rendered and checked by krew's validate-krew-manifest
	$(GO) test -tags dist -count=1 -timeout 15m -v ./internal/disttest/

clean: ## Remove build outputs
	rm -rf $(BIN) dist
