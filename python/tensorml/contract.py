"""The tensorml model contract: names, shapes, units and metadata of an exported model.

One exported module serves LAMMPS (the atoms of one MPI rank, local then ghost),
the i-PI driver and Python (whole systems, several at once).  It is called as

    outputs = module(inputs: Dict[str, Tensor], requested: List[str]) -> Dict[str, Tensor]

with the inputs of :data:`INPUTS` and returns at least the requested names of
:data:`OUTPUTS`.  Everything an engine needs to drive it generically (which
outputs exist, their shape, units, and how ghost-atom parts combine across MPI
ranks) is in the metadata dictionary stored next to the module.  The full text
is ``docs/model-contract.md``; this module is its executable form, used by the
exporter, the Python runtime and the tests.  The C++ pair style reads the same
metadata keys.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

from . import units as U

FORMAT_NAME = "tensorml-model"
#: Bumped when an engine written for an older version could misread a newer file.
#: 2: dimensions have four exponents (length, energy, charge, time) and ``units`` names a time
#: unit; version-1 files are read through :func:`upgrade_metadata`.
#: 3: explicit-electron models (an ``explicit_electrons`` table: electron pairs as particles of
#: the pseudo-species X, relaxed by the engine). Tensor models are still written as version 2.
FORMAT_VERSION = 3
#: The keys of the ``explicit_electrons`` table and of its sub-tables.
EXPLICIT_ELECTRON_KEYS = {
    "species": None,
    "charge": None,
    "particle_charges": None,
    "relaxation": ("fmax", "max_step", "max_iterations", "collapse_distance", "escape_distance"),
    "long_range": ("kind", "gaussian_gamma", "correction_cutoff", "coulomb_constant"),
}
#: Closest approach of two atoms (angstrom) below which engines stop instead of evaluating, unless
#: a model's metadata sets its own ``min_distance`` (model length units): far below any bond length
#: in training data, where a learned model's output is meaningless (two atoms on top of each other).
DEFAULT_MIN_DISTANCE_ANGSTROM = 0.1

#: Name of the metadata file stored inside the model archive.
METADATA_FILE = "metadata.json"


@dataclass(frozen=True)
class InputSpec:
    name: str
    shape: str
    dtype: str  # "float" (the model dtype), "int64" or "bool"
    dim: U.Dimension
    doc: str


INPUTS: dict[str, InputSpec] = {
    s.name: s
    for s in [
        InputSpec(
            "positions",
            "[N,3]",
            "float",
            U.LENGTH,
            "Cartesian positions; local atoms first, then ghost/environment atoms.",
        ),
        InputSpec("atomic_numbers", "[N]", "int64", U.DIMENSIONLESS, "Atomic numbers Z."),
        InputSpec(
            "cell",
            "[B,3,3]",
            "float",
            U.LENGTH,
            "Cell of each system, rows are lattice vectors (zeros if not periodic).",
        ),
        InputSpec("pbc", "[B,3]", "bool", U.DIMENSIONLESS, "Periodicity along each lattice vector."),
        InputSpec(
            "edge_index",
            "[2,E]",
            "int64",
            U.DIMENSIONLESS,
            "Directed neighbour pairs (i, j), both directions present, |r_ij| < cutoff.",
        ),
        InputSpec(
            "edge_shifts",
            "[E,3]",
            "float",
            U.LENGTH,
            "Cartesian shifts: r_ij = positions[j] - positions[i] + edge_shifts.",
        ),
        InputSpec("batch", "[N]", "int64", U.DIMENSIONLESS, "System index of each atom, 0..B-1."),
        InputSpec(
            "n_local",
            "[]",
            "int64",
            U.DIMENSIONLESS,
            "Atoms 0..n_local-1 are local; global outputs sum over local atoms only.",
        ),
        InputSpec("efield", "[B,3]", "float", U.EFIELD, "Uniform external electric field per system."),
        InputSpec(
            "velocities",
            "[N,3]",
            "float",
            U.VELOCITY,
            "Optional: velocities (model length per model time unit); needed by dmdt and apt_velocity.",
        ),
    ]
}


@dataclass(frozen=True)
class OutputSpec:
    """One named output.

    ``per_atom``: shape [N, *shape] (else [B, *shape]).
    ``ghost``: for per-atom outputs, how the entries of ghost atoms combine
    across MPI domains: ``"sum"`` for derivatives with respect to positions
    (they are added onto the owning atom, LAMMPS reverse communication) or
    ``"local"`` for per-atom values (ghost entries are discarded).  Global
    outputs are sums over local atoms, so engines sum them over ranks.
    ``source``: the output this one is the derivative of (computed by autograd).
    ``reduction``: for global outputs, ``"sum"`` (a sum of per-atom contributions over
    local atoms: engines sum it over MPI ranks) or ``"system"`` (formed by the model
    from the whole system, e.g. products of global sums: defined only when an engine
    passes whole systems; LAMMPS does not report it).
    ``ghost`` and ``reduction`` may be overridden by a model where :data:`ALTERNATIVES`
    allows it (an APT predicted directly per atom is ``"local"``, not a derivative).
    """

    name: str
    per_atom: bool
    shape: tuple[int, ...]
    dim: U.Dimension
    ghost: str
    doc: str
    source: str | None = None
    reduction: str = "sum"
    needs: tuple[str, ...] = ()
    per_atom_form: str | None = None

    def to_json(self, unit_system: U.UnitSystem, **overrides: str) -> dict[str, Any]:
        spec = {
            "per_atom": self.per_atom,
            "shape": list(self.shape),
            "dimension": self.dim.as_list(),
            "unit": unit_system.unit_name(self.dim),
            "ghost": self.ghost,
        }
        if not self.per_atom:
            spec["reduction"] = self.reduction
        if self.source:
            spec["source"] = self.source  # an autograd derivative of (or formed from) this output
        if self.needs:
            spec["needs"] = list(self.needs)  # optional inputs this output requires
        if self.per_atom_form:
            spec["per_atom_form"] = self.per_atom_form  # per-atom output that sums to this one
        for key, value in overrides.items():
            if value not in ALTERNATIVES.get((self.name, key), ()):
                raise MetadataError(f"output {self.name!r} cannot have {key}={value!r}")
            if value is None:
                spec.pop(key, None)
            else:
                spec[key] = value
        return spec


#: The contract's outputs, in the order metadata lists them and engines report them.
OUTPUTS: dict[str, OutputSpec] = {
    s.name: s
    for s in [
        OutputSpec("energy", False, (), U.ENERGY, "none", "Potential energy (sum over local atoms)."),
        OutputSpec("forces", True, (3,), U.FORCE, "sum", "-dE/dr on all N atoms.", "energy"),
        OutputSpec(
            "virial",
            False,
            (3, 3),
            U.ENERGY,
            "none",
            "-dE/d(strain), positions and shifts strained as r -> r + r.strain.",
            "energy",
        ),
        OutputSpec("dipole", False, (3,), U.DIPOLE, "none", "Total dipole moment M (sum over local atoms)."),
        OutputSpec(
            "polarizability",
            False,
            (3, 3),
            U.POLARIZABILITY,
            "none",
            "Polarizability volume alpha/(4 pi eps0) (sum over local atoms).",
        ),
        OutputSpec(
            "dmdt",
            False,
            (3,),
            U.DIPOLE_RATE,
            "none",
            "Dipole time derivative dM/dt = sum_i APT_i v_i (APTNN seed eqs. 2-4); one "
            "Jacobian-vector product when the APTs are not requested.",
            "dipole",
            needs=("velocities",),
            per_atom_form="apt_velocity",
        ),
        OutputSpec("apt", True, (3, 3), U.CHARGE, "sum", "Atomic polar tensor apt[i, a, b] = dM_a / dr_ib.", "dipole"),
        OutputSpec(
            "apt_velocity",
            True,
            (3,),
            U.DIPOLE_RATE,
            "sum",
            "Per-atom APT_i v_i (its sum over atoms is dM/dt).",
            "dipole",
            needs=("velocities",),
        ),
        OutputSpec("charges", True, (), U.CHARGE, "local", "Atomic charges."),
        OutputSpec(
            "atomic_dipoles", True, (3,), U.DIPOLE, "local", "Atomic dipoles (the part of M not carried by charges)."
        ),
        OutputSpec("atomic_energies", True, (), U.ENERGY, "local", "Per-atom energy contributions."),
        OutputSpec(
            "transition_dipole",
            False,
            (3,),
            U.DIPOLE,
            "none",
            "Transition dipole moment (EANN seed eqs. 7-8), sign arbitrary.",
            reduction="system",
        ),
    ]
}

#: Allowed values of ``ghost``/``reduction`` per output, besides the contract default.
ALTERNATIVES: dict[tuple[str, str], tuple[str, ...]] = {
    ("apt", "ghost"): ("sum", "local"),
    ("apt", "source"): ("dipole", None),  # None: predicted directly
    ("apt_velocity", "ghost"): ("sum", "local"),
    ("apt_velocity", "source"): ("dipole", "apt"),
    ("dmdt", "source"): ("dipole", "apt"),
    ("dipole", "reduction"): ("sum", "system"),
    ("polarizability", "reduction"): ("sum", "system"),
    ("transition_dipole", "reduction"): ("system",),
}

#: Global outputs a physics model may give as per-atom contributions (summed over local atoms).
GLOBAL_SUMS = ("energy", "dipole", "polarizability")
#: Derived outputs and the output they come from by default (autograd or contraction).
DERIVATIVES = {name: spec.source for name, spec in OUTPUTS.items() if spec.source}


class MetadataError(ValueError):
    """A model file's metadata is missing, malformed or incompatible."""


