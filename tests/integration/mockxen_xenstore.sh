#!/bin/bash
# mockxen's xenstore against Debian's xenstore-utils (the real libxenstore, reaching the
# server through XENSTORED_PATH). The server runs alone as build/<asan>/tests/xs-server/
# xs-serve (tests/xs-server/xs-server.mk), so this test does not need the daemon.
top=${XENDM_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/integration/lib.sh"
build=${XENDM_BUILD:-$top/build/asan}
serve=$build/tests/xs-server/xs-serve

for tool in xenstore-read xenstore-write xenstore-ls xenstore-list xenstore-rm \
            xenstore-exists xenstore-chmod xenstore-watch; do
    command -v "$tool" >/dev/null || { skip_test "$tool not installed (xenstore-utils)"; done_testing; }
done
if [ ! -x "$serve" ]; then
    not_ok "xs-serve is built ($serve; make build/asan/tests/xs-server/xs-serve)"
    done_testing
fi

tmp=$(mktemp -d /tmp/xs-integ-XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$tmp"
}
at_exit cleanup
export XENSTORED_PATH=$tmp/xenstored.sock

# start_server OUTFILE ARGS...: start xs-serve in the background, wait for "ready".
start_server() {
    local out=$1; shift
    "$serve" "$@" >"$out" 2>"$out.err" &
    server_pid=$!
    pids+=("$server_pid")
    for _ in $(seq 100); do
        grep -q '^ready$' "$out" 2>/dev/null && return 0
        kill -0 "$server_pid" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# wait_lines FILE N: wait (up to 5 s) until FILE has at least N lines.
wait_lines() {
    for _ in $(seq 100); do
        [ "$(wc -l <"$1" 2>/dev/null || echo 0)" -ge "$2" ] && return 0
        sleep 0.05
    done
    return 1
}

check "server starts with domain 5" start_server "$tmp/main.out" -d 5:guest5 "$XENSTORED_PATH"
main_pid=$server_pid

# ---- nodes --------------------------------------------------------------------------
check "xenstore-write two nodes" xenstore-write /vm/a hello /vm/b "two words"
check "xenstore-read returns the value" test "$(xenstore-read /vm/a)" = hello
check "xenstore-read of a missing node fails" bash -c '! xenstore-read /vm/none 2>/dev/null'
check "xenstore-list lists children in order" test "$(xenstore-list /vm | tr '\n' ,)" = "a,b,"
check "xenstore-ls shows values" bash -c 'xenstore-ls /vm | grep -qx "b = \"two words\""'
check "xenstore-exists finds a node" xenstore-exists /vm/b
check "xenstore-rm removes it" xenstore-rm /vm/b
check "xenstore-exists no longer finds it" bash -c '! xenstore-exists /vm/b 2>/dev/null'
check "relative paths resolve to /local/domain/0" test "$(xenstore-read domid)" = 0
check "xenstore-rm -t tidies empty parents" bash -c \
    'xenstore-write /tidy/x/y 1 && xenstore-rm -t /tidy/x/y && ! xenstore-exists /tidy 2>/dev/null'

# ---- permissions --------------------------------------------------------------------
check "xenstore-chmod sets permissions" xenstore-chmod /vm/a r5 w6
check "xenstore-ls -p shows them" bash -c 'xenstore-ls -p /vm | grep -q "(r5,w6)"'
check "invalid permission strings are refused" bash -c '! xenstore-chmod /vm/a q5 2>/dev/null'

# ---- domain nodes -------------------------------------------------------------------
check "domain 5 has its name" test "$(xenstore-read /local/domain/5/name)" = guest5
check "domain 5 has its domid" test "$(xenstore-read /local/domain/5/domid)" = 5
check "device-model/5 is owned by dom0 and readable by domain 5" bash -c \
    'xenstore-ls -p /local/domain/0/device-model | grep -q "^5 = \"\".*(n0,r5)"'

# ---- watches ------------------------------------------------------------------------
timeout 10 xenstore-watch -n 3 /w/sub >"$tmp/watch1" 2>&1 &
pids+=($!)
check "watch fires once on registration" wait_lines "$tmp/watch1" 1
xenstore-write /w/sub/child 1 /w/other 2
check "watch fires for a child change" wait_lines "$tmp/watch1" 2
xenstore-rm /w
check "watch fires when an ancestor is removed" wait_lines "$tmp/watch1" 3
check "watch events name the right paths" \
    test "$(tr '\n' ' ' <"$tmp/watch1")" = "/w/sub /w/sub/child /w/sub "

# ---- the daemon's wait: the device model announces it is running ---------------------
wait_sock=$tmp/wait.sock
check "a waiting server starts" start_server "$tmp/wait.out" \
    -w /local/domain/0/device-model/7/state=running:10000 "$wait_sock"
wait_pid=$server_pid
XENSTORED_PATH=$wait_sock xenstore-write /local/domain/0/device-model/7/state starting
XENSTORED_PATH=$wait_sock xenstore-write /local/domain/0/device-model/7/state running
wait "$wait_pid"
check "it returns once state = running" test $? -eq 0
check "a wait that times out fails" bash -c \
    "'$serve' -w /never=set:100 '$tmp/timeout.sock' >/dev/null 2>&1; test \$? -eq 3"

# ---- the end ------------------------------------------------------------------------
check "the server survived everything" kill -0 "$main_pid"
kill -TERM "$main_pid"
wait "$main_pid"
check "it stops cleanly on SIGTERM" test $? -eq 0
check "the socket is removed" test ! -e "$XENSTORED_PATH"
if grep -q 'Sanitizer\|runtime error' "$tmp"/*.err 2>/dev/null; then
    not_ok "no sanitizer reports"; sed 's/^/# /' "$tmp"/*.err
else
    ok "no sanitizer reports"
fi
done_testing
