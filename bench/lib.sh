# bench/lib.sh — shared launcher for benchmarks that run a device model on mockxen.
#
# Source it; it defines the programs and a scratch folder:
#   top, rel                  the source tree and the optimised build (build/rel, or
#                             $XENDM_TOP / $XENDM_REL_BUILD as scripts/run-bench.sh sets)
#   mockxen, xendm, qemu      the programs (qemu: Debian's unmodified QEMU-xen)
#   tmp                       a scratch folder under $TMPDIR (default /tmp), removed
#                             on exit
#   bench_cpu                 if set (by the caller, after sourcing), mockxen and the
#                             device models run pinned to this one CPU
# and exports MOCKXEN_SOCKET, XENSTORED_PATH and LD_LIBRARY_PATH (the shims) so that
# every device model started here talks to the mockxen started here.
#
# It also holds what the side-by-side benchmarks (compare.sh, blk.sh) share: a guest
# session (bench_session_start / bench_read_guest / bench_session_end), the figures of
# each run and their medians (bench_record ... bench_summary), and the sections of
# bench/results.md (bench_write_section).
#
# Ownership: one mockxen and at most one device model at a time. mx_pid and dm_pid
# name the running ones (empty when none); at exit both are stopped, and then any
# other process the benchmark started (scripts/strays.bash), so a benchmark that fails
# half-way leaves no process behind. Device models are stopped with SIGTERM and, if
# they ignore it for 10 s, SIGKILL (bench_dm_stop). Benchmarks clean up with
# `at_exit COMMAND`, never `trap ... EXIT`.
[ "${BASH_SOURCE[0]}" != "$0" ] || exit 0      # a library: nothing to run on its own
set -u
top=${XENDM_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
rel=${XENDM_REL_BUILD:-$top/build/rel}
mockxen=$rel/tools/mockxen/mockxen
xendm=$rel/xendm
qemu=${XENDM_QEMU:-/usr/libexec/xen-qemu-system-i386}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/xendm-bench-XXXXXX")
export MOCKXEN_SOCKET=$tmp/mx.sock XENSTORED_PATH=$tmp/xs.sock LD_LIBRARY_PATH=$top/build/shim
mkfifo "$tmp/dm.stdin"                  # xendm's console input: open, never a byte
. "$top/tools/mockxen/procs.sh"
. "$top/scripts/strays.bash"
run_guard
mx_pid= dm_pid= bench_cpu= bench_why=

bench_cleanup() {
    bench_dm_stop
    if [ -n "$mx_pid" ]; then kill "$mx_pid" 2>/dev/null; wait "$mx_pid" 2>/dev/null; fi
    rm -rf "$tmp"
}
at_exit bench_cleanup

# bench_on_cpu PROGRAM ARGS...: run PROGRAM (exec'd, so $! stays its pid) on
# $bench_cpu if that is set. The subshell pins itself first and then execs PROGRAM
# directly (no taskset in between), so that PROGRAM's start is one execve.
bench_on_cpu() {
    if [ -n "$bench_cpu" ]; then taskset -pc "$bench_cpu" "$BASHPID" >/dev/null || return; fi
    exec "$@"
}

# bench_exec_stamped PROGRAM ARGS...: like bench_on_cpu, and write the wall-clock time
# of the execve ($EPOCHREALTIME, in s) to $tmp/dm.t0: start-up is timed from there, so
# it counts the device model's own loading and set-up but not the shell's fork.
bench_exec_stamped() {
    if [ -n "$bench_cpu" ]; then taskset -pc "$bench_cpu" "$BASHPID" >/dev/null || return; fi
    echo "$EPOCHREALTIME" >"$tmp/dm.t0"
    exec "$@"
}

# bench_mx_start OUT [mockxen options]: start mockxen in the background with its stdout
# (guest echo lines and benchmark rows) going to OUT and its stderr (messages and
# counters) to $tmp/mx.err, and wait until both of its sockets exist. Returns 1 if
# mockxen died first or had no sockets after 5 s.
bench_mx_start() {
    local out=$1; shift
    rm -f "$MOCKXEN_SOCKET" "$XENSTORED_PATH"
    (bench_on_cpu "$mockxen" --socket "$MOCKXEN_SOCKET" --xenstore "$XENSTORED_PATH" \
        --start-timeout 20000 "$@") >"$out" 2>"$tmp/mx.err" &
    mx_pid=$!
    mx_wait_sockets "$mx_pid"
}

# bench_mx_wait: wait for mockxen to exit; its exit status is the return value.
bench_mx_wait() {
    local rc=0
    wait "$mx_pid" || rc=$?
    mx_pid=
    return $rc
}

# bench_dm_start KIND [extra options]: start the device model KIND (xendm or qemu)
# for domain 1 in the background; $dm_pid is its pid, its stderr goes to $tmp/dm.err,
# the time of its execve to $tmp/dm.t0.
# xendm's UART output is discarded and its input is an idle fifo: a console with
# nothing to say (no EOF, no bytes), so its input handling costs nothing; QEMU gets the machine libxl would give a small
# HVM guest with a null serial line and 128 MiB (extra options come last, and QEMU
# takes the last -m it is given).
bench_dm_start() {
    local kind=$1; shift
    case $kind in
    xendm)
        (XENDM_LOG=warn bench_exec_stamped "$xendm" --domid 1 "$@") <>"$tmp/dm.stdin" \
            >/dev/null 2>"$tmp/dm.err" & ;;
    qemu)
        (bench_exec_stamped "$qemu" -xen-domid 1 -no-shutdown -nodefaults \
            -machine xenfv,max-ram-below-4g=3840M -m 128 -display none -serial null \
            -monitor none "$@") </dev/null >/dev/null 2>"$tmp/dm.err" & ;;
    *)
        echo "bench_dm_start: unknown device model $kind" >&2; return 1 ;;
    esac
    dm_pid=$!
}