def build_metadata(
    *,
    model_type: str,
    species: list[int],
    cutoff: float,
    message_passing_layers: int,
    outputs: list[str],
    dtype: str,
    unit_system: U.UnitSystem = U.METAL,
    description: str = "",
    overrides: Mapping[str, Mapping[str, str]] | None = None,
    extra: Mapping[str, Any] | None = None,
    min_distance: float | None = None,
    halo: float | None = None,
) -> dict[str, Any]:
    """Metadata of an exported model, validated before it is returned.

    ``overrides``: per output, ``ghost``/``reduction`` values other than the contract's
    defaults, among those :data:`ALTERNATIVES` allows.
    """
    from ase.data import chemical_symbols

    from . import __version__

    unknown = [o for o in outputs if o not in OUTPUTS]
    if unknown:
        raise MetadataError(f"unknown output(s) {unknown}; the contract defines {sorted(OUTPUTS)}")
    explicit = bool(extra and "explicit_electrons" in extra)
    meta = {
        "format": FORMAT_NAME,
        # the lowest version that describes the file, so older engines read what they can
        "format_version": FORMAT_VERSION if explicit else 2,
        "model_type": model_type,
        "description": description,
        "species": [int(z) for z in species],
        "species_symbols": [chemical_symbols[int(z)] for z in species],
        "cutoff": float(cutoff),
        "message_passing_layers": int(message_passing_layers),
        # A rank must see every atom within this distance of its local atoms (default: one
        # cutoff per message-passing layer; a model whose layers reach less says so)
        "halo": float(cutoff) * int(message_passing_layers) if halo is None else float(halo),
        # closer pairs of atoms stop an engine with both atoms named (model length units)
        "min_distance": (DEFAULT_MIN_DISTANCE_ANGSTROM if min_distance is None else float(min_distance))
        / unit_system.base_factors()["length"],
        "units": unit_system.as_dict(),
        # Size of one model unit in angstrom, eV and e: engines convert with these.
        "unit_factors": unit_system.base_factors(),
        "dtype": dtype,
        "inputs": {
            name: {
                "shape": s.shape,
                "dtype": s.dtype,
                "unit": unit_system.unit_name(s.dim),
                "dimension": s.dim.as_list(),
            }
            for name, s in INPUTS.items()
        },
        # in the registry's order, which engines keep (LAMMPS compute columns follow it)
        "outputs": {
            name: OUTPUTS[name].to_json(unit_system, **dict((overrides or {}).get(name, {})))
            for name in OUTPUTS
            if name in outputs
        },
        "tensorml_version": __version__,
    }
    if extra:
        meta.update(extra)
    validate_metadata(meta)
    return meta


