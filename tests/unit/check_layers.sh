#!/bin/sh
# SPDX-License-Identifier: MIT
#
# check_layers.sh BRIDGE_DIR - the layering rule of docs/architecture.md that
# the include directories alone cannot enforce: libwebsockets, Paho and
# pthread headers belong to adapters/ (and engine/inbox.c, the one thread
# boundary, which needs a mutex).  Exits 1 naming every offending line.
set -u
dir=${1:?usage: check_layers.sh BRIDGE_DIR}
[ -d "$dir/adapters" ] || { echo "check_layers: $dir/adapters not found" >&2; exit 2; }
bad=$(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](libwebsockets\.h|MQTTAsync\.h|MQTTClient\.h|pthread\.h)[>"]' \
	-r "$dir" --include='*.c' --include='*.h' |
	grep -v "^$dir/adapters/" | grep -v "^$dir/engine/inbox\.c:")
n=$(find "$dir/util" "$dir/domain" "$dir/engine" "$dir/adapters" -name '*.[ch]' | wc -l)
if [ -n "$bad" ]; then
	echo "check_layers: only adapters/ may include libwebsockets, Paho or pthread:" >&2
	echo "$bad" >&2
	echo "0 passed, 1 failed"
	exit 1
fi
# a module's own header lives in its own layer: nothing includes up
for layer in util domain engine; do
	case $layer in
	util) above="domain engine adapters" ;;
	domain) above="engine adapters" ;;
	engine) above="adapters" ;;
	esac
	for a in $above; do
		for h in "$dir/$a"/*.h; do
			[ -e "$h" ] || continue
			b=$(basename "$h")
			hit=$(grep -lE "#[[:space:]]*include[[:space:]]*\"$b\"" "$dir/$layer"/*.[ch] 2>/dev/null)
			if [ -n "$hit" ]; then
				echo "check_layers: $hit includes $a/$b (a layer above)" >&2
				echo "0 passed, 1 failed"
				exit 1
			fi
		done
	done
done
echo "check_layers: $n files, no include points up or out of its layer"
echo "1 passed, 0 failed"
