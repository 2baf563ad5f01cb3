# tgpulse — build, test, demo, benchmarks. Every target installs what it needs first (idempotent).
#   make          build into build/ (the service: build/tgpulse)
#   make demo     run the service on the built-in simulator and SQLite, with Prometheus, its consoles and
#                 Alertmanager; prints the URLs (Ctrl-C stops everything)
#   make test     every test through CTest (unit + integration); SANITIZE=1 uses an ASan+UBSan build
#   make test-tsan  under ThreadSanitizer (build-tsan/): every unit test (the in-process server, routes,
#                 session manager, engine-on-tdsim and store off-loop tests among them), then the
#                 shutdown-under-load acceptance test against the TSan build of tgpulse and libtdsim.so;
#                 a race fails the run
#   make build-clang  the whole tree (service, tests, benchmarks) with clang-15 and warnings as errors,
#                 in build-clang/
#   make bench    the benchmarks; results in build/bench/
#   make fuzz     the libFuzzer targets (clang-15, build-fuzz/), FUZZ_SECONDS each (default 60);
#                 make fuzz-smoke runs each for FUZZ_SMOKE_SECONDS (10) — see docs/fuzzing.md
#   make rules-mutation  change every number in the Prometheus rules one at a time and fail if the promtool
#                 tests still pass (scripts/rules_mutation.py; also part of make test) — see docs/slo.md
BUILD_TYPE ?= RelWithDebInfo
SANITIZE ?= 0
ifeq ($(SANITIZE),1)
BUILD ?= build-asan
CMAKE_EXTRA += -DTGPULSE_SANITIZE=ON
else
BUILD ?= build
endif
JOBS ?= $(shell nproc)

# Compiler cache (Debian's ccache, installed by deps): the cache lives outside the clone (~/.cache/ccache),
# paths are hashed relative to the clone, so a fresh clone, another build directory or a second checkout
# reuses the objects of the last build instead of compiling cold.
CCACHE := $(shell command -v ccache 2>/dev/null)
ifneq ($(CCACHE),)
CMAKE_EXTRA += -DCMAKE_CXX_COMPILER_LAUNCHER=$(CCACHE) -DCMAKE_C_COMPILER_LAUNCHER=$(CCACHE)
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1
export CCACHE_MAXSIZE ?= 8G
endif
CTEST_JOBS ?= 2

# ThreadSanitizer build: its own directory; every unit-test binary, the service and the simulator (no
# benchmarks, no fuzzers). TSAN_SHUTDOWN_LOOPS: repetitions of the shutdown-under-load test (its full
# load each time); TSAN_SHUTDOWN_SCALE scales that load.
TSAN_BUILD ?= build-tsan
TSAN_TARGETS ?= unit_tests tgpulse tdsim
TSAN_SHUTDOWN_LOOPS ?= 3
TSAN_SHUTDOWN_SCALE ?= 1
# halt_on_error: the first race fails its test (and aborts the service, which the shutdown test reports
# with the race it finds in its stderr).
TSAN_OPTIONS_RUN := halt_on_error=1 second_deadlock_stack=1
TSAN_CMAKE := -DTGPULSE_SANITIZE=thread -DTGPULSE_BUILD_BENCH=OFF
ifneq ($(CCACHE),)
TSAN_CMAKE += -DCMAKE_CXX_COMPILER_LAUNCHER=$(CCACHE) -DCMAKE_C_COMPILER_LAUNCHER=$(CCACHE)
endif

# A second compiler: clang-15 with -Werror over the whole tree, its own directory, the same compiler cache.
CLANG_BUILD ?= build-clang
CLANG_CMAKE := -DCMAKE_C_COMPILER=clang-15 -DCMAKE_CXX_COMPILER=clang++-15 -DTGPULSE_WERROR=ON
ifneq ($(CCACHE),)
CLANG_CMAKE += -DCMAKE_CXX_COMPILER_LAUNCHER=$(CCACHE) -DCMAKE_C_COMPILER_LAUNCHER=$(CCACHE)
endif

# Fuzzing: clang-15 with ASan + UBSan + libFuzzer, its own build directory, the same compiler cache.
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_TARGETS ?= td_codec td_log_line tdsim_profile config_loader session_body http_request webhook_url
FUZZ_CMAKE := -DTGPULSE_FUZZ=ON -DCMAKE_C_COMPILER=clang-15 -DCMAKE_CXX_COMPILER=clang++-15
ifneq ($(CCACHE),)
FUZZ_CMAKE += -DCMAKE_CXX_COMPILER_LAUNCHER=$(CCACHE) -DCMAKE_C_COMPILER_LAUNCHER=$(CCACHE)
endif

.PHONY: all deps configure build build-clang test test-unit test-integration test-tsan demo bench clean fuzz-build fuzz \
	fuzz-smoke rules-mutation

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

# setarch -R (no address randomisation): GCC 12's TSan runtime cannot map its shadow memory on kernels
# set to 32 bits of mmap randomisation (vm.mmap_rnd_bits), as some distributions ship them; with 28 bits
# it runs either way.
# Each unit-test binary is one CTest test in this build (cmake/TgpulseTargets.cmake). The unit tests
# first (-LE no_tsan: those that cannot run under TSan, each with its reason where it is declared), then
# the shutdown test alone: it measures a drain bound and needs both cores.
test-tsan: deps
	@cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(TSAN_CMAKE) >/dev/null
	@cmake --build $(TSAN_BUILD) -j $(JOBS) --target $(TSAN_TARGETS)
	@cd $(TSAN_BUILD) && TSAN_OPTIONS="$(TSAN_OPTIONS_RUN)" \
	    setarch -R ctest --output-on-failure -j $(CTEST_JOBS) -L unit -LE no_tsan
	@cd $(TSAN_BUILD) && TSAN_OPTIONS="$(TSAN_OPTIONS_RUN)" TGPULSE_SHUTDOWN_LOOPS=$(TSAN_SHUTDOWN_LOOPS) \
	    TGPULSE_SHUTDOWN_SCALE=$(TSAN_SHUTDOWN_SCALE) \
	    setarch -R ctest --output-on-failure -R '^integration\.test_shutdown_under_load$$'

# The demo builds quietly (scripts/quietly.sh): build output only when something is rebuilt or on failure.
demo:
	@bash scripts/quietly.sh $(MAKE) --no-print-directory build
	@bash scripts/demo.sh $(BUILD)

bench: build
	@bash bench/run.sh $(BUILD)

# Needs only python3 and promtool (Debian's prometheus package), no build.
rules-mutation: deps
	@python3 scripts/rules_mutation.py --jobs $(JOBS)

fuzz-build: deps
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(FUZZ_CMAKE) >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzzers

# Every target (service, tests, benchmarks) with clang-15 and -Werror: a second compiler's warnings fail
# the build.
build-clang: deps
	@cmake -S . -B $(CLANG_BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CLANG_CMAKE) >/dev/null
	@cmake --build $(CLANG_BUILD) -j $(JOBS)

fuzz: fuzz-build
	@bash fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke: fuzz-build
	@bash fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SMOKE_SECONDS) $(FUZZ_TARGETS)

clean:
	@rm -rf build build-asan build-tsan build-fuzz build-clang