def upgrade_metadata(meta: Mapping[str, Any]) -> dict[str, Any]:
    """Metadata of a format-1 file in today's form (a copy); other files are returned as they are.

    Format 1 had three-exponent dimensions (no time) and no time unit: velocities were in model
    length per engine time unit, and dmdt/apt_velocity came out per that unit.  Read as format 2,
    its time unit is :data:`tensorml.units.LEGACY_TIME_UNIT` (fs) and every quantity made from the
    velocities gains the exponent -1 of time, which is what engines give it (they are linear in v).
    """
    if meta.get("format") != FORMAT_NAME or meta.get("format_version") != 1:
        return dict(meta)
    out = json.loads(json.dumps(meta))
    out["format_version"] = 2
    out["read_from_format_version"] = 1  # said by `tensorml info`; not written back by export
    system = U.UnitSystem.from_dict(out.get("units", {}))
    out.setdefault("units", {})["time"] = system.time
    out.setdefault("unit_factors", {})["time"] = system.base_factors()["time"]
    tables = [(name, spec, INPUTS.get(name)) for name, spec in out.get("inputs", {}).items()]
    tables += [(name, spec, OUTPUTS.get(name)) for name, spec in out.get("outputs", {}).items()]
    for _name, spec, known in tables:
        dims = list(spec.get("dimension", []))
        if len(dims) == 3:
            timed = known is not None and known.dim.time != 0 and known.dim.as_list()[:3] == dims
            spec["dimension"] = dims + [known.dim.time if timed else 0]
            spec["unit"] = system.unit_name(U.Dimension.from_list(spec["dimension"]))
    return out


