#!/usr/bin/env bash
# i-PI example 2: water PIMD (8 beads) with q-TIP4P/F forces from LAMMPS (fix ipi) and tensorml
# properties (dipole, BEC, polarizability of every bead) from tensorml-ipi --properties-only.
# Usage: ./run.sh [model.pt]     (default ../model.pt; `tensorml export reference -o ../model.pt`)
# Environment: DEVICE (default auto), THREADS (torch CPU threads; default: torch's choice).
set -u
cd "$(dirname "$0")"
source ../supervise.sh
model=${1:-../model.pt}
rm -f /tmp/ipi_qtip4pf-lammps /tmp/ipi_qtip4pf-tensorml EXIT RESTART qtip4pf.* log.lammps \#*\#
start_server input.xml
wait_for_socket qtip4pf-lammps || exit 1
start_client lammps lmp -in in.qtip4pf -log log.lammps
start_client tensorml-ipi tensorml-ipi --model "$model" --template ../init.extxyz --unix qtip4pf-tensorml \
    --properties-only --extras dipole,BEC,polarizability --device "${DEVICE:-auto}" --threads "${THREADS:-0}"
supervise || exit $?
tail -n 3 qtip4pf.out