# bench_dm_stop: SIGTERM the device model, SIGKILL it if it is still there 10 s later.
bench_dm_stop() {
    [ -n "$dm_pid" ] || return 0
    mx_stop_patiently "$dm_pid" ||
        echo "bench: the device model ignored SIGTERM for 10 s: killed" >&2
    dm_pid=
}

# bench_cpu_ns PID: CPU time (user + system, all threads) PID has used so far, in ns;
# fails (no output) if PID is gone. /proc/PID/task/*/schedstat counts it in ns;
# /proc/PID/stat's utime+stime hold the same time in clock ticks, the fallback where
# schedstat is missing.
bench_cpu_ns() {
    local pid=$1 sum=0 found= run rest f stat
    [ -n "$pid" ] && [ -d /proc/"$pid" ] || return 1
    for f in /proc/"$pid"/task/*/schedstat; do
        read -r run rest 2>/dev/null <"$f" && sum=$((sum + run)) found=1
    done
    if [ -z "$found" ]; then
        read -r stat 2>/dev/null </proc/"$pid"/stat || return 1
        set -- ${stat##*) }          # the fields from the 3rd (state) on
        sum=$(( (${12} + ${13}) * 1000000000 / $(getconf CLK_TCK) ))
    fi
    echo "$sum"
}

# bench_rss_kib PID: resident memory of PID (VmRSS) in KiB, empty if PID is gone.
bench_rss_kib() {
    awk '/^VmRSS:/ { print $2 }' /proc/"$1"/status 2>/dev/null
}

# bench_qmp SOCKET COMMAND...: connect to QEMU's QMP unix socket (waiting up to 20 s
# for it), run each JSON COMMAND in turn and wait for its answer. Fails with a message
# on stderr if a command returns an error.
bench_qmp() {
    python3 - "$@" <<'PY'
import json, socket, sys, time
path, commands = sys.argv[1], sys.argv[2:]
deadline = time.monotonic() + 20
while True:
    try:
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(path)
        break
    except OSError as e:
        sock.close()
        if time.monotonic() > deadline:
            sys.exit("qmp: cannot connect to %s: %s" % (path, e))
        time.sleep(0.01)
stream = sock.makefile("rw")
json.loads(stream.readline())                      # the greeting
for command in commands:
    stream.write(command + "\n")
    stream.flush()
    while True:
        line = stream.readline()
        if not line:
            sys.exit("qmp: %s: QEMU closed the connection" % command)
        answer = json.loads(line)
        if "error" in answer:
            sys.exit("qmp: %s: %s" % (command, answer["error"].get("desc", answer["error"])))
        if "return" in answer:
            break                                  # events are skipped
PY
}

# ---- guest sessions ---------------------------------------------------------------------
# A session is one mockxen run of a guest script with one device model, the guest's
# output read line by line as it comes (so that the shell can sample the device model
# at the moments the guest marks).

# bench_session_start DM [mockxen options] [-- device-model options]: start mockxen
# (output into a fifo, read on fd 4) and the device model DM (xendm, qemu, or null for
# mockxen's own --null-dm, which the caller puts in the options). Fails, with the
# reason in $bench_why, if mockxen did not start; then nothing is left running.
bench_session_start() {
    local dm=$1 mx_args=() fifo=$tmp/guest.fifo
    shift
    while [ $# -gt 0 ] && [ "$1" != -- ]; do mx_args+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    rm -f "$fifo" "$tmp/dm.t0" && mkfifo "$fifo"
    exec 3<>"$fifo"                 # a reader, so that mockxen's open does not block
    if ! bench_mx_start "$fifo" "${mx_args[@]}"; then
        exec 3>&-
        kill "$mx_pid" 2>/dev/null; bench_mx_wait
        bench_why="mockxen did not start: $(head -1 "$tmp/mx.err")"
        return 1
    fi
    exec 4<"$fifo" 3>&-             # from now on EOF means mockxen has exited
    [ "$dm" = null ] || bench_dm_start "$dm" "$@"
}

# bench_read_guest HANDLER LOG: pass each line of the guest's output (fd 4) to
# "HANDLER LINE", with $line_seen the time it arrived, and append it to LOG, until
# mockxen closes it. Gives up (status 1) when the device model exits before the guest
# has said anything, or (status 2) when mockxen says nothing for 120 s.
bench_read_guest() {
    local handler=$1 log=$2 line quiet=0 st
    : >"$log"
    while :; do
        IFS= read -r -t 1 -u 4 line
        st=$? line_seen=$EPOCHREALTIME     # when the line arrived, before any fork
        if [ "$st" = 0 ]; then
            quiet=0
            echo "$line" >>"$log"
            "$handler" "$line"
            continue
        fi
        [ "$st" -gt 128 ] || return 0                           # EOF: mockxen is done
        [ -s "$log" ] || [ -z "$dm_pid" ] || kill -0 "$dm_pid" 2>/dev/null || return 1
        quiet=$((quiet + 1))
        [ "$quiet" -lt 120 ] || return 2
    done
}

# bench_session_end WHY: stop mockxen (if the reader gave up on it) and the device model.
# WHY is bench_read_guest's status. Returns 0 if mockxen says the guest succeeded, else
# 1 with the reason in $bench_why.
bench_session_end() {
    local why=$1 rc=0
    exec 4<&-
    if kill -0 "$mx_pid" 2>/dev/null; then kill "$mx_pid"; fi     # given up on it
    bench_mx_wait || rc=$?
    bench_dm_stop
    case $why in
    1) bench_why="the device model exited before the guest started" ;;
    2) bench_why="mockxen printed nothing for 120 s" ;;
    *) [ "$rc" = 0 ] && return 0
       bench_why="mockxen exit status $rc: $(grep -m1 -i 'error\|fail\|expected' "$tmp/mx.err")" ;;
    esac
    return 1
}

# bench_session_failed BENCH COL GROUP WHY METRIC...: report on stderr that COL's session
# of GROUP failed (with the device model's first messages); its METRICs get WHY.
bench_session_failed() {
    local bench=$1 col=$2 group=$3 why=$4 m
    shift 4
    echo "$bench: $col ($group workloads) failed: $why" >&2
    sed 's/^/  dm: /' "$tmp/dm.err" 2>/dev/null | head -5 >&2
    for m in "$@"; do bench_unavailable "$m" "$col" "$why"; done
}

# ---- figures ----------------------------------------------------------------------------
# Each run's figure for METRIC in column COL (a device model, or fio) is a line of
# $tmp/v/METRIC.COL; why there is none, the first reason given, is $tmp/v/METRIC.COL.na.
mkdir -p "$tmp/v"

# bench_calc EXPR: EXPR evaluated by awk (floating point).
bench_calc() { awk "BEGIN { printf \"%.10g\", ($1) }" </dev/null; }

# bench_record METRIC COL VALUE: one run's figure (an empty VALUE: the sample failed).
bench_record() {
    if [ -n "$3" ]; then echo "$3" >>"$tmp/v/$1.$2"
    else bench_unavailable "$1" "$2" "the sample gave no value"; fi
}

# bench_unavailable METRIC COL WHY: METRIC cannot be measured for COL (the first reason
# stays).
bench_unavailable() { [ -f "$tmp/v/$1.$2.na" ] || echo "$3" >"$tmp/v/$1.$2.na"; }

# bench_stats METRIC COL: "median min max runs" of COL's figures; nothing if none.
bench_stats() {
    [ -s "$tmp/v/$1.$2" ] || return 0
    sort -g "$tmp/v/$1.$2" | awk '
        { v[NR] = $1 }
        END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2), v[1], v[NR], NR }'
}
bench_median() { bench_stats "$1" "$2" | cut -d' ' -f1; }

# bench_summary METRIC COL FORMAT ROUNDS: the table cell, "median (min-max)" in printf
# FORMAT, with the number of runs if fewer than ROUNDS, or "n/a" if there is none.
bench_summary() {
    local med min max runs fmt=$3
    read -r med min max runs <<<"$(bench_stats "$1" "$2")"
    if [ -z "$med" ]; then echo "n/a"; return; fi
    printf "$fmt ($fmt-$fmt" "$med" "$min" "$max"
    [ "$runs" -lt "$4" ] && printf ', %d runs' "$runs"
    echo ")"
}

# bench_na_notes NAME_FN ALL: the reasons behind every n/a, one line per column and
# reason, naming the metrics (or "every workload" when all ALL of them); NAME_FN COL
# prints a column's name. A metric that has figures from some runs is named with "some
# runs": its reason is the first missing run's. A "does not apply" is left out: the
# heading says it.
bench_na_notes() {
    local name_fn=$1 all=$2 f m col
    for f in "$tmp"/v/*.na; do
        [ -f "$f" ] || continue
        m=${f##*/}; m=${m%.*.na}; col=${f%.na}; col=${col##*.}
        [ -s "$tmp/v/$m.$col" ] && m+=" (some runs)"
        [ "$(cat "$f")" = "does not apply" ] && continue
        printf '%s\t%s\t%s\n' "$("$name_fn" "$col")" "$(cat "$f")" "$m"
    done | awk -F'\t' -v all="$all" '
        !(($1 FS $2) in what) { order[++n] = $1 FS $2 }
        { what[$1 FS $2] = what[$1 FS $2] (what[$1 FS $2] == "" ? "" : ", ") $3; count[$1 FS $2]++ }
        END {
            for (i = 1; i <= n; i++) {
                split(order[i], k, FS)
                printf "- %s: n/a (%s): %s\n", k[1], count[order[i]] == all ? "every workload" : what[order[i]], k[2]
            }
        }'
}

