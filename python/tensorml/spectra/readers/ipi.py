"""Readers for i-PI 3.x output: extras trajectories, xyz trajectories and the input XML.

Extras (``<trajectory filename="x" extra_type="..."> extras </trajectory>``, i-PI
``engine/outputs.py``): one file per bead, ``<prefix>.<filename>_<bead>`` (bead number
zero-padded to the width of the bead count, no extension); each output step writes a header
line `` #EXTRAS(<extra_type>)# Step:  <step+1>`` and then

* ``extra_type="raw"`` (the default): ``str()`` of the whole extras dictionary, one line:
  ``{'dipole': [bead0, bead1, ...], 'BEC': [...], ..., 'raw': ['<json of bead 0>', ...]}``,
  i.e. *all beads* in every bead's file;
* ``extra_type="dipole"`` (a single field): that field of the file's bead, as rows of floats
  (``%16.8e``): dipole 1 row of 3, polarizability 3 rows of 3, BEC 3N rows of 3.

``extras_component_raw(<index>)`` (extras of one force component, e.g. a weight-0 component
that only computes properties, whose extras i-PI drops from ``extras``): a single file
``<prefix>.<filename>`` (no bead suffix), headers `` #EXTRAS_COMPONENT_RAW(<type>)# Step: <s>
Bead: <b>``.  In i-PI 3.3.1 each block holds *all beads* of that step (``Bead: 0``): the raw
dictionary as above, or for a single field the array squeezed over beads (dipole (P, 3) rows;
with P > 1 i-PI cannot write BEC or polarizability this way and needs extra_type raw).  Files
with one block per bead (``Bead: 0, 1, ...`` under the same step) are read too.

tensorml-ipi extras are in atomic units: ``dipole`` e*bohr (3), ``BEC`` e, shape (3N, 3), row
3i+a = d/dR_ia, columns = dipole x, y, z (so BEC[3i+a, b] = apt[i, b, a]), ``polarizability``
bohr^3 (3x3).

xyz trajectories (``positions``, ``velocities`` per bead: ``<prefix>.<filename>_<bead>.xyz``;
``x_centroid``, ``v_centroid``: ``<prefix>.<filename>.xyz``): per frame the atom count, a comment
``# CELL(abcABC): a b c alpha beta gamma  Step: <s>  Bead: <b> <what>{<unit>}  cell{<unit>}``
and ``name x y z`` lines; units default to atomic units (bohr, bohr per atomic time unit).
"""

from __future__ import annotations

import ast
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import numpy as np

from ...units import AU_TIME_FS, BOLTZMANN_EV, ELEMENTARY_CHARGE_SI, ENERGY_UNITS, LENGTH_UNITS, SPEED_OF_LIGHT_SI
from .files import open_text

_HEADER = re.compile(r"^\s*#(EXTRAS\w*)\(([^)]*)\)#\s*Step:\s*(-?\d+)(?:\s+Bead:\s*(\d+))?")

# i-PI unit names -> size in tensorml.spectra units (angstrom, fs, angstrom/fs, K, e*angstrom)
_PREFIX = {
    "": 1.0,
    "yotta": 1e24,
    "zetta": 1e21,
    "exa": 1e18,
    "peta": 1e15,
    "tera": 1e12,
    "giga": 1e9,
    "mega": 1e6,
    "kilo": 1e3,
    "milli": 1e-3,
    "micro": 1e-6,
    "nano": 1e-9,
    "pico": 1e-12,
    "femto": 1e-15,
    "atto": 1e-18,
    "zepto": 1e-21,
    "yocto": 1e-24,
}
_BOHR = LENGTH_UNITS["bohr"]
_DEBYE_E_ANGSTROM = 1e-21 / SPEED_OF_LIGHT_SI / (ELEMENTARY_CHARGE_SI * 1e-10)  # 1 D = 1e-21/c C m
_BASE = {
    "length": {"atomic_unit": _BOHR, "angstrom": 1.0, "meter": 1e10},
    "time": {"atomic_unit": AU_TIME_FS, "second": 1e15},
    "velocity": {"atomic_unit": _BOHR / AU_TIME_FS, "m/s": 1e10 / 1e15},
    "temperature": {"atomic_unit": ENERGY_UNITS["hartree"] / BOLTZMANN_EV, "kelvin": 1.0},
    "electric-dipole": {"atomic_unit": _BOHR, "eang": 1.0, "debye": _DEBYE_E_ANGSTROM},
}
_FAMILY = {"positions": "length", "x_centroid": "length", "velocities": "velocity", "v_centroid": "velocity"}


