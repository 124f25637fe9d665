# tests/guests/kvm_run.sh — run a KVM test guest under mockxen against a device model.
# Sourced by tests/integration/mockxen_kvm.sh and bench/kvm_pio_rtt.sh, which set:
#   mockxen, xendm, qemu    the programs (the null DM comes with mockxen --null-dm)
#   guests                  the folder of the guest images (build/guests)
#   tmp                     a scratch folder
#   MOCKXEN_SOCKET, XENSTORED_PATH, LD_LIBRARY_PATH (the shims), exported
# and may read mx_pid/dm_pid in their exit traps.
#
# kvm_run NAME IMAGE DM [mockxen options] [-- device model options]: mockxen runs
# $guests/IMAGE.bin with DM (null, xendm or qemu) as its device model and exits when the
# guest writes its exit port. The options after -- go to xendm or QEMU.
# Afterwards $rc is mockxen's exit status (77: KVM unavailable, 99: a sanitizer report),
# $tmp/NAME.out its stdout (benchmark rows), $tmp/NAME.err its stderr (messages and
# counters), $tmp/NAME.dm the guest's UART output (xendm, QEMU) and $tmp/NAME.dmerr the
# device model's messages. Guest RAM: 64 MiB (xendm maps it all), 128 MiB populated
# for QEMU, which expects the toolstack to populate its RAM.
. "$(dirname "${BASH_SOURCE[0]}")/../../tools/mockxen/procs.sh"

kvm_run() {
    local name=$1 image=$2 dm=$3; shift 3
    local mx_args=() dm_args=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do mx_args+=("$1"); shift; done
    [ "${1:-}" = "--" ] && shift
    dm_args=("$@")
    local dm_opts=(--mem-mb 64)
    case $dm in
    null) dm_opts+=(--null-dm) ;;
    qemu) dm_opts=(--mem-mb 128 --populate-mb 128) ;;
    esac
    rm -f "$MOCKXEN_SOCKET" "$XENSTORED_PATH" "$tmp/$name".*
    timeout 120 "$mockxen" --socket "$MOCKXEN_SOCKET" --xenstore "$XENSTORED_PATH" \
        "${dm_opts[@]}" --start-timeout 20000 --kvm-guest "$guests/$image.bin" \
        "${mx_args[@]}" >"$tmp/$name.out" 2>"$tmp/$name.err" &
    mx_pid=$!
    if mx_wait_sockets "$mx_pid"; then
        case $dm in
        xendm)
            XENDM_LOG=warn "$xendm" --domid 1 -m 64 "${dm_args[@]}" </dev/null \
                >"$tmp/$name.dm" 2>"$tmp/$name.dmerr" &
            dm_pid=$! ;;
        qemu)
            "$qemu" -xen-domid 1 -no-shutdown -nodefaults \
                -machine xenfv,max-ram-below-4g=3840M -m 128 -display none \
                -serial "file:$tmp/$name.dm" -monitor none "${dm_args[@]}" \
                >"$tmp/$name.dmerr" 2>&1 &
            dm_pid=$! ;;
        esac
    fi
    wait "$mx_pid"
    rc=$?
    mx_pid=
    kvm_stop_dm
    if grep -qsE 'Sanitizer|runtime error' "$tmp/$name.err" "$tmp/$name.dmerr"; then
        echo "# a sanitizer reported an error in $name"
        rc=99
    fi
}

# kvm_stop_dm: SIGTERM the device model, SIGKILL it if it is still there 10 s later.
kvm_stop_dm() {
    [ -n "$dm_pid" ] || return 0
    mx_stop_patiently "$dm_pid" || echo "# the device model ignored SIGTERM for 10 s: killed"
    dm_pid=
}

# kvm_show NAME: the logs of run NAME that went wrong, as TAP comments (mockxen's
# counters left out).
kvm_show() {
    grep -v ' [0-9]*\( (ENOSYS)\)\?$' "$tmp/$1.err" | sed 's/^/# mockxen: /' | head -20
    [ -f "$tmp/$1.dmerr" ] && sed 's/^/# dm: /' "$tmp/$1.dmerr" | head -20
    return 0
}

# kvm_unavailable NAME: the reason mockxen gave for exit status 77 in run NAME.
kvm_unavailable() {
    grep -m1 -o 'KVM unavailable:.*' "$tmp/$1.err"
}
