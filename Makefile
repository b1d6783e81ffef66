# Thin wrapper over CMake.  `make demo` and `make test` work on a fresh
# Debian 12 machine: they install what is missing and fetch Mbed TLS 3.6.
# MBEDTLS_SOURCE_DIR=DIR|ARCHIVE builds against another tree (3.6.x, 4.0.x
# or 4.1.x), e.g. `make demo MBEDTLS_SOURCE_DIR=../shared/mbedtls-4.0.0.tar.xz`.
# `make test-mbedtls4` runs the whole suite on Mbed TLS 4.x in its own build
# dir (MBEDTLS4_SOURCE_DIR, by default the shared 4.0.0 tarball).
BUILD       ?= build
BUILD_ASAN  ?= build-asan
BUILD_MBEDTLS4 ?= build-mbedtls4
JOBS        ?= $(shell nproc)
CMAKE_FLAGS ?=
ifneq ($(MBEDTLS_SOURCE_DIR),)
CMAKE_FLAGS += -DMBEDTLS_SOURCE_DIR=$(abspath $(MBEDTLS_SOURCE_DIR))
endif
MBEDTLS4_TARBALL ?= ../shared/mbedtls-4.0.0.tar.xz
MBEDTLS4_SOURCE_DIR ?= $(wildcard $(MBEDTLS4_TARBALL))

.PHONY: all deps build demo test test-asan test-mbedtls4 build-mbedtls4 mbedtls4-tree check bench footprint firmware clean test-atecc608-only fuzz fuzz-coverage test-without-backend

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

# A build dir configured for another Mbed TLS source is remade from scratch
# (the two lines' CMake caches do not mix).
build: deps
	@if [ -n "$(MBEDTLS_SOURCE_DIR)" ] && [ -f $(BUILD)/CMakeCache.txt ] && \
	    ! grep -qx 'MBEDTLS_SOURCE_DIR:PATH=$(abspath $(MBEDTLS_SOURCE_DIR))' $(BUILD)/CMakeCache.txt; then \
	    echo "$(BUILD) was configured for another Mbed TLS source: configuring it afresh"; rm -rf $(BUILD); fi
	@$(MAKE) --no-print-directory $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

demo: build
	@scripts/demo.sh $(BUILD)

# All tests (ctest); the summary line is ctest's.
test: build
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS) --timeout 900

# The same suite built with ASan + UBSan.
test-asan: deps
	cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DKEYWARD_SANITIZE=ON $(CMAKE_FLAGS)
	cmake --build $(BUILD_ASAN) -j$(JOBS)
	ctest --test-dir $(BUILD_ASAN) --output-on-failure -j$(JOBS) --timeout 1800 -LE nosan

# The whole suite on Mbed TLS 4.x (TF-PSA-Crypto 1.x), in its own build dir.
mbedtls4-tree:
	$(if $(MBEDTLS4_SOURCE_DIR),,$(error test-mbedtls4: no Mbed TLS 4.x tree: set MBEDTLS4_SOURCE_DIR=DIR|ARCHIVE ($(MBEDTLS4_TARBALL) is absent)))

build-mbedtls4: mbedtls4-tree deps
	cmake -S . -B $(BUILD_MBEDTLS4) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DMBEDTLS_SOURCE_DIR=$(abspath $(MBEDTLS4_SOURCE_DIR)) -DKEYWARD_REQUIRE_MBEDTLS_LINE=4
	cmake --build $(BUILD_MBEDTLS4) -j$(JOBS)

test-mbedtls4: build-mbedtls4
	ctest --test-dir $(BUILD_MBEDTLS4) --output-on-failure -j$(JOBS) --timeout 900 -LE scratch

check: test test-asan test-mbedtls4 test-atecc608-only