def unit_factor(family: str, unit: str) -> float:
    """Size of an i-PI unit (prefix + base, e.g. 'femtosecond', 'atomic_unit') in spectra units."""
    unit = (unit or "atomic_unit").strip()
    if unit in ("", "automatic"):
        unit = "atomic_unit"
    bases = _BASE.get(family)
    if bases is None:
        raise ValueError(f"no i-PI unit table for {family!r}")
    for base, size in bases.items():
        if unit.lower().endswith(base):
            prefix = unit[: len(unit) - len(base)].lower()
            if prefix in _PREFIX:
                return _PREFIX[prefix] * size
    raise ValueError(f"unknown i-PI {family} unit {unit!r} (known: {', '.join(bases)}, with SI prefixes)")


# ----------------------------------------------------------------------------- extras
@dataclass
class Extras:
    """One extras quantity: steps (T,), values (T, P, ...) over all beads, or (T, ...) for one bead."""

    path: str
    key: str
    steps: np.ndarray
    values: np.ndarray
    all_beads: bool
    extra_type: str


_JSON = json.JSONDecoder()


def _field_from_raw(text: str, key: str, path: str, step: int):
    # fast path: the field of str(dict) is a list of numbers, valid JSON from its opening bracket on
    m = re.search("'" + re.escape(key) + r"':\s*(?=\[)", text)
    if m:
        try:
            return _JSON.raw_decode(text, m.end())[0]
        except ValueError:
            pass  # e.g. nan/inf or numpy reprs: the general parser below
    try:
        d = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        d = None
    if isinstance(d, dict) and key in d:
        return d[key]
    if isinstance(d, dict) and "raw" in d:
        beads = [json.loads(s) for s in d["raw"]]
        if all(isinstance(b, dict) and key in b for b in beads):
            return [b[key] for b in beads]
    if d is None:
        try:
            j = json.loads(text)
            if isinstance(j, dict) and key in j:
                return [j[key]]
        except ValueError:
            pass
        raise ValueError(
            f"{path}: step {step}: cannot parse the raw extras (numpy arrays in the dictionary? "
            f"write the field with extra_type='{key}')"
        )
    raise ValueError(f"{path}: step {step}: no {key!r} among the extras ({', '.join(map(str, d))})")


