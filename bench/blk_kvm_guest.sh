# bench/blk_kvm_guest.sh — the KVM guest of bench/blk.sh: build/guests/blk_bench.bin
# (tests/guests/blk_bench.c), a polling virtio-blk-pci driver run by mockxen
# --kvm-guest, whose workloads are mockxen --param entries. This file turns the
# benchmark's workloads into those parameters and says whether KVM works here.
#
# Source it; it defines:
#   blk_kvm_usable MOCKXEN IMAGE    0 if mockxen can run the KVM guest IMAGE here; else 1
#                                   with the reason in $blk_kvm_why
#   blk_kvm_workload NAME RW BS QD PATTERN N
#                                   the parameter of one workload (RW: read or write;
#                                   PATTERN: rand or seq): QD requests of BS bytes kept
#                                   outstanding until N have completed
#   blk_kvm_flush NAME N            N random 4 KiB writes at QD 1 (NAME_write), then N
#                                   pairs of such a write and a FLUSH (NAME)
#   blk_kvm_idle US                 the guest idles US microseconds after each line it
#                                   prints (so that the shell can sample CPU times)
# Each prints mockxen options (--param NAME=KIND,BYTES,DEPTH,PATTERN,COUNT), one per line.
#
# The guest prints "vcpu0: ready SLOT QUEUE_SIZE SECTORS", then for each workload
# "vcpu0: begin NAME" and "vcpu0: result NAME REQUESTS WALL_NS OWN_NS NOTIFY_NS NOTIFIES"
# (blk_bench.c says what each is), and exits 0 if every request completed with status OK.
[ "${BASH_SOURCE[0]}" != "$0" ] || exit 0      # a library: nothing to run on its own

blk_kvm_usable() {
    local mockxen=$1 image=$2 dir rc=0
    blk_kvm_why=
    if [ ! -f "$image" ]; then blk_kvm_why="$image is not built (make guests)"; return 1; fi
    dir=$(mktemp -d "${TMPDIR:-/tmp}/blk-kvm-XXXXXX")
    # with KVM, mockxen gets as far as waiting for a device model, and gives up at once
    "$mockxen" --socket "$dir/mx.sock" --xenstore "$dir/xs.sock" --start-timeout 1 \
        --kvm-guest "$image" >/dev/null 2>"$dir/err" || rc=$?
    if [ "$rc" = 77 ]; then
        blk_kvm_why=$(grep -m1 -o 'KVM unavailable:.*' "$dir/err")
        blk_kvm_why=${blk_kvm_why:-KVM unavailable}
    fi
    rm -rf "$dir"
    [ -z "$blk_kvm_why" ]
}

blk_kvm_workload() {
    local kind=0 random=0
    [ "$2" = write ] && kind=1
    [ "$5" = rand ] && random=1
    echo "--param"
    echo "$1=$kind,$3,$4,$random,$6"
}

blk_kvm_flush() {
    blk_kvm_workload "$1_write" write 4096 1 rand "$2"
    echo "--param"
    echo "$1=4,4096,1,1,$2"
}

blk_kvm_idle() {
    echo "--param"
    echo "idle_us=$1"
}
