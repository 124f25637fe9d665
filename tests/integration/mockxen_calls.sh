#!/bin/bash
# mockxen: every group of modelled Xen library calls, made by a client built against
# Debian's real libraries and run on mockxen's shims; counters while running and on
# exit; xenstore through the daemon with Debian's xenstore-utils.
top=${XENDM_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/integration/lib.sh"
. "$top/tests/mockxen-client/harness.sh"

check "daemon starts (2 vcpus, 256 MiB)" mx_start --vcpus 2 --mem-mb 256
# Debian's xenstore-watch on @releaseDomain: the initial event, then the one xenstored
# fires when the domain shuts down (the irq group ends with xendevicemodel_shutdown).
watch_pid=
if command -v xenstore-watch >/dev/null; then
    timeout 30 xenstore-watch -n 2 @releaseDomain >"$tmp/release" 2>&1 &
    watch_pid=$!
    for _ in $(seq 200); do [ -s "$tmp/release" ] && break; sleep 0.05; done
fi
for group in info populate params fmem servers ranges resource dirty irq evtchn enosys restrict; do
    check "calls: $group" "$mxclient" check "$group" 1
done

counters=$("$mockxen" --query "$MOCKXEN_SOCKET" counters)
check "query: counters while running" grep -qx 'xendevicemodel_create_ioreq_server [0-9]*' <<<"$counters"
check "query: unmodelled calls are counted as ENOSYS" \
    grep -qx 'xengnttab_grant_copy 1 (ENOSYS)' <<<"$counters"
check "query: status names the domain" \
    bash -c "'$mockxen' --query '$MOCKXEN_SOCKET' status | grep -qx 'domid 1'"
check "query: irqs shows the lines the irq group raised" \
    bash -c "'$mockxen' --query '$MOCKXEN_SOCKET' irqs | grep -qx 'isa 4 high' &&
             '$mockxen' --query '$MOCKXEN_SOCKET' irqs | grep -qx 'intx 0000:00:03 pin 0 high'"
check "query: log-dirty on, then status says so" \
    bash -c "'$mockxen' --query '$MOCKXEN_SOCKET' log-dirty on &&
             '$mockxen' --query '$MOCKXEN_SOCKET' status | grep -qx 'log-dirty on'"
check "query: dirty lists nothing yet" \
    test -z "$("$mockxen" --query "$MOCKXEN_SOCKET" dirty 0 64)"
check "query: unknown command fails" \
    bash -c "! '$mockxen' --query '$MOCKXEN_SOCKET' nonsense 2>/dev/null"

if [ -n "$watch_pid" ]; then
    wait "$watch_pid"
    check "xenstore-watch saw @releaseDomain fire when the domain shut down" \
        test "$(grep -c '^@releaseDomain' "$tmp/release")" = 2
fi
if command -v xenstore-read >/dev/null; then
    check "xenstore-read of the domain's domid node" test "$(xenstore-read /local/domain/1/domid)" = 1
    check "xenstore-write then xenstore-ls" \
        bash -c 'xenstore-write /test/node value && xenstore-ls /test | grep -qx "node = \"value\""'
else
    skip_test "xenstore-utils not installed"
fi

mx_stop
check "daemon exits 0 on SIGTERM" test "$mx_status" -eq 0
check "counters printed on exit" grep -qx 'xc_domain_populate_physmap_exact [0-9]*' "$tmp/mx.err"
check "bad option is a usage error" \
    bash -c "'$mockxen' --socket x --xenstore y --fail nosuchcall:1:EIO 2>/dev/null; test \$? -eq 2"
check "a negative number is a usage error, not a huge one" \
    bash -c "'$mockxen' --socket x --xenstore y --populate-mb -1 2>/dev/null; test \$? -eq 2"
done_testing
