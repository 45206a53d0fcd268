# Sourced by the scripts that call mpirun. Open MPI refuses to run as root unless told to; these
# variables say so, and are set only when the user really is root (containers, CI machines).
if [ "$(id -u)" -eq 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
