"""Write and read eMLP models as TorchScript files with their metadata.

The file is ``torch.jit.script(EMLPModel)`` saved with an extra file ``metadata.json``
(format ``tensorml-emlp``), read without running model code.  Its ``forward(core_positions
[N,3], core_numbers [N] int64, pair_positions [M,3], cell [3,3], pbc [3] bool, efield [3])``
returns the energy; units are angstrom, eV, e and V/angstrom.  ``model_config`` rebuilds the
Python model (:func:`load_emlp_model`), e.g. to continue training.

Deprecated: ``tensorml train-emlp`` writes contract format 3 (:func:`export_contract`), which every
engine reads; ``tensorml-emlp`` files are read for this release with a ``FutureWarning`` and
converted by ``tensorml export OLD -o NEW`` (:func:`convert_to_contract`). :func:`export_emlp` stays
only to write such files for the converter's tests. LAMMPS refuses them, naming the converter.
"""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path

import torch

from .. import __version__, archive
from .model import EMLPModel

FORMAT = "tensorml-emlp"
FORMAT_VERSION = 1
_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def metadata(model: EMLPModel, dtype: str) -> dict:
    from ase.data import chemical_symbols

    species = [int(z) for z in model.config["species"]]
    reference = {str(z): float(model.reference_table[z]) for z in species}
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_type": "emlp",
        "description": "explicit-electron machine-learning potential (eMLP): SchNet + Gaussian electrostatics",
        "model_config": model.config,
        "reference_energies": reference,
        "species": species,
        "species_symbols": [chemical_symbols[z] for z in species],
        "cutoff": float(model.short_range.cutoff),
        "gamma": float(model.gamma),
        "units": {"length": "angstrom", "energy": "eV", "charge": "e", "efield": "V/angstrom"},
        "dtype": dtype,
        "inputs": ["core_positions", "core_numbers", "pair_positions", "cell", "pbc", "efield"],
        "outputs": {"energy": "eV"},
        "tensorml_version": __version__,
    }


def export_emlp(model: EMLPModel, path, dtype: str = "float64") -> dict:
    """Script ``model`` in ``dtype`` (float32/float64) and save it with metadata; returns the metadata."""
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be float32 or float64, not {dtype!r}")
    clone = copy.deepcopy(model).to(_DTYPES[dtype]).eval()
    scripted = torch.jit.script(clone)
    return archive.save_scripted(scripted, path, metadata(model, dtype))


def read_metadata(path) -> dict:
    """The metadata of an eMLP file; ``ValueError`` if it is not one."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model file {path} does not exist")
    extra = {"metadata.json": ""}
    try:
        torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    except RuntimeError as err:
        raise ValueError(f"{path} is not a TorchScript file: {err}") from None
    if not extra["metadata.json"]:
        raise ValueError(f"{path} has no metadata.json: not a tensorml model")
    meta = json.loads(extra["metadata.json"])
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} is a {meta.get('format')!r} file, not an eMLP model ({FORMAT!r})")
    if int(meta.get("format_version", 0)) > FORMAT_VERSION:
        raise ValueError(f"{path} has eMLP format version {meta['format_version']}, newer than {FORMAT_VERSION}")
    archive.verify(path, meta)
    return meta


def load_emlp(path):
    """(module, metadata) of an eMLP file: the TorchScript module of a ``tensorml-emlp`` file, or the
    :class:`EMLPModel` rebuilt from a contract file with explicit electrons (format 3; its metadata then
    in the ``tensorml-emlp`` form, with ``contract_format_version``), so that the whole-system engines
    read both."""
    raw = archive.read_metadata(path) if archive.is_model_file(path) else {}
    if "explicit_electrons" in raw:
        model = _emlp_from_contract(path, raw)
        meta = dict(metadata(model, raw["dtype"]), contract_format_version=raw["format_version"])
        return model, meta
    meta = read_metadata(path)
    warnings.warn(
        f"{path} is in the old eMLP format {FORMAT!r}, read for this release only: convert it with "
        f"'tensorml export {path} -o NEW.pt' (contract format 3, which LAMMPS reads too)",
        FutureWarning,
        stacklevel=2,
    )
    module = torch.jit.load(str(path), map_location="cpu")
    return module, meta


def _emlp_from_contract(path, raw: dict) -> EMLPModel:
    """The eMLP of a format-3 contract file: its SchNet weights and reference energies, Gaussian electrostatics."""
    from ..runtime import ExportedModel

    exported = ExportedModel.load(path)  # checks the format, the metadata and the payload checksum
    config = raw["model_config"]["emlp"]
    model = EMLPModel(config)
    state = exported.module.state_dict()
    prefix = "model.short_range."
    model.short_range.load_state_dict(
        {k[len(prefix) :]: v.to(torch.float64) for k, v in state.items() if k.startswith(prefix)}
    )
    species = [int(z) for z in raw["species"]]  # contract order: X first, then the elements
    reference = state["model.reference_table"].tolist()
    model.set_reference_energies({z: reference[k] for k, z in enumerate(species) if z != 0})
    return model


def load_emlp_model(path) -> EMLPModel:
    """Rebuild the Python :class:`EMLPModel` (weights included) from an eMLP file (either format)."""
    module, meta = load_emlp(path)
    if isinstance(module, EMLPModel):
        return module
    model = EMLPModel(meta["model_config"])
    state = {k: v.to(torch.float64) if v.is_floating_point() else v for k, v in module.state_dict().items()}
    model.load_state_dict(state)
    return model


def export_contract(model: EMLPModel, path, dtype: str = "float64", long_range: str = "point_charges") -> dict:
    """Write ``model`` as a contract model with explicit electrons (format 3, docs/model-contract.md):
    the short-range part of :mod:`tensorml.emlp.contract_model`; engines add the long range of the kind
    ``long_range`` (point charges: molecules and cells; gaussian_kspace: cells, cheaper in LAMMPS)."""
    from ..export import export_model
    from .contract_model import from_emlp

    description = (
        "explicit-electron MLP (eMLP): SchNet + Gaussian-minus-point Coulomb + self + field; electron pairs "
        "are particles X (-2 e) relaxed by the engine, point-charge long range by the engine"
    )
    return export_model(from_emlp(model, long_range=long_range), path, dtype=dtype, description=description)


def convert_to_contract(source, output, dtype: str | None = None, long_range: str = "point_charges") -> dict:
    """``tensorml export EMLP.pt -o NEW.pt [--long-range KIND]``: a ``tensorml-emlp`` file as a contract
    model, or a format-3 file in another long-range form."""
    meta = archive.read_metadata(source)
    return export_contract(load_emlp_model(source), output, dtype or meta.get("dtype", "float64"), long_range)
