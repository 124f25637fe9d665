#!/bin/bash
# bench/compare.sh — xendm side by side with Debian's QEMU-xen and the null responder,
# all on the same mockxen in one run (issue 6). The result is one table: the rows are
# the workloads, the columns the null responder (mockxen --null-dm, the transport's
# floor), xendm, QEMU-xen and xendm/QEMU, each cell the median of ROUNDS runs with
# its spread (min-max).
#
# What each workload measures is spelled out once, in $workloads below (results.md
# repeats it).
#
# A round is one mockxen session per device model for the first group (start-up, RSS,
# round trips, CPU, rep) and one per DM for the memory group (maps, dirty log); the DMs
# alternate within each group and the order rotates between rounds, so all of them
# see the same (noisy, shared) machine. The table is printed on stdout, written to its
# section of bench/results.md with the machine, date and command, and, under
# scripts/run-bench.sh, to $XENDM_BENCH_SECTIONS so that `make bench` prints it as its
# own section.
# A device model that is missing or fails gets "n/a" with the reason under the table;
# a failed session also makes the exit status 1.
#
# mockxen and the device model share one CPU (the last): on a small VM a wake-up across
# CPUs can cost tens of microseconds, and whether it happens depends on where the
# scheduler puts the processes, which would swamp the difference between the DMs.
#
# Environment: COMPARE_ROUNDS (default 5), COMPARE_PIO_N (round trips per workload,
# default 5000), COMPARE_CPU (the CPU to pin to; empty: no pinning), COMPARE_RESULTS
# (where to write results.md; empty: nowhere), XENDM_QEMU (default
# /usr/libexec/xen-qemu-system-i386).
. "$(dirname "$0")/lib.sh"
rounds=${COMPARE_ROUNDS:-5}
pio_n=${COMPARE_PIO_N:-5000}
bench_cpu=${COMPARE_CPU-$(( $(nproc) - 1 ))}
results=${COMPARE_RESULTS-$top/bench/results.md}
rep_n=8                                 # 64 KiB transfers per rep workload
touch_first=0x100000                    # the memory group reads 1 MiB .. 1 GiB
touch_nr=$(( (1024 - 1) * 16 ))         # one 4-byte read per 64 KiB
status=0
workloads="\
- pio_rtt_ns: 1-byte port write round trip to the UART scratch register 0x3ff
  (guest script \`time $pio_n\` block).
- pio_read_rtt_ns: 1-byte port read round trip of the UART LSR (0x3fd).
- rep_outsb_mibps, rep_insb_mibps: 64 KiB \`rep outsb\` to / \`rep insb\` from port 0x3ff
  with data_is_ptr: the device model reads / writes guest memory through its mapcache
  ($rep_n transfers per run). The null responder answers without touching guest memory:
  its figures are the transport alone.
- dm_cpu_us_per_ioreq: device-model CPU time (user + system, all threads, from
  /proc/PID/task/*/schedstat) per ioreq over the two round-trip workloads.
- dirty_calls_per_mib: xendevicemodel_modified_memory + modified_memory_bulk calls per
  MiB that one 64 KiB \`rep insb\` writes into guest memory with log-dirty on (xendm
  --log-dirty; QEMU started with -S and switched on through QMP
  xen-set-global-dirty-log before \`cont\`, as libxl does).
- foreign_maps_per_gib: xenforeignmemory_map + map2 calls from the device model's start
  until it has read 4 bytes in every 64 KiB of guest RAM from 1 MiB to 1 GiB (1 GiB
  populated; QEMU -m 1024), per GiB touched.
- rss_kib: VmRSS right after start-up (idle; xendm's default UART + PCI test device,
  QEMU's xenfv machine with -nodefaults -serial null; 128 MiB populated).
- startup_ms: from the device model's execve (stamped by the shell just before it;
  the shell's own fork and the CPU pinning come earlier and are not counted) to the
  guest's first statement (the device model has written \`running\` to xenstore and
  enabled its ioreq server)."

# ---- guest scripts ----------------------------------------------------------------
# Markers echoed by the guest let the shell sample the DM at the right moments; the
# guest sleeps after each so that the sample is taken while the DM is idle.
cat >"$tmp/main.gs" <<GS
echo "start"
sleep 50ms
repeat 500 { out 0x3ff, 1, 0x55 }
count guest_ioreq -> \$i0
echo "cpu-begin"
sleep 50ms
time $pio_n "pio_rtt_ns" { out 0x3ff, 1, 0x55 }
time $pio_n "pio_read_rtt_ns" { in 0x3fd, 1 }
count guest_ioreq -> \$i1
echo "cpu-end" \$i1 - \$i0
sleep 50ms
time $rep_n "rep_outsb" { rep-out 0x3ff, 1, 65536, 0x100000 }
time $rep_n "rep_insb" { rep-in 0x3ff, 1, 65536, 0x100000 }
GS
cat >"$tmp/mem.gs" <<GS
repeat $touch_nr as \$i { rep-out 0x3ff, 1, 4, $touch_first + \$i * 0x10000 }
count xenforeignmemory_map -> \$m
count xenforeignmemory_map2 -> \$m2
echo "maps" \$m + \$m2 $touch_nr * 0x10000
log-dirty on
count xendevicemodel_modified_memory -> \$a
count xendevicemodel_modified_memory_bulk -> \$b
rep-in 0x3ff, 1, 65536, 0x100000
count xendevicemodel_modified_memory -> \$c
count xendevicemodel_modified_memory_bulk -> \$d
echo "dirty" (\$c - \$a) + (\$d - \$b) 65536
GS

# ---- measurements ---------------------------------------------------------------------
main_metrics="startup_ms rss_kib pio_rtt_ns pio_read_rtt_ns dm_cpu_us_per_ioreq rep_outsb_mibps rep_insb_mibps"
mem_metrics="foreign_maps_per_gib dirty_calls_per_mib"

# dm_pid_of DM: the pid of the running device model; the null responder is the
# mockxen-null-dm process mockxen --null-dm starts.
dm_pid_of() {
    if [ "$1" = null ]; then pgrep -x -P "$mx_pid" mockxen-null-dm | head -1
    else echo "$dm_pid"; fi
}

# on_line DM LINE: act on one line of the guest's output, which arrived at $line_seen
# (echo markers and rows; the numbers the guest echoes are hexadecimal).
on_line() {
    local dm=$1 line=$2 f ns a b
    case $line in
    "vcpu0: start")
        cpu_pid=$(dm_pid_of "$dm") cpu0=
        if [ "$dm" != null ]; then
            local t0=
            read -r t0 2>/dev/null <"$tmp/dm.t0"
            if [ -n "$t0" ]; then bench_record startup_ms "$dm" "$(bench_calc "($line_seen - $t0) * 1000")"
            else bench_unavailable startup_ms "$dm" "no start time in $tmp/dm.t0"; fi
            bench_record rss_kib "$dm" "$(bench_rss_kib "$dm_pid")"
        fi ;;
    "vcpu0: cpu-begin")
        cpu0=$(bench_cpu_ns "$cpu_pid") ;;
    "vcpu0: cpu-end "*)
        cpu1=$(bench_cpu_ns "$cpu_pid")
        if [ -n "$cpu0" ] && [ -n "$cpu1" ]; then
            bench_record dm_cpu_us_per_ioreq "$dm" "$(bench_calc "($cpu1 - $cpu0) / 1000 / $((${line##* }))")"
        else
            bench_unavailable dm_cpu_us_per_ioreq "$dm" "no CPU time for pid '$cpu_pid'"
        fi ;;
    "vcpu0: maps "*)
        read -r _ _ a b <<<"$line"          # maps, bytes touched
        bench_record foreign_maps_per_gib "$dm" "$(bench_calc "$((a)) / ($((b)) / 2^30)")" ;;
    "vcpu0: dirty "*)
        read -r _ _ a b <<<"$line"          # calls, bytes written
        bench_record dirty_calls_per_mib "$dm" "$(bench_calc "$((a)) / ($((b)) / 2^20)")" ;;
    row*)
        IFS=$'\t' read -r _ f ns _ <<<"$line"
        case $f in
        pio_rtt_ns|pio_read_rtt_ns) bench_record "$f" "$dm" "$ns" ;;
        rep_outsb|rep_insb) bench_record "${f}_mibps" "$dm" "$(bench_calc "65536 / 2^20 / ($ns / 1e9)")" ;;
        esac ;;
    esac
}

# on_session_line LINE: on_line for the session's device model.
on_session_line() { on_line "$session_dm" "$1"; }

# session DM GROUP: one mockxen run of GROUP's guest script (main or mem) with DM
# (null, xendm or qemu), reading the guest's output as it comes.
session() {
    local dm=$1 group=$2 qmp_pid= why=0 m
    local mx_args=(--script "$tmp/$group.gs" --populate-mb 128) dm_args=()
    case $dm.$group in
    null.main)  mx_args+=(--null-dm) ;;
    xendm.mem)  mx_args=(--script "$tmp/mem.gs" --populate-mb 1024); dm_args=(--log-dirty) ;;
    qemu.mem)   mx_args=(--script "$tmp/mem.gs" --populate-mb 1024)
                dm_args=(-m 1024 -S -qmp "unix:$tmp/qmp.sock,server,nowait") ;;
    esac
    rm -f "$tmp/qmp.sock"
    if ! bench_session_start "$dm" "${mx_args[@]}" -- "${dm_args[@]}"; then
        session_failed "$dm" "$group" "$bench_why"
        return
    fi
    if [ "$dm" = qemu ] && [ "$group" = mem ]; then
        # QEMU started paused (-S): turn on its dirty log as libxl does, then let it run.
        bench_qmp "$tmp/qmp.sock" '{"execute":"qmp_capabilities"}' \
            '{"execute":"xen-set-global-dirty-log","arguments":{"enable":true}}' \
            '{"execute":"cont"}' 2>"$tmp/qmp.err" &
        qmp_pid=$!
    fi
    session_dm=$dm
    bench_read_guest on_session_line "$tmp/$dm.$group.out" || why=$?
    bench_session_end "$why" || session_failed "$dm" "$group" "$bench_why"
    if [ -n "$qmp_pid" ]; then
        kill "$qmp_pid" 2>/dev/null             # still waiting for a QEMU that is gone
        wait "$qmp_pid" ||
            for m in $mem_metrics; do bench_unavailable "$m" qemu "QMP failed: $(head -1 "$tmp/qmp.err")"; done
    fi
}

# session_failed DM GROUP WHY: report a failed session; its missing figures get WHY.
session_failed() {
    local metrics=$main_metrics
    [ "$2" = mem ] && metrics=$mem_metrics
    bench_session_failed compare "$1" "$2" "$3" $metrics
    status=1
}

# Which device models can run here; the missing ones get their reason once.
dms=(null)
if [ -x "$xendm" ]; then dms+=(xendm)
else for m in $main_metrics $mem_metrics; do bench_unavailable "$m" xendm "$xendm not built"; done; fi
if [ -x "$qemu" ]; then
    dms+=(qemu)
    if ! command -v python3 >/dev/null; then
        qemu_mem=no
        for m in $mem_metrics; do bench_unavailable "$m" qemu "python3 (the QMP client) not installed"; done
    fi
else for m in $main_metrics $mem_metrics; do bench_unavailable "$m" qemu "$qemu not installed (qemu-system-xen)"; done; fi
for m in startup_ms rss_kib dirty_calls_per_mib foreign_maps_per_gib; do
    bench_unavailable "$m" null "does not apply"
done
if [ ! -x "$mockxen" ]; then
    echo "compare: $mockxen is missing (make bench-build)" >&2
    exit 1
fi

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$SECONDS
for round in $(seq "$rounds"); do
    # Rotate the order each round: every DM runs first, middle and last in turn.
    order=("${dms[@]:$(( (round - 1) % ${#dms[@]} ))}" "${dms[@]:0:$(( (round - 1) % ${#dms[@]} ))}")
    for dm in "${order[@]}"; do session "$dm" main; done
    for dm in "${order[@]}"; do
        [ "$dm" = null ] && continue
        [ "$dm.${qemu_mem:-}" = qemu.no ] && continue
        session "$dm" mem
    done
done
elapsed=$((SECONDS - started))

# ---- the table ----------------------------------------------------------------------
# summary METRIC DM: the table cell (the reason for an n/a goes under the table).
summary() { bench_summary "$1" "$2" "$(format "$1")" "$rounds"; }
median() { bench_median "$@"; }
format() {
    case $1 in
    dm_cpu_us_per_ioreq) echo "%.2f" ;;
    startup_ms|rep_*) echo "%.1f" ;;
    *) echo "%.0f" ;;
    esac
}
# goal METRIC: the most xendm/QEMU may be, empty for workloads without a goal.
goal() {
    case $1 in
    pio_rtt_ns|pio_read_rtt_ns|dm_cpu_us_per_ioreq) echo 0.5 ;;
    dirty_calls_per_mib|rss_kib|startup_ms) echo 0.1 ;;
    esac
}

# table_rows: one TAB-separated line per workload: name, the three cells, the ratio,
# the goal verdict and, where the null responder has a figure, the ratio of what each
# device model adds to it (its own cost, with the transport's taken out).
table_rows() {
    local m n x q ratio own g verdict
    for m in pio_rtt_ns pio_read_rtt_ns rep_outsb_mibps rep_insb_mibps dirty_calls_per_mib \
             foreign_maps_per_gib dm_cpu_us_per_ioreq rss_kib startup_ms; do
        n=$(median "$m" null) x=$(median "$m" xendm) q=$(median "$m" qemu) g=$(goal "$m")
        ratio=$(bench_ratio_text "$x" "$q") own=n/a verdict=
        case $m in
        pio_rtt_ns|pio_read_rtt_ns|dm_cpu_us_per_ioreq)
            if [ -n "$n" ] && [ -n "$x" ] && [ -n "$q" ]; then
                if [ "$(bench_calc "$x <= $n")" = 1 ]; then
                    own="0 (xendm within the null's noise)"
                else
                    own=$(bench_ratio_text "$(bench_calc "$x - $n")" "$(bench_calc "$q - $n")")
                fi
            fi ;;
        esac
        case $m in rep_*) verdict="higher is better" ;; foreign_maps_per_gib) verdict="lower is better" ;; esac
        if [ -n "$g" ]; then
            verdict="<= $g"
            [ "$ratio" != n/a ] && verdict+=$(awk -v x="$x" -v q="$q" -v g="$g" \
                'BEGIN { print (x / q <= g) ? ": met" : ": NOT met" }')
        fi
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$m" "$(summary "$m" null)" "$(summary "$m" xendm)" \
            "$(summary "$m" qemu)" "$ratio" "$verdict" "$own"
    done
}

# notes: the reasons behind every n/a (the null responder's "does not apply" is said
# once in the heading instead).
notes() { bench_na_notes column_name "$(echo $main_metrics $mem_metrics | wc -w)"; }
column_name() { case $1 in null) echo "null responder" ;; xendm) echo xendm ;; qemu) echo QEMU-xen ;; esac; }

heading="xendm vs QEMU-xen on mockxen: median of $rounds rounds (min-max); null responder n/a where it does not apply"
goals="Goals (xendm/QEMU): <= 0.5 round trips and CPU per ioreq (2x faster), <= 0.1 dirty-log calls, RSS and start-up."
# floor_note: what the null responder says about the round-trip goal on this machine.
floor_note() {
    local n q; n=$(median pio_rtt_ns null) q=$(median pio_rtt_ns qemu)
    [ -n "$n" ] && [ -n "$q" ] && [ "$(bench_calc "$q > 0")" = 1 ] || return 0
    echo "The null responder does no device-model work, so no device model's round trip can be"
    echo "below its $(printf '%.0f' "$n") ns here: xendm/QEMU cannot go under $(bench_ratio_text "$n" "$q") on this machine"
    echo "whatever xendm does. That floor is the transport's two process wake-ups per round"
    echo "trip (mockxen.pingpong_ns); \"over null\" compares what each device model adds to it."
}
rows=$(table_rows)
text=$( {
    echo "$heading"
    printf '%-21s  %-26s  %-26s  %-26s  %-10s  %-16s  %s\n' workload "null responder" xendm \
        QEMU-xen xendm/QEMU goal "over null: xendm/QEMU"
    while IFS=$'\t' read -r m n x q r g o; do
        printf '%-21s  %-26s  %-26s  %-26s  %-10s  %-16s  %s\n' "$m" "$n" "$x" "$q" "$r" "$g" "$o"
    done <<<"$rows"
    echo "$goals"
    floor_note
    notes
} )
echo "$text"
bench_print_section compare "$text"

qemu_version=n/a
[ -x "$qemu" ] && qemu_version=$("$qemu" --version 2>/dev/null | head -1)
[ -n "$results" ] || exit $status
pinned="not pinned"
[ -n "$bench_cpu" ] && pinned="mockxen and the device model pinned to CPU $bench_cpu"
section=$( {
    bench_section_head "xendm vs QEMU-xen vs the null responder" compare.sh "$load_before"
    echo "- command: $(bench_command compare.sh) with COMPARE_ROUNDS=$rounds COMPARE_PIO_N=$pio_n ($elapsed s); $pinned"
    echo "- device models on mockxen: null responder \`mockxen --null-dm\`; xendm \`build/rel/xendm --domid 1\`; $qemu_version (Debian's \`$qemu\`, unmodified)"
    echo
    echo "Each cell: median of $rounds rounds (min-max). xendm/QEMU is the ratio of the medians."
    echo "\"over null\" is (xendm - null) / (QEMU - null) on the medians: what each device model"
    echo "adds to the transport's own round trip and CPU time, the part a device model controls."
    echo
    echo "| workload | null responder | xendm | QEMU-xen | xendm/QEMU | goal | over null: xendm/QEMU |"
    echo "|---|---|---|---|---|---|---|"
    while IFS=$'\t' read -r m n x q r g o; do
        echo "| $m | $n | $x | $q | $r | $g | $o |"
    done <<<"$rows"
    echo
    echo "$goals"
    echo
    floor_note
    notes
    echo
    echo "Workloads:"
    echo
    echo "$workloads"
} )
bench_write_section "$results" compare "$section"
exit $status
