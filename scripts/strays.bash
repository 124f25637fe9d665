# scripts/strays.bash — find the processes a test or benchmark run started, wherever
# they went, and stop them when the run ends.
#
# Runs start programs in the background directly, under env or timeout, or inside a
# subshell. Killing a saved pid misses a program behind a wrapper that did not exec it
# ($! of `func &` is a subshell, not the program the function starts), and a program
# whose parent went first is re-parented to init, out of reach of any walk down the
# process tree. What every one of them keeps is the environment it was started with:
# a run exports a mark, XENDM_RUN_MARK, and whatever it starts carries it. (A program
# that clears its environment is not found.)
#
# Marks nest: a run started inside a marked run gets OUTER/PID, so a search for OUTER
# also finds what the inner run started. Marks hold only digits, '-' and '/'.
#
#   run_guard          mark this shell (nested in an inherited mark) and, when it exits,
#                      run the at_exit commands, then stop its background jobs and
#                      every process still carrying its mark (they are named on stderr).
#                      Once per shell; $run_mark is the mark.
#   at_exit COMMAND    eval COMMAND when the guarded shell exits (in the order given);
#                      scripts use this, not `trap ... EXIT`, which would replace the guard
#   run_strays MARK    "PID COMMAND LINE", a line each, of the live processes carrying
#                      MARK or a mark nested in it
#   run_strays_wait MARK SECONDS   wait up to SECONDS for them to exit on their own;
#                      fails if some are still there
#   run_strays_stop MARK   SIGTERM them, SIGKILL what is still there 5 s later
#   run_strays_left MARK   after the run of MARK has ended: give what it started 5 s
#                      to exit on its own, then print (as run_strays does) and stop
#                      what is still there; fails if there was any
#
# Ownership: a process's /proc/PID/environ is the environment it was exec'd with, so a
# guarded shell itself (and a forked copy of it, a subshell) carries the mark it
# inherited, not its own: its search never finds itself or its ancestors.
[ "${BASH_SOURCE[0]}" != "$0" ] || exit 0      # a library: nothing to run on its own

run_strays() {
    local f pid args
    # The listing grep must not carry the mark it looks for.
    for f in $(XENDM_RUN_MARK= grep -lsz "^XENDM_RUN_MARK=$1\(/.*\)\?$" /proc/[0-9]*/environ); do
        pid=${f#/proc/} pid=${pid%/environ}
        mapfile -d '' args 2>/dev/null </proc/"$pid"/cmdline || continue
        [ ${#args[@]} -gt 0 ] && echo "$pid ${args[*]}"   # none: it has just exited
    done
}

# _run_stray_pids MARK: the pids of run_strays MARK, on one line.
_run_stray_pids() {
    local line pids=()
    while read -r line; do pids+=("${line%% *}"); done < <(run_strays "$1")
    echo "${pids[*]}"
}

run_strays_wait() {
    local mark=$1 tenths=$(($2 * 10))
    while [ -n "$(_run_stray_pids "$mark")" ]; do
        [ "$tenths" -gt 0 ] || return 1
        tenths=$((tenths - 1))
        sleep 0.1
    done
}

run_strays_stop() {
    local pids
    pids=$(_run_stray_pids "$1")
    [ -n "$pids" ] || return 0
    kill -TERM $pids 2>/dev/null
    run_strays_wait "$1" 5 && return 0
    pids=$(_run_stray_pids "$1")
    [ -z "$pids" ] || kill -KILL $pids 2>/dev/null
}

run_strays_left() {
    run_strays_wait "$1" 5 && return 0
    run_strays "$1"
    run_strays_stop "$1"
    return 1
}

at_exit() { _run_at_exit+=("$1"); }

run_guard() {
    [ "${_run_guarded:-}" = "$BASHPID" ] && return 0
    _run_guarded=$BASHPID _run_at_exit=()
    if [ -n "${XENDM_RUN_MARK:-}" ]; then
        run_mark=$XENDM_RUN_MARK/$BASHPID
    else
        run_mark=$BASHPID-$EPOCHSECONDS
    fi
    export XENDM_RUN_MARK=$run_mark
    trap _run_guard_exit EXIT
}

_run_guard_exit() {
    # A background job killed before it exec'd its program is a copy of this shell
    # and would run the trap too: only the guarded shell cleans up.
    [ "$BASHPID" = "$_run_guarded" ] || return 0
    local c strays
    for c in "${_run_at_exit[@]}"; do eval "$c"; done
    # Jobs that are still subshells do not carry this shell's mark; their programs do.
    kill $(jobs -p) 2>/dev/null
    strays=$(run_strays "$run_mark")
    if [ -n "$strays" ]; then
        echo "$strays" | sed 's/^/stopping at exit: /' >&2
        run_strays_stop "$run_mark"
    fi
}
