#!/usr/bin/env bash
# Make (or resume) every shipped dataset, one after the other, niced, on all cores.
#   bash data/scripts/make_all.sh            # from the repository root
# Every step is resumable or skipped when its output exists, so rerunning after an
# interruption continues where it stopped.  Logs: data/work/*.log.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python}
TML=("$PY" -m tensorml.cli)
mkdir -p data/work
run() { nice -n 19 "$@"; }

# structures first (seeded, deterministic), then the frames already shipped in data/ are
# copied back into data/work/ (seed_work.py checks them against the structures), so that
# labelling in a fresh clone resumes after the shipped frames instead of starting over
[ -s data/work/water_clusters_structures.extxyz ] || run "$PY" data/scripts/make_water_clusters.py sample
[ -s data/work/emlp_hessians.npz ] || run "$PY" data/scripts/make_emlp_molecules.py prepare
[ -s data/work/emlp_structures.extxyz ] || run "$PY" data/scripts/make_emlp_molecules.py sample
[ -s data/work/emlp_equilibrium_structures.extxyz ] || run "$PY" data/scripts/make_emlp_molecules.py equilibrium
[ -s data/work/nma_reference.npz ] || run "$PY" data/scripts/make_nma.py prepare >> data/work/nma_prepare.log 2>&1
[ -s data/work/nma_structures.extxyz ] || run "$PY" data/scripts/make_nma.py sample
run "$PY" data/scripts/seed_work.py

# 1. water clusters (B3LYP/aug-cc-pVDZ, all labels + field frames)
run "${TML[@]}" label data/work/water_clusters_structures.extxyz -o data/work/water_clusters.extxyz \
    --method B3LYP --basis aug-cc-pVDZ --field-frames data/work/water_clusters_fields.extxyz \
    >> data/work/water_label.log 2>&1

# 3. eMLP molecules under random fields (PBE0/aug-cc-pVDZ)
run "${TML[@]}" label data/work/emlp_structures.extxyz -o data/work/emlp_molecules.extxyz \
    --method PBE0 --basis aug-cc-pVDZ --properties energy,forces,dipole,electron_pairs \
    >> data/work/emlp_label.log 2>&1
run "${TML[@]}" label data/work/emlp_equilibrium_structures.extxyz -o data/work/emlp_equilibrium.extxyz \
    --method PBE0 --basis aug-cc-pVDZ --properties energy,forces,dipole,polarizability,electron_pairs \
    >> data/work/emlp_label.log 2>&1

# 2. N-methylacetamide (B3LYP/cc-pVDZ, dipole + polarizability)
run "${TML[@]}" label data/work/nma_structures.extxyz -o data/work/nma.extxyz \
    --method B3LYP --basis cc-pVDZ --properties energy,dipole,polarizability \
    >> data/work/nma_label.log 2>&1

run "$PY" data/scripts/finalize.py
