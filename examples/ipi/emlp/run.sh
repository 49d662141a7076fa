#!/usr/bin/env bash
# i-PI example 4: methanol PIMD (4 beads) with the shipped eMLP: electron pairs relaxed per bead and step.
# Usage: ./run.sh [model.pt]     (default: the shipped model, ../../../models/emlp/model.pt)
# Environment: THREADS (torch CPU threads of the client; default 1). eMLP relaxations run on the CPU.
set -u
cd "$(dirname "$0")"
source ../supervise.sh
model=${1:-../../../models/emlp/model.pt}
address=tensorml-emlp
rm -f "/tmp/ipi_$address" EXIT RESTART methanol.* \#*\#
start_server input.xml
start_client tensorml-ipi tensorml-ipi --model "$model" --template init.extxyz --unix "$address" --device cpu \
    --threads "${THREADS:-1}"
supervise || exit $?
tail -n 3 methanol.out
