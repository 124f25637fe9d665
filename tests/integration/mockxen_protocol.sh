#!/bin/bash
# mockxen checks the ioreq state machine as Xen does: a device model that writes a bad
# state, answers the wrong slot or moves the state backwards crashes the domain; one
# that resets the slot to NONE (dying) gets all ones; one that never answers times out.
top=${XENDM_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/integration/lib.sh"
. "$top/tests/mockxen-client/harness.sh"

echo 'in 0x100, 4' >"$tmp/one.gs"
crashed() { [ "$mx_status" -eq 1 ] && grep -q "crashed: $1" "$tmp/mx.err" &&
            grep -qx 'domain_crash 1' "$tmp/mx.err"; }

mx_guest "$tmp/one.gs" bad-state
check "bad state from the DM crashes the domain" crashed "vcpu 0: ioreq state 7"
mx_guest "$tmp/one.gs" wrong-slot --vcpus 2
check "an answer in the wrong slot crashes the domain" crashed "ioreq server .* idle vcpu 1"
mx_guest "$tmp/one.gs" backwards
check "a backwards state transition crashes the domain" crashed "vcpu 0: ioreq state 1 after 2"

echo 'in 0x100, 4 == 0xffffffff' >"$tmp/none.gs"
mx_guest "$tmp/none.gs" none
check "a slot reset to NONE is answered with all ones" test "$mx_status" -eq 0

mx_guest "$tmp/one.gs" silent --ioreq-timeout 300
check "a DM that never answers times out" \
    bash -c "[ $mx_status -eq 1 ] && grep -q 'did not answer within 300 ms' '$tmp/mx.err'"
done_testing
