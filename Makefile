# Thin wrapper over CMake.  `make demo` and `make test` work on a fresh
# Debian 12 machine: they install what is missing and fetch Mbed TLS 3.6.
BUILD       ?= build
BUILD_ASAN  ?= build-asan
JOBS        ?= $(shell nproc)
CMAKE_FLAGS ?=
ifneq ($(MBEDTLS_SOURCE_DIR),)
CMAKE_FLAGS += -DMBEDTLS_SOURCE_DIR=$(MBEDTLS_SOURCE_DIR)
endif

.PHONY: all deps build demo test test-asan check bench footprint firmware clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
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

check: test test-asan

bench: build
	@scripts/bench.sh $(BUILD)

# The QEMU Cortex-M4 firmware (built by `build` when the toolchain is
# installed): its flash/RAM figures, then its tests (ctest label mcu).
firmware: build
	@cat $(BUILD)/firmware/footprint.txt
	ctest --test-dir $(BUILD) --output-on-failure -L mcu -j$(JOBS) --timeout 300

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)