# A build with the ATECC608 backend alone: it must link neither p11-kit nor tss2
# (scripts/check-atecc608-only.sh), and its ATECC608 tests pass (atecc608_mixed
# needs SoftHSM2: not here).  It reuses the hooked Mbed TLS copy of $(BUILD)
# (hooking again is a no-op), so nothing is fetched.
BUILD_ATECC608_ONLY ?= build-atecc608-only
test-atecc608-only: build
	cmake -S . -B $(BUILD_ATECC608_ONLY) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKEYWARD_FIRMWARE=OFF \
	    -DKEYWARD_WITH_PKCS11=OFF -DKEYWARD_WITH_TPM2=OFF -DKEYWARD_WITH_ATECC608=ON \
	    -DMBEDTLS_SOURCE_DIR=$(abspath $(BUILD))/mbedtls-src
	cmake --build $(BUILD_ATECC608_ONLY) -j$(JOBS)
	scripts/check-atecc608-only.sh $(BUILD_ATECC608_ONLY)
	ctest --test-dir $(BUILD_ATECC608_ONLY) --output-on-failure -j$(JOBS) --timeout 600 \
	    -R '^atecc608_' -E '^atecc608_mixed$$'

# The backend contract: the tree without src/se/$(BACKEND) (a scratch copy) configures,
# builds and passes its whole ctest suite, and refuses that backend's KEYREFs by scheme.
test-without-backend: build
	$(if $(BACKEND),,$(error test-without-backend: say which, e.g. BACKEND=tpm2))
	scripts/test-without-backend.sh $(BACKEND) $(BUILD) $(JOBS)

# The libFuzzer targets (clang, -DKEYWARD_FUZZ=ON), each run FUZZ_TIME seconds
# from its seeds (scripts/fuzz-run.sh): fails on any crash, leak or timeout
# and leaves no corpus or crash files.  Like test-atecc608-only it reuses the
# hooked Mbed TLS copy of $(BUILD) and builds only what the fuzzers link.
# `make fuzz-coverage` prints each target's line coverage of its parser files.
BUILD_FUZZ ?= build-fuzz
FUZZ_TIME  ?= 60
$(BUILD_FUZZ)/CMakeCache.txt: | build
	CC=clang cmake -S . -B $(BUILD_FUZZ) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKEYWARD_FIRMWARE=OFF \
	    -DKEYWARD_FUZZ=ON -DMBEDTLS_SOURCE_DIR=$(abspath $(BUILD))/mbedtls-src \
	    $(if $(shell command -v ccache),-DCMAKE_C_COMPILER_LAUNCHER=ccache)
fuzz: deps $(BUILD_FUZZ)/CMakeCache.txt
	cmake --build $(BUILD_FUZZ) -j$(JOBS) --target kw_fuzzers
	scripts/fuzz-run.sh $(BUILD_FUZZ) $(FUZZ_TIME)

fuzz-coverage: deps $(BUILD_FUZZ)/CMakeCache.txt
	cmake --build $(BUILD_FUZZ) -j$(JOBS) --target kw_fuzzers
	scripts/fuzz-coverage.sh $(BUILD_FUZZ) $(FUZZ_TIME)

# Both Mbed TLS lines side by side when a 4.x tree is at hand.
bench: build
	@if [ -n "$(MBEDTLS4_SOURCE_DIR)" ]; then $(MAKE) --no-print-directory build-mbedtls4 >/dev/null && \
	    scripts/bench.sh $(BUILD) $(BUILD_MBEDTLS4); else scripts/bench.sh $(BUILD); fi

# The QEMU Cortex-M4 firmware (built by `build` when the toolchain is
# installed): its flash/RAM figures, then its tests (ctest label mcu).
firmware: build
	@cat $(BUILD)/firmware/footprint.txt
	ctest --test-dir $(BUILD) --output-on-failure -L mcu -j$(JOBS) --timeout 300

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_MBEDTLS4) $(BUILD_ATECC608_ONLY) $(BUILD_FUZZ)

# Installs headers, libraries (keyward's and its hooked Mbed TLS's, in keyward's own
# folders), programs, keyward.pc and the CMake package keyward (cmake/keyward-install.cmake).
PREFIX ?= /usr/local
.PHONY: install
install: build
	cmake --install $(BUILD) --prefix $(abspath $(PREFIX))

# Code habits (no build needed for the first two).  `make format` rewrites the
# tracked .c/.h files as .clang-format says; `make check-format` fails naming
# the files that differ; `make analyse` runs the static analyser over
# keyward's own sources with the compile database of $(BUILD)
# (scripts/static-analysis.sh states the checks).
.PHONY: format check-format analyse
format:
	scripts/check-format.sh --fix

check-format:
	scripts/check-format.sh

analyse: build
	scripts/static-analysis.sh $(BUILD)
