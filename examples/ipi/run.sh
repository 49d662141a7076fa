#!/usr/bin/env bash
# i-PI example 1: water PIMD (8 beads) with tensorml forces and per-bead dipole, BEC, polarizability.
# Usage: ./run.sh [model.pt]     (after `tensorml export reference -o model.pt` here)
# Environment: DEVICE (default auto: cuda if available), THREADS (torch CPU threads per client;
# default: torch's choice), CLIENTS (default 1; with 2, set <batch_size>4</batch_size> in
# input.xml so that both get work), RESUME (a file i-PI wrote: RESTART at a soft exit or the
# end, or a <checkpoint> added to input.xml, which also survives a kill; the run continues from
# it, i-PI appends to the outputs, which are kept; raise <total_steps> in it to run longer).
set -u
cd "$(dirname "$0")"
source ./supervise.sh
model=${1:-model.pt}
address=tensorml-water
# a socket file left by a killed i-PI: i-PI refuses to start on it, and drivers would wait on it
rm -f "/tmp/ipi_$address" EXIT  # EXIT: i-PI's soft-exit file would stop the new run at once
if [ -n "${RESUME:-}" ]; then
    [ -f "$RESUME" ] || { echo "RESUME=$RESUME: no such file" >&2; exit 2; }
    start_server "$RESUME"  # log in ${RESUME%.xml}.log
else
    rm -f RESTART water.* \#*\#  # the last run's outputs (i-PI would keep them as #name#N#)
    start_server input.xml
fi
driver=(tensorml-ipi --model "$model" --template init.extxyz --unix "$address" --device "${DEVICE:-auto}" --threads "${THREADS:-0}")
if [ "${CLIENTS:-1}" -gt 1 ]; then
    start_client tensorml-ipi mpirun -np "$CLIENTS" "${driver[@]}"
else
    start_client tensorml-ipi "${driver[@]}"
fi
supervise || exit $?
tail -n 3 water.out
