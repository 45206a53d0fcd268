# Sourced by the Launch/ scripts: runs an mpirun command so that a scheduler's stop signal ends a
# training run with a checkpoint and exit status 0 instead of a killed job.
#
# run_stoppable COMMAND [ARGS...]
#   Starts COMMAND (an mpirun command line) in the background and waits for it. SIGTERM, SIGINT
#   and SIGUSR1 sent to this script are turned into SIGUSR1 for mpirun, which forwards it to every
#   rank; fgaseg-train then checkpoints at the next iteration boundary and exits 0.
#
#   When mpirun itself is signalled (the scheduler signals every process of the job: PBS qdel and
#   walltime, Slurm scancel; a Ctrl-C in a terminal; kill of mpirun), Open MPI ends the job on its
#   own: SIGCONT to every rank at once — which fgaseg-train takes as a stop request — then SIGTERM
#   after odls_base_sigkill_timeout seconds and SIGKILL as long after that. The timeout is set
#   here to half of FGASEG_STOP_GRACE (default 300 s, so ranks are killed 300 s after mpirun was
#   signalled; Open MPI's own default is 1 s, i.e. 2 s). mpirun exits 1 in that case even when
#   the ranks stopped cleanly; fgaseg-train's rank 0 writes its end state into FGASEG_STATUS_FILE
#   (exported here, passed to the ranks with -x), so this function returns 0 when it says the
#   ranks stopped or finished, whatever mpirun's status.
#
#   Sets STOP_SIGNAL to the first signal received (empty when none) and returns the job's status.
run_stoppable() {
    local grace="${FGASEG_STOP_GRACE:-300}"
    export OMPI_MCA_odls_base_sigkill_timeout="$(( (grace + 1) / 2 ))"
    export FGASEG_STATUS_FILE="${FGASEG_STATUS_FILE:-${TMPDIR:-/tmp}/fgaseg-status-$$.json}"
    rm -f "$FGASEG_STATUS_FILE"
    STOP_SIGNAL=
    "$@" &
    local job=$! status=0
    forward() {
        [ -n "$STOP_SIGNAL" ] || STOP_SIGNAL=$1
        echo "$1 received: asking the ranks to write a checkpoint at the next iteration boundary and stop" >&2
        kill -USR1 "$job" 2>/dev/null || true
    }
    trap 'forward SIGTERM' TERM
    trap 'forward SIGINT' INT
    trap 'forward SIGUSR1' USR1
    while true; do
        status=0
        wait "$job" || status=$?
        # wait returns early (status > 128) when a trapped signal arrives; keep waiting for mpirun.
        kill -0 "$job" 2>/dev/null || break
    done
    trap - TERM INT USR1
    # mpirun exits 1 when it was signalled itself (directly, or with the whole process group),
    # even when every rank checkpointed and exited 0; the ranks' own status file says so.
    if [ "$status" -ne 0 ] && grep -qE '"state":"(stopped|finished)"' "$FGASEG_STATUS_FILE" 2>/dev/null; then
        echo "mpirun exited $status${STOP_SIGNAL:+ after $STOP_SIGNAL}, but the ranks stopped cleanly: $(cat "$FGASEG_STATUS_FILE")" >&2
        status=0
    fi
    rm -f "$FGASEG_STATUS_FILE"
    return "$status"
}
