# Entry points for people and CI. `make demo` and `make test` work on a fresh Debian machine.
SHELL := /bin/bash
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
NODE_TSX := node --import tsx
# Native addons (fuse-native, zstd-napi, better-sqlite3) build against the running Node's own headers: nothing is downloaded.
NODE_PREFIX := $(shell node -p "require('path').resolve(process.execPath, '../..')" 2>/dev/null)
# The SDK's notice about future versions needing Node 22 (ours is pinned) only adds noise.
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED := true

.PHONY: setup system-deps deps native build demo demo-ci demo-cluster demo-cluster-ci test test-deps typecheck lint format bench bench-deps clean

setup: system-deps deps native build

# fuse-native loads libfuse.so.2 (Debian 12's libfuse2; libfuse2t64 on Debian 13 and Ubuntu 24.04)
# and needs fusermount (from fuse3) to mount and unmount; scripts/build-native.sh compiles it
# with g++, make and python3. Tests and demos of --shared-cache start their own redis-server
# on a loopback port (the package may also start a system service on 6379: not used).
system-deps:
	@missing=""; \
	ldconfig -p | grep -q 'libfuse.so.2 ' || missing="$$missing libfuse2"; \
	command -v fusermount >/dev/null || missing="$$missing fuse3"; \
	for tool in g++ make python3; do command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	if [ -n "$$missing" ]; then \
	  $(SUDO) apt-get update -qq; \
	  if apt-cache policy libfuse2t64 2>/dev/null | grep -q 'Candidate: [^(]'; then missing=$${missing/libfuse2/libfuse2t64}; fi; \
	  echo "installing$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# Reinstall only when the lock file changed since the last install.
deps: node_modules/.package-lock.json
node_modules/.package-lock.json: package-lock.json
	npm_config_nodedir="$(NODE_PREFIX)" npm ci --no-audit --no-fund
	@touch $@

# fuse-native rebuilt with its utimens fix (see scripts/build-native.sh).
native: deps
	@bash scripts/build-native.sh

build: deps
	npm run build --silent

typecheck: deps
	npx tsc -p tsconfig.check.json

# Biome: format and lint rules (biome.json), import cycles included; `make format` rewrites.
lint: deps
	npx biome ci --colors=off .

format: deps
	npx biome check --write .

# Starts a local S3 emulator with a sample bucket, mounts it, shows it, serves until Ctrl-C.
demo: setup
	$(NODE_TSX) scripts/demo.ts

# The same, exiting after showing (for CI and scripts).
demo-ci: setup
	$(NODE_TSX) scripts/demo.ts --exit

# Two mounts of one bucket with a shared cache on Redis: a write on one shows on the other at
# once; bus and tier statistics. Serves until Ctrl-C; demo-cluster-ci exits after showing.
demo-cluster: setup
	$(NODE_TSX) scripts/demo-cluster.ts

demo-cluster-ci: setup
	$(NODE_TSX) scripts/demo-cluster.ts --exit

# Unit, core, contract and integration tests (integration mounts for real, needs /dev/fuse).
# Tools the integration tests drive besides coreutils.
test-deps:
	@if ! command -v rsync >/dev/null; then \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rsync; \
	fi

test: setup test-deps typecheck
	set -o pipefail; npx ava --tap | node scripts/tap-summary.mjs

# Peers for the benchmark only, never dependencies of s3mount.
bench-deps:
	@if ! command -v s3fs >/dev/null || ! command -v rclone >/dev/null || ! command -v fio >/dev/null; then \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq s3fs rclone fio; \
	fi

# s3mount against s3fs, rclone mount, the fuse-native floor and the raw SDK (minutes; not part of test).
bench: setup bench-deps
	$(NODE_TSX) scripts/benchmark/run.ts
	$(NODE_TSX) scripts/benchmark/big-writes.ts

clean:
	rm -rf dist