def read_extras(path, key: str) -> Extras:
    """Read ``key`` (e.g. 'dipole', 'BEC', 'polarizability') from an i-PI extras file (module docstring)."""
    with open_text(path) as fh:
        lines = fh.read().splitlines()
    blocks = []  # (step, bead, type, body lines)
    for line in lines:
        m = _HEADER.match(line)
        if m:
            blocks.append(
                (int(m.group(3)), None if m.group(4) is None else int(m.group(4)), m.group(2), m.group(1), [])
            )
        elif line.strip():
            if not blocks:
                raise ValueError(f"{path}: data before the first #EXTRAS header: not an i-PI extras file")
            blocks[-1][4].append(line)
    if not blocks:
        raise ValueError(f"{path}: no #EXTRAS(...)# Step: headers: not an i-PI extras file")
    steps, vals = [], []
    types = {b[2] for b in blocks}
    if len(types) > 1:
        raise ValueError(f"{path}: mixed extra types {sorted(types)}")
    etype = types.pop()
    component = blocks[0][3] == "EXTRAS_COMPONENT_RAW"
    all_beads = None
    for step, _bead, _t, _kind, body in blocks:
        if not body:
            raise ValueError(f"{path}: step {step} has no data (truncated file?)")
        if etype == "raw":
            v = np.asarray(_field_from_raw(" ".join(body), key, str(path), step), dtype=float)
            ab = True
        else:
            if etype != key:
                raise ValueError(f"{path}: the file holds extra_type {etype!r}, not {key!r}")
            v = np.array([ln.split() for ln in body], dtype=float)
            v, ab = _shape_numeric(v, key, component, str(path), step)
        if all_beads is None:
            all_beads = ab
        steps.append(step)
        vals.append(v)
    shapes = {v.shape for v in vals}
    if len(shapes) > 1:
        raise ValueError(f"{path}: {key} changes shape between steps: {sorted(shapes)}")
    beads = [b[1] for b in blocks]
    if component and len(set(beads) - {None}) > 1:
        # one block per bead and step (Bead: 0, 1, ... under the same Step): stack the beads
        nb = max(beads) + 1
        if len(vals) % nb or any(beads[k] != k % nb for k in range(len(beads))):
            raise ValueError(f"{path}: per-bead blocks are not in the order Bead 0..{nb - 1} at every step")
        if any(steps[k] != steps[k - k % nb] for k in range(len(steps))):
            raise ValueError(f"{path}: the blocks of one step carry different step numbers")
        steps = steps[::nb]
        vals = [np.stack(vals[k : k + nb]) for k in range(0, len(vals), nb)]
        all_beads = True
    from . import drop_repeated_steps

    s, values, _ = drop_repeated_steps(np.array(steps, dtype=np.int64), np.array(vals))
    return Extras(str(path), key, s, values, bool(all_beads), etype)


def _shape_numeric(v, key, component, path, step):
    """Numeric block -> (array, holds all beads?)."""
    if key == "dipole":
        if v.shape[-1] != 3:
            raise ValueError(f"{path}: step {step}: dipole rows of {v.shape[-1]} values")
        if v.shape[0] == 1:
            return v[0], False
        if not component:
            raise ValueError(f"{path}: step {step}: {v.shape[0]} dipole rows in a per-bead file")
        return v, True
    if key == "polarizability":
        if v.size != 9:
            raise ValueError(
                f"{path}: step {step}: polarizability block of {v.size} values (one bead only "
                "can be written as a single field; use extra_type raw for several beads)"
            )
        return v.reshape(3, 3), False
    if key == "BEC":
        if v.shape[-1] != 3 or v.shape[0] % 3:
            raise ValueError(f"{path}: step {step}: BEC block of shape {v.shape}, expected (3N, 3)")
        return v, False
    return v, False


# ----------------------------------------------------------------------------- xyz
@dataclass
class XyzTrajectory:
    """An i-PI xyz trajectory: steps (T,), names (N,), values (T, N, 3), in the file's units."""

    path: str
    steps: np.ndarray
    names: list[str]
    values: np.ndarray
    what: str
    unit: str
    cell_abc: np.ndarray  # (T, 6): a b c (cell unit) alpha beta gamma (degrees)
    cell_unit: str
    bead: int | None

    def converted(self) -> np.ndarray:
        """Values in angstrom (positions) or angstrom/fs (velocities)."""
        family = _FAMILY.get(self.what.split("(")[0])
        if family is None:
            raise ValueError(
                f"{self.path}: don't know the units of {self.what!r} (positions/velocities/x_centroid/"
                "v_centroid are understood)"
            )
        return self.values * unit_factor(family, self.unit)

    def volumes(self) -> np.ndarray:
        """Cell volume of each frame in angstrom^3."""
        a, b, c = (self.cell_abc[:, :3] * unit_factor("length", self.cell_unit)).T
        al, be, ga = np.radians(self.cell_abc[:, 3:]).T
        return (
            a
            * b
            * c
            * np.sqrt(
                1 - np.cos(al) ** 2 - np.cos(be) ** 2 - np.cos(ga) ** 2 + 2 * np.cos(al) * np.cos(be) * np.cos(ga)
            )
        )