# bench_ratio_text A B: A/B for a table ("n/a" without both, or when B is not above 0).
bench_ratio_text() {
    if [ -z "$1" ] || [ -z "$2" ] || [ "$(bench_calc "$2 > 0")" != 1 ]; then echo n/a; return; fi
    awk -v r="$(bench_calc "$1 / $2")" 'BEGIN { printf (r < 0.01 ? "%.2g" : "%.2f"), r }'
}

# ---- bench/results.md ----------------------------------------------------------------------
# The file is a title and one section per benchmark, each between the lines
# "<!-- begin ID -->" and "<!-- end ID -->", so that each benchmark rewrites its own.

# bench_print_section NAME TEXT: under scripts/run-bench.sh, hand TEXT (the table as
# printed) over as the section NAME of `make bench`'s output.
bench_print_section() {
    [ -n "${XENDM_BENCH_SECTIONS:-}" ] && [ -d "$XENDM_BENCH_SECTIONS" ] &&
        echo "$2" >"$XENDM_BENCH_SECTIONS/$1.txt"
    return 0
}

# bench_command SCRIPT: how bench/SCRIPT was started, for its section's heading.
bench_command() {
    if [ -n "${XENDM_BENCH_SECTIONS:-}" ]; then echo "\`make bench\` running bench/$1"
    else echo "\`bash bench/$1\`"; fi
}

