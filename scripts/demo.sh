#!/bin/bash
# make demo: start mockxen with a domain, start xendm against it, run a guest script,
# show what happened. Grows as the pieces land.
set -u
rel=${1:?rel build dir}
top=$(cd "$(dirname "$0")/.." && pwd)
if [ -x "$top/tests/demo/run-demo.sh" ]; then
    exec "$top/tests/demo/run-demo.sh" "$top/$rel"
fi
echo "xendm demo: the end-to-end demo (xendm + mockxen) is not built yet." >&2
exit 1
