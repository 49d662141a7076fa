"""The one reader of labelled data: :func:`read_dataset` -> list of standardized ``ase.Atoms``.

It reads

* tensorml's own extxyz files (``tensorml label``, the datasets under ``data/``), also
  compressed (``.xz``, ``.gz``, ``.bz2``);
* users' extxyz files with ``energy``, ``forces``, ``dipole``, ``polarizability`` and
  ``apt`` *or* ``born_charges`` keys (ASE puts energy/forces/dipole into a
  SinglePointCalculator when it reads extxyz; they are moved back here);
* CP2K Wannier-centre xyz files (``*-HOMO_centers_s1-1_0.xyz``, or any xyz whose ``X``
  atoms are Wannier/Boys centres): the ``X`` atoms become ``info['electron_pairs']``;
* i-PI xyz trajectories (positions only; see :mod:`tensorml.data.inputs`).

Standardized frames (all keys and units in :mod:`tensorml.data.keys`): nuclei only;
``info['energy']`` float (eV), ``info['dipole']`` (3,) e*angstrom,
``info['polarizability']`` (3, 3) angstrom^3, ``info['efield']`` (3,) V/angstrom (zeros if
absent), ``info['charge']`` int, ``info['electron_pairs']`` (M, 3) angstrom (only when
present), ``arrays['forces']`` (N, 3) eV/angstrom, ``arrays['apt']`` (N, 3, 3) e with
apt[i, a, b] = dM_a/dR_ib, ``info['system_id']`` (from ``system_id``, ``cluster_id`` or
``molecule_id``; else the chemical formula).  Frames have no calculator attached.

Born charges: ``born_charges`` are read as apt[i, a, b] with the same index order
(first index: polarization/field component, second: displacement/force component, the
phonopy/VASP convention Z*_ab = dP_a/du_b = dF_b/dE_a).  Pass ``born_transpose=True``
for files with the opposite order.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from ase import Atoms

from .keys import ELECTRON_PAIR_SYMBOL, IDENTITY_KEYS

_CALC_TO_INFO = ("energy", "dipole", "free_energy")


def _open_text(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".xz":
        import lzma

        return lzma.open(path, "rt", encoding="utf-8").read()
    if suffix == ".gz":
        import gzip

        return gzip.open(path, "rt", encoding="utf-8").read()
    if suffix == ".bz2":
        import bz2

        return bz2.open(path, "rt", encoding="utf-8").read()
    return path.read_text(encoding="utf-8")


def _uncompressed_name(path: Path) -> str:
    name = path.name
    for ext in (".xz", ".gz", ".bz2"):
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return name


def standardize(atoms: Atoms, born_transpose: bool = False, cell=None) -> Atoms:
    """A standardized copy of one frame as ASE read it (see module docstring)."""
    info = dict(atoms.info)
    arrays = {k: np.asarray(v) for k, v in atoms.arrays.items() if k not in ("numbers", "positions")}
    if atoms.calc is not None:
        results = getattr(atoms.calc, "results", {})
        for key in _CALC_TO_INFO:
            if key in results and key not in info:
                info[key] = results[key]
        if "forces" in results and "forces" not in arrays:
            arrays["forces"] = np.asarray(results["forces"])
        if "stress" in results and "stress" not in info:
            info["stress"] = np.asarray(results["stress"])
    symbols = np.array(atoms.get_chemical_symbols())
    is_pair = (atoms.numbers == 0) | (symbols == ELECTRON_PAIR_SYMBOL)
    nuclei = ~is_pair
    out = Atoms(symbols[nuclei].tolist(), positions=atoms.positions[nuclei])
    if cell is not None:
        out.cell = cell
        out.pbc = True
    elif atoms.pbc.any():
        out.cell = atoms.cell
        out.pbc = atoms.pbc
    n = int(nuclei.sum())
    pairs = atoms.positions[is_pair]
    if len(pairs) and out.pbc.all():
        pairs = _unwrap_to_nearest_atom(pairs, out)
    if len(pairs):
        info["electron_pairs"] = pairs
    elif "electron_pairs" in info:
        info["electron_pairs"] = np.asarray(info["electron_pairs"], dtype=float).reshape(-1, 3)
    info.pop("n_electron_pairs", None)

    for key, value in arrays.items():
        value = value[nuclei]
        if key in ("apt", "born_charges"):
            value = np.asarray(value, dtype=float).reshape(n, 3, 3)
            if key == "born_charges":
                if born_transpose:
                    value = value.transpose(0, 2, 1)
                if "apt" in arrays:
                    continue
                key = "apt"
        elif key == "forces":
            value = np.asarray(value, dtype=float).reshape(n, 3)
        out.arrays[key] = value

    for key, value in info.items():
        if key == "energy":
            value = float(value)
        elif key in ("dipole", "efield"):
            value = np.asarray(value, dtype=float).reshape(3)
        elif key == "polarizability":
            value = np.asarray(value, dtype=float)
            value = value.reshape(3, 3) if value.size == 9 else _from_voigt(value)
        elif key == "charge":
            value = int(round(float(value)))
        elif isinstance(value, np.generic):
            value = value.item()
        out.info[key] = value
    out.info.setdefault("efield", np.zeros(3))
    out.info.setdefault("charge", 0)
    if "system_id" not in out.info:
        for key in IDENTITY_KEYS:
            if key in out.info:
                out.info["system_id"] = str(out.info[key])
                break
        else:
            out.info["system_id"] = out.get_chemical_formula()
    else:
        out.info["system_id"] = str(out.info["system_id"])
    return out


def _from_voigt(v: np.ndarray) -> np.ndarray:
    if v.size != 6:
        raise ValueError(f"polarizability must have 9 (3x3) or 6 (Voigt xx yy zz yz xz xy) numbers, got {v.size}")
    xx, yy, zz, yz, xz, xy = v.reshape(6)
    return np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])


def _unwrap_to_nearest_atom(pairs: np.ndarray, atoms: Atoms) -> np.ndarray:
    """Move each centre to the periodic image closest to its nearest nucleus (CP2K wraps them)."""
    from ase.geometry import find_mic

    out = pairs.copy()
    for k, p in enumerate(pairs):
        d, dist = find_mic(atoms.positions - p, atoms.cell, atoms.pbc)
        i = int(np.argmin(dist))
        out[k] = atoms.positions[i] - d[i]
    return out


def _read_text_frames(path, text: str, index, fmt: str):
    """ASE's reader over ``text``; a frame it cannot parse (a truncated file) is named with the file."""
    from ase.io import iread, read

    if index != ":":
        return read(io.StringIO(text), index=index, format=fmt)
    frames = []
    try:
        for atoms in iread(io.StringIO(text), index=":", format=fmt):
            frames.append(atoms)
    except Exception as err:  # ASE raises ValueError, IndexError, StopIteration... on torn frames
        raise ValueError(
            f"{path}: frame {len(frames) + 1} cannot be read ({type(err).__name__}: {err}); {len(frames)} frame(s) "
            f"before it are fine: the file may be truncated"
        ) from None
    return frames


