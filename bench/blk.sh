#!/bin/bash
# bench/blk.sh — the virtio block device side by side, on one mockxen, one 1 GiB raw
# image and one guest (issue: block benchmark). Columns:
#   host     Debian's fio straight on the image file (io_uring; O_DIRECT for the
#            O_DIRECT rows): what the host itself does with the same pattern
#   uring    xendm --device virtio-blk-pci,...,aio=io_uring
#   threads  xendm --device virtio-blk-pci,...,aio=threads
#   qemu     Debian's QEMU-xen with -device virtio-blk-pci,drive=d0,addr=SLOT over
#            -drive if=none,id=d0,format=raw,cache=...,aio=... (the best engine this
#            build accepts: io_uring, then native for O_DIRECT, then threads)
# Rows: the workloads in $workloads below (IOPS or MiB/s), the latency of a flush after
# a 4 KiB write, the device model's and the guest's CPU time per request, and the
# guest's own per-request cost. Each cell is the median of ROUNDS runs (min-max).
#
# The guest, where KVM works here, is tests/guests/blk_bench.c (build/guests/blk_bench.bin,
# run by mockxen --kvm-guest with its workloads as parameters, see blk_kvm_guest.sh): a
# polling virtio-blk-pci driver whose loop runs natively in 64-bit ring 3 and times its
# own code, so the table shows that the guest is not the bottleneck. Elsewhere (or with
# BLK_GUEST=script) it is a mockxen guest script generated for each session by
# blk_guest.sh, interrupt-driven, and the notes say why. Both find and drive the device
# the same way from config space alone. Random 4 KiB rows run over the
# page cache (cache=writeback everywhere; the image is read once before, so reads hit
# cached, allocated blocks): they measure what the device model and transport cost per
# request. The 1 MiB sequential rows use O_DIRECT (cache=none; fio --direct=1): they
# measure whether the device model keeps the disk itself busy.
#
# A round runs, for every column in an order that rotates between rounds: the cached
# session (flush, random reads and writes, the guest loop) with the page cache warm,
# then, for every column again, the O_DIRECT session; the image is fsynced before each
# session so that one column's dirty pages are not the next one's writeback. Device
# model CPU time is summed over /proc/PID/task/*/schedstat (as compare.sh does) between
# two guest markers around the QD 32 workloads; for the script guest mockxen's CPU
# (all threads: the script's vCPU, its ioreq and interrupt handling) likewise; the KVM
# guest spins on a whole core while it polls, so instead it reports the time of its own
# code and of its notifies per request.
#
# The table is printed on stdout, written to its section of bench/results.md and,
# under scripts/run-bench.sh, to $XENDM_BENCH_SECTIONS. A column that cannot run gets
# "n/a" with the reason under the table; a failed session also makes the exit status 1.
#
# Environment: BLK_ROUNDS (default 5), BLK_SCALE (fraction of the requests per
# workload, default 1; 0.05 is a smoke run), BLK_RESULTS (where to write results.md;
# empty: nowhere), XENDM_QEMU (default /usr/libexec/xen-qemu-system-i386), BLK_GUEST
# (kvm, script, or auto: the KVM guest where KVM works; the default).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/blk_guest.sh"
. "$(dirname "$0")/blk_kvm_guest.sh"
rounds=${BLK_ROUNDS:-5}
scale=${BLK_SCALE:-1}
results=${BLK_RESULTS-$top/bench/results.md}
slot=5
blk_image_bytes=$((1 << 30))
img=$tmp/disk.img
status=0

# metric                      cache  rw    bytes    QD pattern requests
workloads="\
blk_randread_4k_iops_qd1      cached read  4096     1  rand    6000
blk_randread_4k_iops_qd32     cached read  4096     32 rand    30000
blk_randwrite_4k_iops_qd32    cached write 4096     32 rand    30000
blk_seqread_1m_mibps          direct read  1048576  32 seq     1024
blk_seqwrite_1m_mibps         direct write 1048576  32 seq     1024"
flush_n=300                     # write + flush pairs (and as many plain writes)
loop_n=20000                    # iterations of the guest's loop without a device
scaled() { awk -v n="$1" -v s="$scale" 'BEGIN { n = int(n * s); print n < 64 ? 64 : n }'; }
fio_ms=$(awk -v s="$scale" 'BEGIN { ms = int(1000 * s); print ms < 200 ? 200 : ms }')

