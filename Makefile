# Thin wrapper over CMake and the test runners. `make help` lists targets.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
C_SOURCES   = $(shell git ls-files -co --exclude-standard '*.c' '*.h' \
                2>/dev/null || \
                find src tests -name '*.[ch]')

.PHONY: help deps agent-curl build build-asan run test test-unit test-e2e \
        format format-check bench clean install-agent

help:
	@echo "make run     start mcd on var/ (SQLite) with a demo fleet"
	@echo "make test    every test: unit + end to end, plain and ASan/UBSan"
	@echo "make build   build/mcd and the other programs"
	@echo "make bench   the performance figures (docs/performance.md)"
	@echo "make format  clang-format the C sources"
	@echo "make deps    install the Debian and npm packages needed"
	@echo "make install-agent  mc-agent, its systemd unit and config"

deps:
	@scripts/deps.sh

# mc-agent's own static libcurl, in build-deps/ for both builds
# (docs/development.md); does nothing once built.
agent-curl: deps
	@scripts/build-curl.sh

build: deps agent-curl
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-asan: deps agent-curl
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug \
	    -DMC_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

run: build
	@scripts/run.sh $(BUILD)

test: format-check build build-asan
	@scripts/test.sh $(BUILD) $(ASAN_BUILD)

test-unit: build
	@cd $(BUILD) && ctest --output-on-failure

test-e2e: build
	@MC_BUILD_DIR=$(BUILD) node --test --test-concurrency=1 tests/e2e/

format:
	@clang-format -i $(C_SOURCES)

format-check: deps
	@clang-format --dry-run --Werror $(C_SOURCES) || \
	    { echo "format: run 'make format'" >&2; exit 1; }

bench: deps build
	@scripts/bench.sh $(BUILD)

PREFIX ?= /usr/local
install-agent: build
	id -u mc-agent >/dev/null 2>&1 || useradd --system --no-create-home \
	    --shell /usr/sbin/nologin mc-agent
	install -D -m 0755 $(BUILD)/mc-agent $(DESTDIR)$(PREFIX)/bin/mc-agent
	install -D -m 0644 deploy/mc-agent.service \
	    $(DESTDIR)/etc/systemd/system/mc-agent.service
	install -D -m 0644 deploy/agent.conf.example \
	    $(DESTDIR)/etc/mission-control/agent.conf.example
	install -D -m 0644 docs/agent.md \
	    $(DESTDIR)$(PREFIX)/share/doc/mission-control/agent.md

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
