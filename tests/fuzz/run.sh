#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Runs one fuzz target for ctest (label fuzz) or by hand (docs/fuzzing.md).
#   run.sh replay TARGET BIN            every input of corpus/TARGET and
#                                       regressions/TARGET once; fails on the
#                                       first crash, leak or broken invariant
#   run.sh fuzz TARGET BIN SECONDS WORK fuzz for SECONDS from those inputs;
#                                       new inputs go to WORK/corpus, a crash
#                                       to WORK/artifacts (never to the tree)
# Extra arguments go to libFuzzer.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mode=$1 target=$2 bin=$3
shift 3
corpus=$here/corpus/$target
regress=$here/regressions/$target
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

case $mode in
replay)
	inputs=()
	for d in "$corpus" "$regress"; do
		[ -d "$d" ] || continue
		while IFS= read -r -d '' f; do inputs+=("$f"); done \
			< <(find "$d" -type f ! -name '*.md' -print0 | sort -z)
	done
	if [ "${#inputs[@]}" -eq 0 ]; then
		echo "fuzz $target: no inputs"
		exit 0
	fi
	echo "fuzz $target: replaying ${#inputs[@]} inputs"
	# one process for all; the last "Running:" line names a failing input
	set +e
	"$bin" -timeout=30 "$@" "${inputs[@]}" 2>&1 | grep -v '^Executed '
	rc=${PIPESTATUS[0]}
	exit "$rc"
	;;
fuzz)
	seconds=$1 work=$2
	shift 2
	mkdir -p "$work/corpus" "$work/artifacts"
	# the dictionary: JSON's tokens plus the target's own (schema_* share one)
	cat "$here/dict/json.dict" > "$work/dict"
	for d in "$here/dict/$target.dict" "$here/dict/${target%%_*}.dict"; do
		if [ -f "$d" ]; then
			cat "$d" >> "$work/dict"
			break
		fi
	done
	seeds=()
	for d in "$corpus" "$regress"; do [ -d "$d" ] && seeds+=("$d"); done
	exec "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -dict="$work/dict" -artifact_prefix="$work/artifacts/" \
		"$@" "$work/corpus" "${seeds[@]}"
	;;
*)
	echo "usage: $0 replay|fuzz TARGET BIN [SECONDS WORKDIR] [libFuzzer args]" >&2
	exit 2
	;;
esac
