"""The explicit-electron machine-learning potential (eMLP) of the eMLP seed (Cools-Ceuppens et al.).

Atomic cores and valence electron pairs are particles with fixed charges (:mod:`.particles`);
the energy (eq. 3) is a SchNet short range (:mod:`.schnet`) plus Gaussian-charge electrostatics,
self energy and external field (:mod:`.electrostatics`, :mod:`.ewald`), composed in
:class:`.model.EMLPModel` (TorchScript export in :mod:`.export`).  Pairs are relaxed at fixed
cores (eq. 4, :mod:`.relax`, batched over structures on the model's device,
:mod:`.batch`) from a Lewis guess (:mod:`.lewis`) or a warm start
(:mod:`.warmstart`); response properties come from autograd Hessians (appendix A,
:mod:`.response`); training uses eq. 31 (:mod:`.cost`, :mod:`.train`) with eq. 32 references
(:mod:`.reference`) and eq. 30 / appendix B augmentation (:mod:`.augment`).  See docs/emlp.md.
"""

from .model import EMLPModel, build_config
from .relax import RelaxationError, RelaxResult, Structure, optimize_structure, relax_pairs, relax_pairs_batch

__all__ = [
    "EMLPModel",
    "build_config",
    "RelaxationError",
    "RelaxResult",
    "Structure",
    "optimize_structure",
    "relax_pairs",
    "relax_pairs_batch",
]
