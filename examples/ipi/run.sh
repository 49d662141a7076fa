#!/usr/bin/env bash
# Run the i-PI example: the i-PI server and the tensorml driver, connected by a unix socket.
# Usage: ./run.sh [model.pt]   (after `tensorml export reference -o model.pt`)
set -euo pipefail
cd "$(dirname "$0")"
model=${1:-model.pt}
rm -f /tmp/ipi_tensorml-water EXIT RESTART
i-pi input.xml > ipi.log 2>&1 &
server=$!
tensorml-ipi --model "$model" --template init.extxyz --unix tensorml-water &
driver=$!
wait "$server"; status=$?
wait "$driver" || true
tail -n 3 water.out
exit $status
