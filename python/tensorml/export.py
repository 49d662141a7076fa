"""Export a physics model to the contract: a TorchScript archive with its metadata inside.

The metadata travel as the extra file ``metadata.json`` of the archive, where
``torch.jit.load(..., _extra_files=...)`` (Python) and ``torch::jit::load(path,
device, extra_files)`` (C++) read them without running any model code.  A
future ``.pt2`` (torch.export/AOTInductor) exporter stores the same JSON and the
same input/output dictionaries; engines do not change.
"""

from __future__ import annotations

from pathlib import Path

import torch

from . import archive, contract
from .contract_module import ContractModule
from .models.base import PerAtomModel

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def contract_module(model: PerAtomModel, dtype: str = "float64") -> ContractModule:
    """The eager contract module of ``model`` in ``dtype`` (what gets scripted)."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    module = ContractModule(model).to(DTYPES[dtype])
    return module


def model_metadata(model: PerAtomModel, dtype: str, description: str = "") -> dict:
    return contract.build_metadata(
        model_type=model.model_type,
        species=model.species,
        cutoff=model.cutoff,
        message_passing_layers=model.message_passing_layers,
        outputs=model.contract_outputs(),
        dtype=dtype,
        description=description,
        overrides=model.output_overrides(),
        extra={"model_config": model.config(), **model.metadata_extra()},
        min_distance=getattr(model, "min_distance", None),
        halo=getattr(model, "halo", None),
    )


def export_model(model: PerAtomModel, path: str | Path, dtype: str = "float64", description: str = "") -> dict:
    """Script ``model`` inside the contract module and write it to ``path``; return the metadata."""
    module = contract_module(model, dtype)
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)  # inference graphs are built on positions only
    scripted = torch.jit.script(module)
    return archive.save_scripted(scripted, path, model_metadata(model, dtype, description))