def read_dataset(
    path, index: str | int = ":", format: str | None = None, born_transpose: bool = False, cell=None
) -> list[Atoms]:
    """Standardized labelled frames from ``path`` (see module docstring).

    ``format``: None (guess: extxyz, i-PI xyz, or plain xyz with X centres such as CP2K's),
    or any ASE format name.  ``cell`` (3x3, angstrom): cell for files without one (CP2K
    Wannier xyz of a periodic run); centres are then unwrapped next to their nearest atom.
    """
    from ase.io import read

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such dataset file: {path}")
    name = _uncompressed_name(path)
    text = None
    if format is None or format in ("extxyz", "xyz"):
        text = _open_text(path)
        second = text.split("\n", 2)[1] if text.count("\n") >= 2 else ""
        if "CELL(abcABC)" in second:
            from .inputs import read_ipi_xyz

            frames = read_ipi_xyz(io.StringIO(text))
            return [standardize(a, born_transpose, cell) for a in _index(frames, index)]
        fmt = format or ("extxyz" if ("=" in second or name.endswith(".extxyz")) else "xyz")
        frames = _read_text_frames(path, text, index, fmt)
    else:
        frames = read(path, index=index, format=format)
    if isinstance(frames, Atoms):
        frames = [frames]
    return [standardize(a, born_transpose, cell) for a in frames]


def _index(frames, index):
    from ase.io.formats import string2index

    sel = string2index(index) if isinstance(index, str) else index
    out = frames[sel]
    return out if isinstance(out, list) else [out]


def write_dataset(frames, path) -> None:
    """Write standardized frames as tensorml extxyz (``.xz``/``.gz`` compressed by name)."""
    from .extxyz import frame_to_extxyz

    path = Path(path)
    text = "".join(frame_to_extxyz(f) for f in frames)
    suffix = path.suffix.lower()
    if suffix == ".xz":
        import lzma

        with lzma.open(path, "wt", encoding="utf-8", preset=9 | lzma.PRESET_EXTREME) as fh:
            fh.write(text)
    elif suffix == ".gz":
        import gzip

        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(text)
    else:
        path.write_text(text, encoding="utf-8")