workload_notes="\
- blk_randread_4k_iops_qd1/_qd32, blk_randwrite_4k_iops_qd32: random 4 KiB requests
  anywhere in the image (a 64-bit LCG in the guest, fio --norandommap), QD 1 or 32, over
  the page cache; IOPS = 1 / the guest's mean time per request (the script: a \`time\`
  block over all of them; the KVM guest: mockxen's clock read before and after them;
  fio: its own IOPS).
- blk_seqread_1m_mibps, blk_seqwrite_1m_mibps: 1 MiB requests in order through the
  image, QD 32, O_DIRECT (cache=none; fio --direct=1).
- blk_flush_us: at QD 1, the mean time of a 4 KiB random write followed by a FLUSH minus
  that of the write alone (fio: the mean fdatasync latency of --fdatasync=1 after each
  4 KiB write), page cache: the flush writes back the page and flushes the disk.
- blk_dm_cpu_us_per_req: the device model's CPU time (user + system, all threads, from
  /proc/PID/task/*/schedstat) over the two QD 32 random workloads, per request (fio:
  its whole CPU time, io_uring's kernel workers included, from the shell's \`times\`,
  minus that of the same job for one request, over the same two workloads)."
script_workload_notes="\
- blk_guest_cpu_us_per_req: the same for mockxen: the guest script's vCPU thread plus
  mockxen's handling of its ioreqs and of the device model's interrupts.
- blk_guest_loop_us_per_req: the guest script's own statements per request (take a
  completion, check its status, draw a sector, refill the ring) timed with no device:
  the guest itself writes each used-ring entry and status byte (two extra pokes), so
  this slightly overstates the guest's part."

kvm_workload_notes="\
- blk_guest_own_us_per_req: the KVM guest's own code per request over the two QD 32
  random workloads: taking completions, checking their status, drawing sectors,
  refilling and publishing the ring (TSC, scaled by mockxen's clock); the rest of its
  time it polls the used ring or waits in a notify.
- blk_guest_notify_us_per_req: the time the KVM guest spends in its notify writes per
  request over the same workloads: an MMIO exit through mockxen's transport to the
  device model and back, the device model's handling of the notify included."

# The guest: the KVM one where KVM works (or BLK_GUEST says), else the script.
guest_image=$top/build/guests/blk_bench.bin
guest_kind=script guest_why="BLK_GUEST=script"
if [ "${BLK_GUEST:-auto}" != script ]; then
    if blk_kvm_usable "$mockxen" "$guest_image"; then guest_kind=kvm guest_why=
    else guest_why=$blk_kvm_why; fi
    if [ "$guest_kind" != kvm ] && [ "${BLK_GUEST:-auto}" = kvm ]; then
        echo "blk: BLK_GUEST=kvm, but $guest_why" >&2; exit 1
    fi
fi
guest_metrics="blk_guest_cpu_us_per_req blk_guest_loop_us_per_req"
[ "$guest_kind" = kvm ] && guest_metrics="blk_guest_own_us_per_req blk_guest_notify_us_per_req"

columns="host uring threads qemu"
cached_metrics="$(awk '$2 == "cached" { print $1 }' <<<"$workloads") blk_flush_us blk_dm_cpu_us_per_req $guest_metrics"
direct_metrics=$(awk '$2 == "direct" { print $1 }' <<<"$workloads")
all_metrics="$(awk '{ print $1 }' <<<"$workloads") blk_flush_us blk_dm_cpu_us_per_req $guest_metrics"

# ---- guest scripts ----------------------------------------------------------------------
# cached: the flush pairs first (nothing else dirty yet, so a flush writes one page),
# random reads at QD 1, the QD 32 reads and writes each followed by a marker (the CPU
# windows run from the one before: the QD 1 reads end with "before"), the guest loop.
write_scripts() {
    local m cache rw bs qd pattern n
    { blk_gs_setup "$slot"; blk_gs_marker start; blk_gs_flush blk_flush "$(scaled $flush_n)"
      while read -r m cache rw bs qd pattern n; do
          [ "$cache" = cached ] || continue
          blk_gs_workload "$m" "$rw" "$bs" "$qd" "$pattern" "$(scaled "$n")"
          [ "$qd" = 1 ] && blk_gs_marker before
          [ "$qd" = 32 ] && blk_gs_marker "after-$rw"
      done <<<"$workloads"
      blk_gs_guest_loop blk_guest_loop "$(scaled $loop_n)"
      echo "sleep 1s                # mockxen (sampled at the last marker) stays a while"
    } >"$tmp/cached.gs"
    { blk_gs_setup "$slot"; blk_gs_marker start
      while read -r m cache rw bs qd pattern n; do
          [ "$cache" = direct ] && blk_gs_workload "$m" "$rw" "$bs" "$qd" "$pattern" "$(scaled "$n")"
      done <<<"$workloads"
    } >"$tmp/direct.gs"
}

# write_kvm_params: the KVM guest's parameters for each group, one mockxen option a line,
# in the order of the scripts: 100 ms idle after each line the guest prints (for the CPU
# samples), the flush pairs first, then the workloads.
write_kvm_params() {
    local m cache rw bs qd pattern n group
    for group in cached direct; do
        { blk_kvm_idle 100000
          [ "$group" = cached ] && blk_kvm_flush blk_flush "$(scaled $flush_n)"
          while read -r m cache rw bs qd pattern n; do
              [ "$cache" = "$group" ] && blk_kvm_workload "$m" "$rw" "$bs" "$qd" "$pattern" "$(scaled "$n")"
          done <<<"$workloads"
        } >"$tmp/$group.params"
    done
}

# ---- the guest's output -----------------------------------------------------------------
# on_line LINE: act on one line of the session's guest ($session_col): samples at the
# markers and the benchmark rows (ns per request, or per write + flush pair). If the
# io_uring column's xendm has no io_uring (it fell back to its threads), the session's
# figures are not io_uring's: they are dropped.
on_line() {
    local col=$session_col line=$1 f ns bs
    [ -z "$session_discard" ] || return 0
    case $line in
    "vcpu0: start "*|"vcpu0: ready "*)
        if [ "$col" = uring ] && ! has_io_uring "$dm_pid"; then
            session_discard=1
            for f in $cached_metrics $direct_metrics; do
                bench_unavailable "$f" uring "xendm did not set up io_uring (it fell back to threads)"
            done
        fi ;;
    "vcpu0: before "*|"vcpu0: after-"*)
        f=${line#vcpu0: }
        sample "${f%% *}" ${f#* }
        case ${f%% *} in
        after-read)  window read before after-read ;;
        after-write) window write after-read after-write
                     window all before after-write ;;
        esac ;;
    "vcpu0: begin blk_randread_4k_iops_qd32")
        sample before "$kvm_done" 0 "$kvm_notifies" ;;
    "vcpu0: result "*)
        kvm_result ${line#vcpu0: result } ;;
    row*)
        IFS=$'\t' read -r _ f ns _ <<<"$line"
        case $f in
        blk_flush_write) flush_write_ns=$ns ;;
        blk_flush) bench_record blk_flush_us "$col" "$(bench_calc "($ns - $flush_write_ns) / 1000")" ;;
        blk_guest_loop) bench_record blk_guest_loop_us_per_req "$col" "$(bench_calc "$ns / 1000")" ;;
        *_iops_*) bench_record "$f" "$col" "$(bench_calc "1e9 / $ns")" ;;
        *_mibps) bs=$(awk -v m="$f" '$1 == m { print $4 }' <<<"$workloads")
                 bench_record "$f" "$col" "$(bench_calc "1e9 / $ns * $bs / 2^20")" ;;
        esac ;;
    esac
}

# kvm_result NAME REQUESTS WALL_NS OWN_NS NOTIFY_NS NOTIFIES: the KVM guest's result for
# the workload NAME (blk_bench.c): its figure, and for the QD 32 random ones the CPU
# samples and windows (as the script's markers) and the guest's own and notify time.
kvm_result() {
    local m=$1 n=$2 wall=$3 own=$4 notify=$5 notifies=$6 col=$session_col bs rw
    kvm_done=$((kvm_done + n)) kvm_notifies=$((kvm_notifies + notifies))
    case $m in
    blk_flush_write) flush_write_ns=$(bench_calc "$wall / $n") ;;
    blk_flush) bench_record blk_flush_us "$col" "$(bench_calc "($wall / $n - $flush_write_ns) / 1000")" ;;
    *_iops_*) bench_record "$m" "$col" "$(bench_calc "$n * 1e9 / $wall")" ;;
    *_mibps) bs=$(awk -v m="$m" '$1 == m { print $4 }' <<<"$workloads")
             bench_record "$m" "$col" "$(bench_calc "$n * $bs / 2^20 / ($wall / 1e9)")" ;;
    esac
    case $m in
    blk_randread_4k_iops_qd32) rw=read ;;
    blk_randwrite_4k_iops_qd32) rw=write ;;
    *) return 0 ;;
    esac
    bench_record "x_guest_own_$rw" "$col" "$(bench_calc "$own / 1000 / $n")"
    bench_record "x_guest_notify_$rw" "$col" "$(bench_calc "$notify / 1000 / $n")"
    kvm_qd32=($((kvm_qd32[0] + n)) $((kvm_qd32[1] + own)) $((kvm_qd32[2] + notify)))
    sample "after-$rw" "$kvm_done" 0 "$kvm_notifies"
    if [ "$rw" = read ]; then window read before after-read; return; fi
    window write after-read after-write
    window all before after-write
    bench_record blk_guest_own_us_per_req "$col" "$(bench_calc "${kvm_qd32[1]} / 1000 / ${kvm_qd32[0]}")"
    bench_record blk_guest_notify_us_per_req "$col" "$(bench_calc "${kvm_qd32[2]} / 1000 / ${kvm_qd32[0]}")"
}

# sample NAME DONE MSIS IOREQS: what the marker NAME said (the guest's completed
# requests, the device model's MSIs and the guest's ioreqs so far, in hex) and the CPU
# time of the device model and of mockxen now, as at_NAME=(done msis ioreqs dm mockxen).
sample() {
    local -n at=at_${1//-/_}
    at=($(($2)) $(($3)) $(($4)) "$(bench_cpu_ns "$dm_pid")" "$(bench_cpu_ns "$mx_pid")")
}

# window NAME FROM TO: per request between markers FROM and TO: the device model's and
# the guest's CPU time (window "all": the table rows; "read" and "write": the notes'
# break-down), MSIs and notifies.
window() {
    local -n a=at_${2//-/_} b=at_${3//-/_}
    local n=$((b[0] - a[0])) dm=blk_dm_cpu_us_per_req guest=blk_guest_cpu_us_per_req
    [ "$1" = all ] || dm=x_dm_cpu_$1 guest=x_guest_cpu_$1
    if [ "$n" -le 0 ] || [ -z "${a[3]}" ] || [ -z "${b[3]}" ] || [ -z "${a[4]}" ] || [ -z "${b[4]}" ]; then
        local why="no sample for window $1: requests, MSIs, ioreqs, DM and mockxen ns at $2: ${a[*]}; at $3: ${b[*]}"
        echo "blk: $session_col: $why" >&2
        bench_unavailable "$dm" "$session_col" "$why"
        [ "$guest_kind" = script ] && bench_unavailable "$guest" "$session_col" "$why"
        return
    fi
    bench_record "$dm" "$session_col" "$(bench_calc "(${b[3]} - ${a[3]}) / 1000 / $n")"
    bench_record "x_notify_per_req_$1" "$session_col" "$(bench_calc "(${b[2]} - ${a[2]}) / $n")"
    [ "$guest_kind" = script ] || return 0      # a polling KVM guest: no MSIs, a whole core
    bench_record "$guest" "$session_col" "$(bench_calc "(${b[4]} - ${a[4]}) / 1000 / $n")"
    bench_record "x_msi_per_req_$1" "$session_col" "$(bench_calc "(${b[1]} - ${a[1]}) / $n")"
}

# has_io_uring PID: PID has an io_uring instance open.
has_io_uring() {
    local fd
    for fd in /proc/"$1"/fd/*; do
        [ "$(readlink "$fd" 2>/dev/null)" = "anon_inode:[io_uring]" ] && return 0
    done
    return 1
}

# ---- sessions and fio runs -----------------------------------------------------------------
# dm_args COL GROUP: the device model kind and its options for the session, into the
# array dm_cmd.
dm_args() {
    local cache=writeback qaio=$qemu_aio_cached aio=io_uring
    [ "$2" = direct ] && cache=none qaio=$qemu_aio_direct
    [ "$1" = threads ] && aio=threads
    case $1 in
    uring|threads)
        dm_cmd=(xendm --device "virtio-blk-pci,slot=$slot,file=$img,cache=$cache,aio=$aio") ;;
    qemu)
        dm_cmd=(qemu -drive "if=none,id=d0,file=$img,format=raw,cache=$cache,aio=$qaio"
                -device "virtio-blk-pci,drive=d0,addr=$slot") ;;
    esac
}

# session COL GROUP: one mockxen run of GROUP's guest (the KVM guest with its
# parameters, or the script) with COL's device model.
session() {
    local col=$1 group=$2 why=0 guest_args=(--script "$tmp/$group.gs")
    if [ "$guest_kind" = kvm ]; then
        mapfile -t guest_args <"$tmp/$group.params"
        guest_args=(--kvm-guest "$guest_image" "${guest_args[@]}")
    fi
    dm_args "$col" "$group"
    if ! bench_session_start "${dm_cmd[0]}" "${guest_args[@]}" --populate-mb 128 -- \
            "${dm_cmd[@]:1}"; then
        session_failed "$col" "$group" "$bench_why"
        return
    fi
    session_col=$col session_discard= flush_write_ns= at_before=() at_after_read=() at_after_write=()
    kvm_done=0 kvm_notifies=0 kvm_qd32=(0 0 0)
    bench_read_guest on_line "$tmp/$col.$group.out" || why=$?
    bench_session_end "$why" || session_failed "$col" "$group" "$bench_why"
}

# session_failed COL GROUP WHY: report a failed session; its missing figures get WHY.
session_failed() {
    local metrics=$cached_metrics
    [ "$2" = direct ] && metrics=$direct_metrics
    bench_session_failed blk "$1" "$2" "$3" $metrics
    status=1
}

# host GROUP: fio with each of GROUP's workloads straight on the image; for the QD 32
# ones also fio's CPU time per request.
host() {
    local m cache rw bs qd pattern n direct=0 mode cpu_ns=0 ios=0
    [ "$1" = direct ] && direct=1
    while read -r m cache rw bs qd pattern n; do
        [ "$cache" = "$1" ] || continue
        mode=$rw
        [ "$pattern" = rand ] && mode=rand$rw
        run_fio "$m" --rw="$mode" --bs="$bs" --iodepth="$qd" --direct=$direct || continue
        [ "$qd" = 32 ] && [ "$1" = cached ] || continue
        # fio's start-up and tear-down cost, taken out: the same job for one request
        local run_ns=$fio_cpu_ns run_ios=$fio_ios
        fio_cpu "$m" --rw="$mode" --bs="$bs" --iodepth="$qd" --direct=$direct --number_ios=1 || continue
        bench_record "x_dm_cpu_$rw" host "$(bench_calc "($run_ns - $fio_cpu_ns) / 1000 / $run_ios")"
        cpu_ns=$((cpu_ns + run_ns - fio_cpu_ns)) ios=$((ios + run_ios))
    done <<<"$workloads"
    [ "$1" = cached ] || return 0
    [ "$ios" -gt 0 ] && bench_record blk_dm_cpu_us_per_req host "$(bench_calc "$cpu_ns / 1000 / $ios")"
    run_fio blk_flush_us --rw=randwrite --bs=4096 --iodepth=1 --fdatasync=1
}

# run_fio METRIC FIO-OPTIONS: one fio job on the image for $fio_ms ms; records METRIC
# (IOPS, MiB/s, or the fdatasync latency in us); $fio_ios is its request count.
run_fio() {
    local m=$1 fig; shift
    fio_cpu "$m" --time_based --runtime="${fio_ms}ms" "$@" || return
    IFS=, read -r fig fio_ios <<<"$(python3 - "$m" "$tmp/fio.json" <<'PY'
import json, sys
metric, path = sys.argv[1], sys.argv[2]
job = json.load(open(path))["jobs"][0]
ios = job["read"]["total_ios"] + job["write"]["total_ios"]
if metric.endswith("_mibps"):
    fig = (job["read"]["bw_bytes"] + job["write"]["bw_bytes"]) / 2**20
elif metric == "blk_flush_us":
    fig = job["sync"]["lat_ns"]["mean"] / 1000 if job["sync"]["lat_ns"]["N"] else ""
else:
    fig = job["read"]["iops"] + job["write"]["iops"]
print(fig, ios, sep=",")
PY
)"
    if [ -n "$fig" ]; then bench_record "$m" host "$fig"; return; fi
    bench_unavailable "$m" host "fio reported no figure (for a flush: no fdatasync timed)"
    return 1
}

# fio_cpu METRIC FIO-OPTIONS: run fio on the image (its JSON report in $tmp/fio.json)
# for METRIC and put the CPU time it used in $fio_cpu_ns: all its processes and threads,
# io_uring's kernel workers included (fio's own usr_cpu/sys_cpu leave those out), from
# this shell's children's times before and after.
fio_cpu() {
    local m=$1; shift
    times >"$tmp/times.0"
    if ! fio --name=blk --filename="$img" --size="$blk_image_bytes" --ioengine=io_uring \
            --norandommap --randrepeat=0 --invalidate=0 --output-format=json \
            --output="$tmp/fio.json" "$@" >"$tmp/fio.err" 2>&1; then
        bench_unavailable "$m" host "fio failed: $(head -1 "$tmp/fio.err")"; status=1
        return 1
    fi
    times >"$tmp/times.1"
    fio_cpu_ns=$(( $(children_ns "$tmp/times.1") - $(children_ns "$tmp/times.0") ))
}

# children_ns FILE: user + system time of the waited-for children in the output of
# `times` (its second line, "XmY.YYYs XmY.YYYs"), in ns.
children_ns() {
    awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, p, /[ms]/); t += p[1] * 60 + p[2] }
                   printf "%.0f\n", t * 1e9 }' "$1"
}

# qemu_accepts AIO CACHE: this QEMU build takes -drive ...,aio=AIO,cache=CACHE. Without
# Xen it stops at once, at the missing accelerator if it took the drive options; a
# refusal names the aio option, and is kept in $tmp/qemu.AIO.err for the notes.
qemu_accepts() {
    timeout 10 "$qemu" -machine none -nodefaults -display none -monitor none -serial none \
        -drive "if=none,id=d0,file=$img,format=raw,cache=$2,aio=$1" </dev/null >/dev/null \
        2>"$tmp/qemu.$1.err"
    ! grep -q 'aio' "$tmp/qemu.$1.err"
}

# ---- running it -----------------------------------------------------------------------------
if [ ! -x "$mockxen" ]; then echo "blk: $mockxen is missing (make bench-build)" >&2; exit 1; fi
started=$SECONDS
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
dd if=/dev/zero of="$img" bs=1M count=$((blk_image_bytes >> 20)) conv=fsync status=none || {
    echo "blk: cannot write the image $img" >&2; exit 1; }
write_scripts
write_kvm_params

cols=()
for col in $columns; do
    why=
    case $col in
    host)  command -v fio >/dev/null || why="fio not installed"
           command -v python3 >/dev/null || why="python3 (to read fio's JSON) not installed" ;;
    uring|threads) [ -x "$xendm" ] || why="$xendm not built" ;;
    qemu)  [ -x "$qemu" ] || why="$qemu not installed (qemu-system-xen)" ;;
    esac
    if [ -n "$why" ]; then for m in $all_metrics; do bench_unavailable "$m" "$col" "$why"; done
    else cols+=("$col"); fi
done
for m in $guest_metrics; do
    bench_unavailable "$m" host "no guest: fio runs on the host"
done
qemu_aio_cached=threads qemu_aio_direct=threads
if [ -x "$qemu" ]; then
    if qemu_accepts io_uring writeback; then qemu_aio_cached=io_uring qemu_aio_direct=io_uring
    elif qemu_accepts native none; then qemu_aio_direct=native; fi
fi

[ ${#cols[@]} -gt 0 ] || rounds_run=0
for round in $(seq "${rounds_run:-$rounds}"); do
    shift_by=$(( (round - 1) % ${#cols[@]} ))
    order=("${cols[@]:$shift_by}" "${cols[@]:0:$shift_by}")
    for group in cached direct; do
        for col in "${order[@]}"; do
            sync "$img"
            [ "$group" = cached ] && cat "$img" >/dev/null      # the page cache warm
            if [ "$col" = host ]; then host "$group"; else session "$col" "$group"; fi
        done
    done
done
elapsed=$((SECONDS - started))

# ---- the table --------------------------------------------------------------------------------
format() {
    case $1 in
    *_iops_*|*_mibps) echo "%.0f" ;;
    blk_flush_us) echo "%.0f" ;;
    *) echo "%.2f" ;;
    esac
}
cache_of() {
    case $1 in
    blk_seq*) echo O_DIRECT ;;
    blk_guest_loop_us_per_req) echo - ;;
    *) echo "page cache" ;;
    esac
}
summary() { bench_summary "$1" "$2" "$(format "$1")" "$rounds"; }

# verdict METRIC: the issue's goal for METRIC and whether each xendm engine meets it.
verdict() {
    local m=$1 base op goal text e v r
    case $m in
    blk_randread_4k_iops_qd32|blk_randwrite_4k_iops_qd32) base=qemu op=">=" goal=2 text=">= 2x QEMU" ;;
    blk_dm_cpu_us_per_req) base=qemu op="<=" goal=0.5 text="<= 0.5x QEMU" ;;
    blk_seq*) base=host op=">=" goal=0.8 text=">= 0.8x host" ;;
    *_iops_*|*_mibps) echo "higher is better"; return ;;
    blk_guest_*) echo "guest's cost (see below)"; return ;;
    *) echo "lower is better"; return ;;
    esac
    for e in uring threads; do
        r=$(bench_ratio_text "$(bench_median "$m" $e)" "$(bench_median "$m" $base)")
        v="n/a"
        [ "$r" != n/a ] && v=$(awk -v r="$r" -v g="$goal" -v op="$op" \
            'BEGIN { ok = op == ">=" ? r >= g : r <= g; print r (ok ? " met" : " NOT met") }')
        text+="; $(engine_name $e) $v"
    done
    echo "$text"
}
engine_name() { case $1 in uring) echo io_uring ;; *) echo "$1" ;; esac; }

table_rows() {
    local m
    for m in $all_metrics; do
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s/%s\t%s\n' "$m" "$(cache_of "$m")" \
            "$(summary "$m" host)" "$(summary "$m" uring)" "$(summary "$m" threads)" \
            "$(summary "$m" qemu)" "$(bench_ratio_text "$(bench_median "$m" uring)" "$(bench_median "$m" qemu)")" \
            "$(bench_ratio_text "$(bench_median "$m" threads)" "$(bench_median "$m" qemu)")" \
            "$(verdict "$m")"
    done
}

# qd32_lines FIELDS: for each device model, a line with its QD 32 reads and writes: the
# wall time and the device model's CPU per request, then what `FIELDS RW COL WALL`
# prints about the guest for that workload.
qd32_lines() {
    local fields=$1 col rw iops wall line
    for col in uring threads qemu; do
        line=
        for rw in read write; do
            iops=$(bench_median "blk_rand${rw}_4k_iops_qd32" "$col")
            [ -n "$iops" ] && [ -n "$(bench_median "x_dm_cpu_$rw" "$col")" ] || continue
            wall=$(bench_calc "1e6 / $iops")
            line+=$(printf '%s %s: wall %.2f us, device model CPU %.2f us, %s' \
                "${line:+;}" "${rw}s" "$wall" "$(bench_median "x_dm_cpu_$rw" "$col")" \
                "$("$fields" "$rw" "$col" "$wall")")
        done
        [ -n "$line" ] && echo "- $(column_name "$col"):$line"
    done
}

# script_guest_fields RW COL WALL: the script guest's CPU (mockxen's), MSIs, notifies.
script_guest_fields() {
    printf 'guest CPU %.2f us (%.0f%% of wall), %.2f MSIs and %.2f notifies per request' \
        "$(bench_median "x_guest_cpu_$1" "$2")" \
        "$(bench_calc "100 * $(bench_median "x_guest_cpu_$1" "$2") / $3")" \
        "$(bench_median "x_msi_per_req_$1" "$2")" "$(bench_median "x_notify_per_req_$1" "$2")"
}

# kvm_guest_fields RW COL WALL: the KVM guest's own code, its time in notifies.
kvm_guest_fields() {
    printf 'guest own code %.3f us (%.1f%% of wall), in notifies %.2f us, %.3f notifies' \
        "$(bench_median "x_guest_own_$1" "$2")" \
        "$(bench_calc "100 * $(bench_median "x_guest_own_$1" "$2") / $3")" \
        "$(bench_median "x_guest_notify_$1" "$2")" "$(bench_median "x_notify_per_req_$1" "$2")"
}

# guest_note: is the guest the bottleneck? For each device model and QD 32 workload:
# the wall time per request next to the CPU time the device model and the guest (with
# mockxen) spent on it, and the interrupts and notifies per request; then the script's
# own statements per request.
guest_note() {
    if [ "$guest_kind" = kvm ]; then kvm_guest_note; return; fi
    local line m
    echo "Where the time goes at QD 32 (medians; wall = 1 / IOPS; guest = mockxen's CPU: the"
    echo "script's vCPU, its ioreqs and the interrupts it receives; 2 CPUs in all):"
    qd32_lines script_guest_fields
    m=$(for col in uring threads qemu; do bench_median blk_guest_loop_us_per_req "$col"; done | sort -g | sed -n 1p)
    line=$(bench_median x_dm_cpu_read host) m=$(bench_median x_dm_cpu_write host)
    [ -n "$line" ] && [ -n "$m" ] && printf -- '- host (fio): reads: CPU %.2f us; writes: CPU %.2f us per request\n' "$line" "$m"
    echo "The guest script's own statements per request (blk_guest_loop_us_per_req, no device)"
    echo "are the table's last row; the rest of the guest's CPU is mockxen's transport (the"
    echo "notify ioreq, the MSIs and the wake-ups), which every device model pays."
}

# kvm_guest_note: is the KVM guest the bottleneck? For each device model and QD 32
# workload: the wall time per request next to the device model's CPU time, the guest's
# own code and its time in notifies, and the notifies per request.
kvm_guest_note() {
    echo "Where the time goes at QD 32 (medians, per request; wall = 1 / IOPS; the KVM guest"
    echo "polls the used ring on a core of its own, the device model has the other one):"
    qd32_lines kvm_guest_fields
    echo "The guest's own code is the table's blk_guest_own_us_per_req; the rest of its time it"
    echo "polls or waits in a notify (an MMIO exit through mockxen to the device model and"
    echo "back: blk_guest_notify_us_per_req; xendm answers before it runs the queue)."
}

# notes: the reasons behind every n/a, and the engine QEMU-xen ran with if not io_uring.
notes() {
    bench_na_notes column_name "$(echo $all_metrics | wc -w)"
    [ "$guest_kind" = kvm ] ||
        echo "- guest: the mockxen guest script (bench/blk_guest.sh), not the KVM guest: $guest_why"
    [ "$qemu_aio_cached" = io_uring ] && return
    echo "- QEMU-xen runs with aio=$qemu_aio_cached (page cache) and aio=$qemu_aio_direct (O_DIRECT): this build refuses"
    echo "  aio=io_uring ($(head -1 "$tmp/qemu.io_uring.err" 2>/dev/null | sed 's/.*: //'))$(
        [ "$qemu_aio_direct" = native ] || echo " and aio=native ($(head -1 "$tmp/qemu.native.err" 2>/dev/null | sed 's/.*: //'))")"
}
column_name() {
    case $1 in host) echo "host (fio)" ;; uring) echo "xendm io_uring" ;;
               threads) echo "xendm threads" ;; qemu) echo "QEMU-xen" ;; esac
}

rows=$(table_rows)
heading="virtio-blk-pci on mockxen, 1 GiB raw image: median of $rounds rounds (min-max)"
text=$( {
    echo "$heading"
    printf '%-27s  %-10s  %-24s  %-24s  %-24s  %-24s  %-11s  %s\n' workload cache "host (fio)" \
        "xendm io_uring" "xendm threads" "QEMU-xen" "xendm/QEMU" goal
    while IFS=$'\t' read -r m c h u t q r g; do
        printf '%-27s  %-10s  %-24s  %-24s  %-24s  %-24s  %-11s  %s\n' "$m" "$c" "$h" "$u" "$t" "$q" "$r" "$g"
    done <<<"$rows"
    guest_note
    notes
} )
echo "$text"
bench_print_section blk "$text"
[ -n "$results" ] || exit $status

section=$( {
    bench_section_head "virtio-blk: host vs xendm (io_uring, threads) vs QEMU-xen" blk.sh "$load_before"
    echo "- image: 1 GiB raw, written once with zeros, $(df -T "$img" | awk 'NR == 2 { print "on " $2 " (" $1 ")" }')"
    echo "- command: $(bench_command blk.sh) with BLK_ROUNDS=$rounds BLK_SCALE=$scale ($elapsed s); not pinned"
    echo "- host: $(fio --version) with --ioengine=io_uring, ${fio_ms} ms per workload"
    if [ "$guest_kind" = kvm ]; then
        echo "- guest: \`build/guests/blk_bench.bin\` (tests/guests/blk_bench.c) under KVM (mockxen --kvm-guest): polls the used ring in 64-bit ring 3, no interrupts"
    else
        echo "- guest: mockxen guest script (bench/blk_guest.sh), interrupt-driven: $guest_why"
    fi
    echo "- xendm: \`build/rel/xendm --domid 1 --device virtio-blk-pci,slot=$slot,file=IMG,cache=writeback|none,aio=io_uring|threads\`"
    echo "- QEMU-xen: $("$qemu" --version 2>/dev/null | head -1) (Debian's \`$qemu\`, unmodified): \`-drive if=none,id=d0,file=IMG,format=raw,cache=writeback|none,aio=$qemu_aio_cached -device virtio-blk-pci,drive=d0,addr=$slot\`"
    echo
    echo "Each cell: median of $rounds rounds (min-max). xendm/QEMU: the ratio of the medians, io_uring/threads."
    echo
    echo "| workload | cache | host (fio) | xendm io_uring | xendm threads | QEMU-xen | xendm/QEMU | goal |"
    echo "|---|---|---|---|---|---|---|---|"
    while IFS=$'\t' read -r m c h u t q r g; do
        echo "| $m | $c | $h | $u | $t | $q | $r | $g |"
    done <<<"$rows"
    echo
    guest_note
    echo
    notes
    echo
    echo "Workloads (QD: requests the guest keeps outstanding; every request checked for status OK):"
    echo
    echo "$workload_notes"
    if [ "$guest_kind" = kvm ]; then echo "$kvm_workload_notes"; else echo "$script_workload_notes"; fi
} )
bench_write_section "$results" blk "$section"
exit $status
