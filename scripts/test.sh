#!/bin/bash
# The whole test suite: formatting, a -Werror build, unit tests (also under ASan/UBSan),
# a short fuzz run of every parser, and the integration tests against real peers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

step() { printf '\n== %s\n' "$*"; }

step "format (clang-format --dry-run) and CC_MUST_CHECK on fallible functions"
mapfile -t sources < <(git ls-files '*.c' '*.h' 2>/dev/null || find lib cmd tests -name '*.[ch]')
clang-format --dry-run --Werror "${sources[@]}"
python3 scripts/lint-must-check.py

step "build (-Werror)"
rm -rf build-test
meson setup build-test -Dwerror=true >/dev/null
ninja -C build-test

step "unit tests"
meson test -C build-test --suite unit --print-errorlogs

step "unit tests under ASan/UBSan"
rm -rf build-asan
meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
ninja -C build-asan >/dev/null
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	meson test -C build-asan --suite unit --print-errorlogs

step "fuzz (short runs)"
rm -rf build-fuzz
CC=clang meson setup build-fuzz -Dfuzz=true -Dtests=false -Db_sanitize=address,undefined \
	-Db_lundef=false >/dev/null
ninja -C build-fuzz >/dev/null
for target in build-fuzz/tests/fuzz/fuzz-*; do
	[ -f "$target" ] && [ -x "$target" ] || continue
	name=$(basename "$target")
	corpus="tests/fuzz/corpus/${name#fuzz-}"
	work=$(mktemp -d)
	cp -r "$corpus"/. "$work"/ 2>/dev/null || true
	log=$(mktemp)
	printf '%s: ' "$name"
	if "$target" -max_total_time="${FUZZ_SECONDS:-30}" -rss_limit_mb=2048 \
		-artifact_prefix="$work/" "$work" >"$log" 2>&1; then
		tail -1 "$log"
	else
		# Show what failed and the input, so the run's log alone reproduces it.
		echo "FAILED"
		grep -v '^#[0-9]' "$log" | tail -60
		for crash in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
			[ -f "$crash" ] || continue
			echo "input $(basename "$crash") (base64):"
			base64 -w 0 "$crash"
			echo
		done
		exit 1
	fi
	rm -rf "$work" "$log"
done

step "integration tests"
RUNE_BIN="$PWD/build-test/cmd/rune/rune" /usr/bin/python3 -m pytest -q -rs tests/integration
