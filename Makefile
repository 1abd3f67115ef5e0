# mpwire — every entry point a fresh clone needs. `make test` and `make demo` install and build on their own.
NPM ?= npm
NODE ?= node

.PHONY: all install build lint typecheck test test-unit test-interop test-large demo bench clean

all: build

# Reinstall only when the lock file changes; the stamp lives inside node_modules so a clean clone always installs.
# `npm install` (which follows the lock file) rather than `npm ci`: `npm ci` insists on every platform's optional
# Biome binary being resolvable, and registry mirrors that carry only some platforms make it fail.
node_modules/.install-stamp: package.json package-lock.json
	$(NPM) install --no-audit --no-fund
	@touch $@

install: node_modules/.install-stamp

build: install
	$(NPM) run build --silent

typecheck: install
	npx tsc -p tsconfig.json --noEmit
	npx tsc -p src/codec/tsconfig.json --noEmit

lint: install typecheck
	npx biome check .

# Unit tests, interop tests against every CPython found (MPWIRE_PYTHONS overrides discovery), and the lint.
test: build lint
	npx vitest run

test-unit: build
	npx vitest run test

test-interop: build
	npx vitest run interop-tests

# Multi-gigabyte messages and long soak runs; not part of `make test`.
test-large: build
	MPWIRE_LARGE=1 npx vitest run --config vitest.large.config.ts

demo: build
	$(NODE) examples/demo.mjs

bench: build
	$(NODE) bench/run.mjs

clean:
	rm -rf dist node_modules