def read_xyz(path) -> XyzTrajectory:
    """Read an i-PI xyz trajectory (module docstring)."""
    with open_text(path) as fh:
        lines = fh.read().splitlines()
    if not lines:
        raise ValueError(f"{path}: empty file")
    try:
        n = int(lines[0])
    except ValueError:
        raise ValueError(f"{path}: first line is not an atom count: not an xyz file") from None
    size = n + 2
    nframes = len(lines) // size
    if len(lines) % size and any(ln.strip() for ln in lines[nframes * size :]):
        raise ValueError(f"{path}: {len(lines)} lines is not a whole number of {n}-atom frames (truncated?)")
    counts = lines[0 : nframes * size : size]
    if any(c.strip() != lines[0].strip() for c in counts):
        raise ValueError(f"{path}: the atom count changes between frames")
    heads = lines[1 : nframes * size : size]
    text = "\n".join(heads)
    cells = re.findall(r"CELL\(abcABC\):\s*(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", text)
    cells = np.array(cells, dtype=float) if len(cells) == nframes else np.full((nframes, 6), np.nan)
    steps = [int(x) for x in re.findall(r"Step:\s*(-?\d+)", text)]
    if len(steps) != nframes:
        steps = list(range(nframes))
    m = re.search(r"Bead:\s*(\d+)", heads[0])
    bead = int(m.group(1)) if m else None
    what = unit = cell_unit = None
    m = re.search(r"([\w()=;,.\- ]+?)\{([^}]*)\}\s+cell\{([^}]*)\}", heads[0])
    if m:
        what, unit, cell_unit = m.group(1).split()[-1], m.group(2), m.group(3)
    body = [ln for f in range(nframes) for ln in lines[f * size + 2 : (f + 1) * size]]
    tok = np.array(" ".join(body).split())
    if tok.size != nframes * n * 4:
        raise ValueError(f"{path}: atom lines are not 'name x y z'")
    tok = tok.reshape(nframes, n, 4)
    names = [str(x) for x in tok[0, :, 0]]
    values = tok[:, :, 1:].astype(float)
    from . import drop_repeated_steps

    s, values, cell_abc, _ = drop_repeated_steps(np.array(steps, dtype=np.int64), values, np.array(cells))
    return XyzTrajectory(
        str(path),
        s,
        names,
        values,
        what or "positions",
        unit or "atomic_unit",
        cell_abc,
        cell_unit or "atomic_unit",
        bead,
    )


# ----------------------------------------------------------------------------- input
@dataclass
class IpiInput:
    """What an i-PI input XML says: MD timestep (fs), temperature (K), bead count, output prefix, trajectories."""

    path: str
    timestep_fs: float | None
    temperature: float | None
    nbeads: int | None
    prefix: str
    trajectories: list[dict]


def read_input(path) -> IpiInput:
    with open_text(path) as fh:
        root = ET.parse(fh).getroot()

    def value(tag, family):
        el = root.find(f".//{tag}")
        if el is None or not (el.text or "").strip():
            return None
        return float(el.text) * unit_factor(family, el.get("units", "atomic_unit"))

    init = root.find(".//initialize")
    out = root.find(".//output")
    trajs = []
    for t in root.iter("trajectory"):
        trajs.append(
            {
                "filename": t.get("filename"),
                "stride": int(t.get("stride", 1)),
                "what": (t.text or "").strip(),
                "extra_type": t.get("extra_type", "raw"),
                "format": t.get("format", "xyz"),
            }
        )
    return IpiInput(
        str(path),
        value("dynamics/timestep", "time"),
        value("ensemble/temperature", "temperature"),
        int(init.get("nbeads")) if init is not None and init.get("nbeads") else None,
        out.get("prefix", "i-pi") if out is not None else "i-pi",
        trajs,
    )