def validate_metadata(meta: Mapping[str, Any], *, source: str = "model") -> None:
    """Raise :class:`MetadataError` naming the first problem of ``meta``."""
    if meta.get("format") != FORMAT_NAME:
        raise MetadataError(f"{source}: not a tensorml model (format {meta.get('format')!r})")
    version = meta.get("format_version")
    if not isinstance(version, int) or version < 1 or version > FORMAT_VERSION:
        raise MetadataError(
            f"{source}: format version {version!r} is not supported (this tensorml reads versions 1..{FORMAT_VERSION})"
        )
    for key in ("species", "cutoff", "halo", "units", "unit_factors", "dtype", "outputs"):
        if key not in meta:
            raise MetadataError(f"{source}: metadata lacks the key {key!r}")
    if meta["dtype"] not in ("float32", "float64"):
        raise MetadataError(f"{source}: dtype {meta['dtype']!r} is neither float32 nor float64")
    if not meta["species"]:
        raise MetadataError(f"{source}: empty species list")
    if not (meta["cutoff"] > 0 and meta["halo"] >= meta["cutoff"]):
        raise MetadataError(f"{source}: need 0 < cutoff <= halo, got {meta['cutoff']}, {meta['halo']}")
    system = U.UnitSystem.from_dict(meta["units"])
    for base, size in system.base_factors().items():
        if abs(meta["unit_factors"][base] - size) > 1e-12 * size:
            raise MetadataError(
                f"{source}: unit factor of {base} ({meta['unit_factors'][base]}) does not match "
                f"the unit {meta['units'][base]!r} ({size})"
            )
    for name, spec in meta["outputs"].items():
        if name not in OUTPUTS:
            continue  # a newer model may add outputs an engine ignores
        expected = OUTPUTS[name].to_json(system)
        for key in ("per_atom", "shape", "dimension", "ghost", "reduction", "source", "needs", "per_atom_form"):
            default = expected.get(key)
            allowed = ALTERNATIVES.get((name, key), (default,))
            if spec.get(key) not in allowed:
                raise MetadataError(
                    f"{source}: output {name!r} has {key}={spec.get(key)!r}, the contract allows {list(allowed)}"
                )
    for name, spec in meta["outputs"].items():
        if "source" in spec and spec["source"] not in meta["outputs"]:
            raise MetadataError(f"{source}: output {name!r} needs {spec['source']!r}, which the model lacks")
    _validate_explicit_electrons(meta, source)


def _validate_explicit_electrons(meta: Mapping[str, Any], source: str) -> None:
    table = meta.get("explicit_electrons")
    if table is None:
        return
    if meta["format_version"] < 3:
        raise MetadataError(
            f"{source}: explicit_electrons needs format version 3, the file says {meta['format_version']}"
        )
    for key, sub in EXPLICIT_ELECTRON_KEYS.items():
        if key not in table:
            raise MetadataError(f"{source}: explicit_electrons lacks {key!r}")
        missing = [k for k in sub or () if k not in table[key]]
        if missing:
            raise MetadataError(f"{source}: explicit_electrons.{key} lacks {missing}")
    if not set(table["species"]) <= set(meta["species"]):
        raise MetadataError(f"{source}: relaxed species {table['species']} are not among the species {meta['species']}")
    if sorted(int(z) for z in table["particle_charges"]) != sorted(meta["species"]):
        raise MetadataError(f"{source}: explicit_electrons.particle_charges must give a charge for every species")
    if table["long_range"]["kind"] not in ("point_charges", "gaussian_kspace"):
        raise MetadataError(
            f"{source}: unknown long-range kind {table['long_range']['kind']!r} (known: point_charges, gaussian_kspace)"
        )
    for name in ("energy", "forces", "charges"):
        if name not in meta["outputs"]:
            raise MetadataError(f"{source}: an explicit-electron model must provide {name!r}")


def check_requested(meta: Mapping[str, Any], requested) -> None:
    """Refuse a request for outputs the model does not provide, naming them."""
    missing = [r for r in requested if r not in meta["outputs"]]
    if missing:
        raise MetadataError(f"model does not provide {missing}; it provides {sorted(meta['outputs'])}")
