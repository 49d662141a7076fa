#!/usr/bin/env bash
# i-PI example 3: field-driven ring-polymer dynamics (eda-nve, 8 beads) with tensorml forces and
# Born effective charges (the field couples through the BEC of every bead, every step).
# Usage: ./run.sh [model.pt]     (default ../model.pt; `tensorml export reference -o ../model.pt`)
# Environment: DEVICE (default auto), THREADS (torch CPU threads; default: torch's choice).
set -u
cd "$(dirname "$0")"
source ../supervise.sh
model=${1:-../model.pt}
rm -f /tmp/ipi_efield-tensorml EXIT RESTART efield.* \#*\#
start_server input.xml
start_client tensorml-ipi tensorml-ipi --model "$model" --template ../init.extxyz --unix efield-tensorml \
    --extras dipole,BEC --device "${DEVICE:-auto}" --threads "${THREADS:-0}"
supervise || exit $?
tail -n 3 efield.out
