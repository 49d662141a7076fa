#!/usr/bin/env bash
# i-PI example 1: water PIMD (8 beads) with tensorml forces and per-bead dipole, BEC, polarizability.
# Usage: ./run.sh [model.pt]     (after `tensorml export reference -o model.pt` here)
# Environment: DEVICE (default auto: cuda if available), THREADS (torch CPU threads per client;
# default: torch's choice), CLIENTS (default 1; with 2, set <batch_size>4</batch_size> in
# input.xml so that both get work).
set -u
cd "$(dirname "$0")"
source ./supervise.sh
model=${1:-model.pt}
address=tensorml-water
rm -f "/tmp/ipi_$address" EXIT RESTART water.* \#*\#  # the last run's outputs (i-PI would keep them as #name#N#)
start_server input.xml
driver=(tensorml-ipi --model "$model" --template init.extxyz --unix "$address" --device "${DEVICE:-auto}" --threads "${THREADS:-0}")
if [ "${CLIENTS:-1}" -gt 1 ]; then
    start_client tensorml-ipi mpirun -np "$CLIENTS" "${driver[@]}"
else
    start_client tensorml-ipi "${driver[@]}"
fi
supervise || exit $?
tail -n 3 water.out