# bench_section_head TITLE SCRIPT LOAD: the start of bench/SCRIPT's section: its title,
# where it comes from, the date and the machine (LOAD: the load average before the run).
bench_section_head() {
    echo "## $1"
    echo
    echo "Generated by \`bench/$2\` (run by \`make bench\`); do not edit by hand."
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- machine: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(nproc) cores, Linux $(uname -r); load average $3 before the run"
}

# bench_write_section FILE ID TEXT: put TEXT (a markdown section) into FILE as section ID,
# where the old one was, or at the end.
bench_write_section() {
    local file=$1 id=$2 new=$tmp/section.md
    { echo "<!-- begin $id -->"; echo "$3"; echo "<!-- end $id -->"; } >"$new"
    [ -s "$file" ] || printf '# Benchmark results\n\nWritten by `make bench`; each section by the benchmark it names. Do not edit by hand.\n' >"$file"
    awk -v id="$id" -v new="$new" '
        function put(  l) { while ((getline l <new) > 0) print l; placed = 1 }
        $0 == "<!-- begin " id " -->" { skip = 1; put(); next }
        skip && $0 == "<!-- end " id " -->" { skip = 0; next }
        !skip { print }
        END { if (!placed) { print ""; put() } }' "$file" >"$file.new" && mv "$file.new" "$file"
}
