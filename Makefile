# tgpulse — build, test, demo, benchmarks. Every target installs what it needs first (idempotent).
#   make          build into build/ (the service: build/tgpulse)
#   make demo     run the service on the built-in simulator and SQLite (Ctrl-C stops everything)
#   make test     every test through CTest (unit + integration); SANITIZE=1 uses an ASan+UBSan build
#   make bench    the benchmarks; results in build/bench/
BUILD_TYPE ?= RelWithDebInfo
SANITIZE ?= 0
ifeq ($(SANITIZE),1)
BUILD ?= build-asan
CMAKE_EXTRA += -DTGPULSE_SANITIZE=ON
else
BUILD ?= build
endif
JOBS ?= $(shell nproc)
CTEST_JOBS ?= 2

.PHONY: all deps configure build test test-unit test-integration demo bench clean

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_EXTRA) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(CTEST_JOBS) --timeout 900

test-unit: build
	@cd $(BUILD) && ctest --output-on-failure -j $(CTEST_JOBS) -L unit

test-integration: build
	@cd $(BUILD) && ctest --output-on-failure -j $(CTEST_JOBS) -L integration

demo: build
	@bash scripts/demo.sh $(BUILD)

bench: build
	@bash bench/run.sh $(BUILD)

clean:
	@rm -rf build build-asan
