"""What each frame of per-atom data becomes: APT-weighted velocities summed per part, or velocities.

A reducer is made once the atoms of a run are known (``make_reducer(atoms)``, from the factories
here) and is called on every frame (or all frames at once) by :mod:`.peratom` as
``reduce(apt, v, pv=None)`` with apt (..., P, N, 3, 3) in e, v (..., P, N, 3) in angstrom/fs
(P beads; P = 1 for a centroid file) or pv = APT_i v_i (..., P, N, 3) in e*angstrom/fs.  Every
reducer is *linear in the velocities* (dM/dt = sum_i P_i v_i, APTNN seed eq. 4; bead averages),
which lets :mod:`.peratom` feed velocities per MD step and rescale afterwards.

Partitions (:func:`partition`) split atoms by element, type, molecule or user groups
(:mod:`.decompose`); parts sum exactly to the total.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import pimd
from .decompose import by_label, by_molecule, parse_groups, part_sums

if TYPE_CHECKING:
    from .assemble import Context
    from .peratom import Atoms


def partition(atoms: Atoms, mode: str | None, groups: str | None = None, molecule_size: int | None = None):
    """(names, index) for a decomposition mode: element, type, molecule, group (or None)."""
    if mode is None:
        return None
    if mode == "element":
        if atoms.elements is None:
            raise ValueError(
                "no element information: give --type-map (e.g. 1=O,2=H), or the --lammps-log of the run (its "
                "'pair_coeff * * [tensorml] O H' line of pair_style tensorml names the elements), or an element column"
            )
        return by_label(atoms.elements)
    if mode == "type":
        labels = atoms.types if atoms.types is not None else atoms.elements
        if labels is None:
            raise ValueError("no atom types in the data")
        return by_label([f"type{t}" if atoms.types is not None else t for t in labels])
    if mode == "molecule":
        return molecules(atoms, molecule_size)
    if mode == "group":
        if not groups:
            raise ValueError("--decompose group needs --groups 'name:ids;name2:ids'")
        return parse_groups(groups, atoms.ids)
    raise ValueError(f"unknown decomposition {mode!r}; known: element, type, molecule, group")


def molecules(atoms: Atoms, molecule_size: int | None = None):
    if atoms.molecules is not None and not molecule_size:
        return by_molecule(atoms.molecules)
    if molecule_size:
        return by_molecule(None, atoms.n, molecule_size)
    raise ValueError("no molecule information: dump the 'mol' column or give --molecule-size")


def apt_reducer_factory(
    ctx: Context,
    decompose: str | None = None,
    groups: str | None = None,
    intra_inter: bool = False,
    molecule_size: int | None = None,
    names_out: dict | None = None,
):
    """make_reducer for the APT route: per frame dM/dt = sum_i P_i v_i (estimator applied), summed per part.

    decompose: None or a :func:`partition` mode; intra_inter: also sum per molecule.
    The part names are stored in ``names_out["parts"]`` once the atoms are known.
    """
    est = ctx.opts.estimator

    def make(atoms: Atoms):
        part = partition(atoms, decompose, groups, molecule_size)
        mol = molecules(atoms, molecule_size) if intra_inter else None
        if names_out is not None:
            prev = names_out.get("parts")
            new = part[0] if part else None
            if prev is not None and prev != new:
                raise ValueError(f"runs have different parts: {prev} vs {new}")
            names_out["parts"] = new

        def reduce(apt, v, pv=None):
            """apt (..., P, N, 3, 3), v (..., P, N, 3) (P = 1 for a centroid velocity file), or pv = APT_i v_i."""
            if pv is not None:  # trpmd: bead average of the per-bead APT_i v_i
                p = pimd.bead_average(pv, axis=-3)
            else:
                single = v.shape[-3] == 1
                p = pimd.atomic_dmdt(
                    apt,
                    None if (est == "centroid" and single) else v,
                    est,
                    centroid_velocities=v[..., 0, :, :] if (est == "centroid" and single) else None,
                )
            out = {"series": part_sums(p, part[1], len(part[0])) if part else p.sum(axis=-2)}
            if mol is not None:
                out["molecules"] = part_sums(p, mol[1], len(mol[0]))
            return out

        return reduce

    return make


def velocity_reducer_factory(ctx: Context, atoms_out: dict):
    """make_reducer for the VDOS: bead-averaged (centroid) velocities per frame; stores the atoms."""

    def make(atoms: Atoms):
        atoms_out["atoms"] = atoms

        def reduce(apt, v, pv=None):
            return {"velocities": v.mean(axis=-3)}

        return reduce

    return make
