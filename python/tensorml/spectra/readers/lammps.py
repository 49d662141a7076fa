"""Readers for LAMMPS ``fix ave/time`` files, ``dump custom`` text files and ``log.lammps``.

Column selection is by the names in the file header (``c_p[1]``, ``vx``, ...), never by
position alone.  The names of a quantity come, in this order, from

1. the user (``--columns dipole=c_p[1],c_p[2],c_p[3]``, or a range ``c_p[1:3]``, or compute
   indices ``1:3`` of the single compute in the file);
2. the layout ``compute tensorml/props`` prints to the log (``global vector: [1] dipole_x
   ...``, ``per-atom array: [1] apt_xx ...``), when the log is given;
3. the default layout of ``compute tensorml/props`` (:data:`GLOBAL_DEFAULT`,
   :data:`PERATOM_DEFAULT`):

   * global vector: [1-3] dipole x y z, [4-12] polarizability xx xy xz yx yy yz zx zy zz,
     [13-15] dM/dt x y z (when present);
   * per-atom array: [1-9] apt, row-major [a][b] = dM_a/dr_b, [10-12] APT_i v_i (apt_velocity),
     [13] charges, [14-16] atomic dipoles (the layout of the reference model; a model without
     some of these shifts the columns, which the log then states).

Units (LAMMPS ``units`` style; from ``ITEM: UNITS`` of a dump written with ``dump_modify
units yes``, the log, or the user): metal: e*angstrom, angstrom^3, angstrom/ps, ps; real:
e*angstrom, angstrom^3, angstrom/fs, fs; electron: e*bohr, bohr^3, bohr/fs, fs (the velocities
LAMMPS integrates with; its documentation says bohr per 1.03275 fs, see tensorml.units).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from .files import open_binary, open_text

GLOBAL_DEFAULT = {"dipole": list(range(1, 4)), "polarizability": list(range(4, 13)), "dmdt": list(range(13, 16))}
PERATOM_DEFAULT = {
    "apt": list(range(1, 10)),
    "apt_velocity": list(range(10, 13)),
    "charges": [13],
    "atomic_dipoles": list(range(14, 17)),
}

_VEC = ["x", "y", "z"]
_TEN = [a + b for a in "xyz" for b in "xyz"]
#: quantity -> (accepted property-name prefixes in the compute layout, component suffixes in order)
PROPERTY_NAMES = {
    "dipole": (["dipole"], _VEC),
    "polarizability": (["polarizability"], _TEN),
    "dmdt": (["dmdt", "dipole_dt", "dipole_derivative", "dMdt", "dipole_velocity"], _VEC),
    "apt": (["apt"], _TEN),
    "apt_velocity": (["apt_velocity"], _VEC),
    "atomic_dipoles": (["atomic_dipoles"], _VEC),
    "charges": (["charges"], [""]),
}

_CID = re.compile(r"^c_([^\[\]]+)\[(\d+)\]$")


# ----------------------------------------------------------------------------- log
@dataclass
class LammpsLog:
    """What a log.lammps says: units style, timestep(s), initial box volume, compute layouts, the elements of
    the atom types (the tensorml ``pair_coeff`` line), thermo output."""

    path: str
    units: str | None = None
    timesteps: list[float] = field(default_factory=list)
    volume: float | None = None
    layouts: dict[str, dict[str, dict[int, str]]] = field(default_factory=dict)
    #: (type -> element, line number, line) of every ``pair_coeff * *`` line of pair_style tensorml
    type_maps: list[tuple[dict[str, str], int, str]] = field(default_factory=list)

    thermo: list[ThermoBlock] = field(default_factory=list)

    @property
    def type_map(self) -> dict[str, str] | None:
        """LAMMPS type -> element of the tensorml ``pair_coeff * * El1 El2 ...`` line(s); None without one.

        Types set to NULL (not handled by the model) are left out.  Lines that disagree are an error.
        """
        maps = {format_type_map(m): (m, k, line) for m, k, line in self.type_maps}
        if len(maps) > 1:
            raise ValueError(
                f"{self.path}: the pair_coeff lines of pair_style tensorml give different type maps: "
                + "; ".join(f"{text} (line {k})" for text, (_, k, _) in maps.items())
                + "; give --type-map"
            )
        return dict(self.type_maps[0][0]) if self.type_maps else None

    @property
    def type_map_source(self) -> str | None:
        """Where :attr:`type_map` comes from: the log and the (first) pair_coeff line, e.g. for a note."""
        if not self.type_maps:
            return None
        _, k, line = self.type_maps[0]
        return f"{self.path} line {k}: {line}"

    @property
    def timestep(self) -> float | None:
        """The timestep (LAMMPS time units) if the log sets exactly one value."""
        vals = sorted(set(self.timesteps))
        if len(vals) > 1:
            raise ValueError(f"{self.path}: several timesteps {vals}; give the one of the analysed run")
        return vals[0] if vals else None

    def temperature(self, first_step: int | None = None, last_step: int | None = None) -> tuple[float, str]:
        """(T in K, description): mean of the thermo ``Temp`` column of an MD run (not a minimization).

        With a step range (the analysed frames), the last MD run whose thermo rows fall in it is used,
        restricted to those rows; without one, the last MD run.  LAMMPS prints Temp in K in the metal,
        real and electron styles.
        """
        runs = [b for b in self.thermo if not b.minimize and "Temp" in b.names and len(b.steps)]
        if not runs:
            raise ValueError(f"{self.path}: no thermo output with a Temp column from an MD run")
        chosen = None
        for b in runs:
            rows = np.ones(len(b.steps), dtype=bool)
            if first_step is not None:
                rows &= (b.steps >= first_step) & (b.steps <= last_step)
            if rows.any():
                chosen = (b, rows)
        if chosen is None:
            raise ValueError(f"{self.path}: no thermo rows of an MD run between steps {first_step} and {last_step}")
        b, rows = chosen
        temp = b.column("Temp")[rows]
        s = b.steps[rows]
        return float(temp.mean()), (
            f"mean thermo Temp of {self.path}, {rows.sum()} rows, steps {s[0]}..{s[-1]} (std {temp.std():.3g} K)"
        )


@dataclass
class ThermoBlock:
    """The columnar thermo output of one run or minimization: column names and rows."""

    names: list[str]
    data: np.ndarray  # (rows, columns)
    minimize: bool = False

    @property
    def steps(self) -> np.ndarray:
        return self.column("Step").astype(np.int64)

    def column(self, name: str) -> np.ndarray:
        return self.data[:, self.names.index(name)]


def _thermo_blocks(lines) -> list[ThermoBlock]:
    """Columnar thermo blocks (header line starting with 'Step'); rows of other lengths (warnings) are skipped."""
    blocks, k = [], 0
    while k < len(lines):
        head = lines[k].split()
        k += 1
        if not head or head[0] != "Step":
            continue
        rows = []
        while k < len(lines) and not lines[k].startswith("Loop time"):
            tok = lines[k].split()
            k += 1
            if len(tok) == len(head):
                try:
                    rows.append([float(t) for t in tok])
                except ValueError:
                    pass
        minimize = any(ln.startswith("Minimization stats") for ln in lines[k : k + 6])
        blocks.append(ThermoBlock(head, np.array(rows).reshape(-1, len(head)), minimize))
    return blocks


def format_type_map(type_map: dict[str, str]) -> str:
    """``1=O,2=H`` (sorted by type number), the form ``--type-map`` takes."""
    key = lambda t: (0, int(t), t) if str(t).isdigit() else (1, 0, str(t))  # noqa: E731
    return ",".join(f"{t}={type_map[t]}" for t in sorted(type_map, key=key))


_ELEMENT = re.compile(r"^(?:[A-Z][a-z]?|NULL)$")


def _tensorml_elements(style: list[str], coeff: list[str]) -> list[str] | None:
    """Element arguments of a ``pair_coeff`` line (tokens after the command) meant for pair_style tensorml.

    ``pair_style tensorml ...`` with ``pair_coeff * * O H``; ``pair_style hybrid[/overlay|/scaled] ... tensorml
    ...`` with ``pair_coeff * * tensorml [instance] O H``.  None for any other line (other pair styles, other
    substyles, type ranges other than ``* *``, arguments that are not element symbols).
    """
    if len(coeff) < 3 or coeff[:2] != ["*", "*"] or not style:
        return None
    if style[0] == "tensorml":
        els = coeff[2:]
    elif style[0].startswith("hybrid") and "tensorml" in style and coeff[2] == "tensorml":
        els = coeff[3:]
        if style.count("tensorml") > 1 and els and els[0].isdigit():
            els = els[1:]  # several tensorml instances: pair_coeff * * tensorml 2 O H
    else:
        return None
    if not els or not all(_ELEMENT.match(e) for e in els):
        return None
    return els


def read_log(path) -> LammpsLog:
    """Parse the echoed ``units``/``timestep`` commands, box lines, tensorml/props layouts, the tensorml
    ``pair_coeff`` lines (type map) and thermo blocks."""
    log = LammpsLog(str(path))
    units = set()
    pair_style: list[str] = []
    with open_text(path, errors="replace") as fh:
        lines = fh.read().splitlines()
    box = re.compile(r"(orthogonal|triclinic) box = \(([^)]*)\) to \(([^)]*)\)")
    for k, line in enumerate(lines):
        s = line.split("#", 1)[0].strip()
        m = re.match(r"^units\s+(\S+)$", s)
        if m:
            units.add(m.group(1))
            continue
        m = re.match(r"^timestep\s+(\S+)$", s)
        if m:
            try:
                log.timesteps.append(float(m.group(1)))
            except ValueError:
                pass  # "timestep ${dt}": LAMMPS echoes the substituted line next
            continue
        m = re.match(r"^pair_(style|coeff)\s+(.+)$", s)
        if m and "$" not in s:  # "pair_style tensorml ${model}": LAMMPS echoes the substituted line next
            tokens = m.group(2).split()
            if m.group(1) == "style":
                pair_style = tokens
            else:
                els = _tensorml_elements(pair_style, tokens)
                if els is not None:
                    type_map = {str(t): e for t, e in enumerate(els, start=1) if e != "NULL"}
                    log.type_maps.append((type_map, k + 1, " ".join(s.split())))
            continue
        if s == "clear":
            pair_style = []
            continue
        m = box.search(line)
        if m and log.volume is None:
            lo = np.array(m.group(2).split(), dtype=float)
            hi = np.array(m.group(3).split(), dtype=float)
            log.volume = float(np.prod(hi - lo))
            continue
        m = re.search(r"compute tensorml/props (\S+) columns:", line)
        if m:
            layout: dict[str, dict[int, str]] = {"global": {}, "peratom": {}}
            for follow in lines[k + 1 : k + 3]:
                kind = "global" if "global vector:" in follow else "peratom" if "per-atom array:" in follow else None
                if kind:
                    layout[kind] = {int(i): n for i, n in re.findall(r"\[(\d+)\]\s+(\S+)", follow)}
            log.layouts[m.group(1)] = layout
    if len(units) > 1:
        raise ValueError(f"{path}: several units styles {sorted(units)}")
    log.units = units.pop() if units else None
    log.thermo = _thermo_blocks(lines)
    return log


# ----------------------------------------------------------------------------- columns
def compute_ids(names) -> list[str]:
    """IDs of the computes whose elements c_ID[k] appear among the column names."""
    ids: list[str] = []
    for n in names:
        m = _CID.match(n)
        if m and m.group(1) not in ids:
            ids.append(m.group(1))
    return ids


def _layout_indices(layout: dict[int, str], quantity: str) -> list[int] | None:
    prefixes, suffixes = PROPERTY_NAMES[quantity]
    by_name = {n: i for i, n in layout.items()}
    for p in prefixes:
        want = [p if not s else f"{p}_{s}" for s in suffixes]
        if all(w in by_name for w in want):
            return [by_name[w] for w in want]
    return None


def parse_column_spec(spec: str, names, compute_id: str | None = None) -> list[str]:
    """Column names from ``a,b,c``, ``c_p[1:3]`` (c_p[1]..c_p[3]) or ``1:3`` (indices of the compute)."""
    out: list[str] = []
    for tok in [t.strip() for t in spec.split(",") if t.strip()]:
        m = re.match(r"^(?:(\w+)\[)?(\d+):(\d+)\]?$", tok)
        if m:
            prefix = m.group(1)
            if prefix is None:
                if compute_id is None:
                    ids = compute_ids(names)
                    if len(ids) != 1:
                        raise ValueError(f"index range {tok!r} is ambiguous: computes {ids} in the file")
                    compute_id = ids[0]
                prefix = f"c_{compute_id}"
            out += [f"{prefix}[{k}]" for k in range(int(m.group(2)), int(m.group(3)) + 1)]
        else:
            out.append(tok)
    missing = [n for n in out if n not in names]
    if missing:
        raise ValueError(f"columns {missing} are not in the file (columns: {' '.join(names)})")
    return out


def resolve_columns(
    names,
    quantity: str,
    kind: str,
    user_spec: str | None = None,
    log: LammpsLog | None = None,
    compute_id: str | None = None,
) -> list[str]:
    """Header column names holding ``quantity`` (see the module docstring for the precedence)."""
    names = list(names)
    if user_spec:
        return parse_column_spec(user_spec, names, compute_id)
    ids = [compute_id] if compute_id else compute_ids(names)
    if log is not None and log.layouts:
        ids_log = [i for i in ids if i in log.layouts] or ([compute_id] if compute_id in (log.layouts or {}) else [])
        if len(ids_log) == 1:
            idx = _layout_indices(log.layouts[ids_log[0]][kind], quantity)
            if idx is None:
                raise ValueError(
                    f"the log's tensorml/props layout of compute {ids_log[0]!r} has no {quantity} "
                    f"({kind}: {log.layouts[ids_log[0]][kind]})"
                )
            cols = [f"c_{ids_log[0]}[{k}]" for k in idx]
            missing = [c for c in cols if c not in names]
            if missing:
                raise ValueError(f"{quantity}: columns {missing} (from the log's layout) are not in the file")
            return cols
    if len(ids) != 1:
        raise ValueError(
            f"cannot tell which columns hold {quantity}: computes {ids or 'none'} among the columns "
            f"{' '.join(names)}; give --columns {quantity}=..."
        )
    default = (GLOBAL_DEFAULT if kind == "global" else PERATOM_DEFAULT).get(quantity)
    if default is None:
        raise ValueError(f"no default columns for {quantity}; give --columns {quantity}=...")
    cols = [f"c_{ids[0]}[{k}]" for k in default]
    missing = [c for c in cols if c not in names]
    if missing:
        raise ValueError(
            f"{quantity}: the default columns {cols[0]}..{cols[-1]} of compute tensorml/props are not "
            f"all in the file (missing {missing}); give --columns {quantity}=... or the log"
        )
    return cols


# ----------------------------------------------------------------------------- fix ave/time
@dataclass
class AveTime:
    """A ``fix ave/time`` file: step numbers (T,), column names and values (T, C)."""

    path: str
    steps: np.ndarray
    names: list[str]
    data: np.ndarray
    dropped: int = 0

    def columns(self, cols) -> np.ndarray:
        idx = [self.names.index(c) for c in cols]
        return self.data[:, idx]


def _floats(tokens, what):
    try:
        return np.array(tokens, dtype=float)
    except ValueError as err:
        raise ValueError(f"{what}: non-numeric value ({err})") from None


def read_ave_time(path) -> AveTime:
    """Read a ``fix ave/time`` file (mode scalar, or mode vector as c_ID[row] columns)."""
    from . import drop_repeated_steps

    with open_text(path) as fh:
        lines = fh.read().splitlines()
    comments = []
    k = 0
    while k < len(lines) and (lines[k].startswith("#") or not lines[k].strip()):
        if lines[k].startswith("#"):
            comments.append(lines[k][1:].split())
        k += 1
    heads = [c for c in comments if c and c[0] == "TimeStep"]
    if not heads:
        raise ValueError(f"{path}: no '# TimeStep ...' header line: not a LAMMPS fix ave/time file")
    body = [ln for ln in lines[k:] if ln.strip() and not ln.startswith("#")]
    if heads[-1][1:] == ["Number-of-rows"]:
        return _read_ave_time_vector(path, comments, body)
    names = heads[-1][1:]
    ncol = len(names) + 1
    rows = [ln.split() for ln in body]
    for j, r in enumerate(rows):
        if len(r) != ncol:
            raise ValueError(
                f"{path}: data line {j + 1} has {len(r)} fields, the header names {ncol} "
                "(a truncated last line of a killed run? remove it)"
            )
    if not rows:
        raise ValueError(f"{path}: no data lines")
    arr = _floats(rows, str(path))
    steps, data, dropped = drop_repeated_steps(arr[:, 0].astype(np.int64), arr[:, 1:])
    return AveTime(str(path), steps, names, data, dropped)


def _read_ave_time_vector(path, comments, body) -> AveTime:
    rowhead = [c for c in comments if c and c[0] == "Row"]
    if not rowhead:
        raise ValueError(f"{path}: mode vector file without a '# Row ...' header")
    quantities = rowhead[-1][1:]
    steps, frames = [], []
    j = 0
    while j < len(body):
        head = body[j].split()
        if len(head) != 2:
            raise ValueError(f"{path}: expected 'step nrows' at data line {j + 1}, got {body[j]!r}")
        step, nrows = int(head[0]), int(head[1])
        block = [ln.split() for ln in body[j + 1 : j + 1 + nrows]]
        if len(block) != nrows or any(len(b) != len(quantities) + 1 for b in block):
            raise ValueError(f"{path}: incomplete block at step {step}")
        frames.append(_floats(block, str(path))[:, 1:].T.reshape(-1))
        steps.append(step)
        j += 1 + nrows
    nrows = len(frames[0]) // len(quantities)
    names = []
    for q in quantities:
        base = q[:-3] if q.endswith("[*]") else q
        names += [f"{base}[{r}]" for r in range(1, nrows + 1)]
    if any(len(f) != len(names) for f in frames):
        raise ValueError(f"{path}: the number of rows changes between steps")
    from . import drop_repeated_steps

    s, data, dropped = drop_repeated_steps(np.array(steps, dtype=np.int64), np.array(frames))
    return AveTime(str(path), s, names, data, dropped)


# ----------------------------------------------------------------------------- dump custom
@dataclass
class DumpFrame:
    """One frame of a text ``dump custom`` file, atoms sorted by id."""

    step: int
    names: list[str]
    data: np.ndarray  # (N, C) floats; NaN in non-numeric columns
    strings: dict[str, np.ndarray]  # non-numeric columns (e.g. element)
    volume: float
    units: str | None = None
    time: float | None = None
    min_width: float = float("nan")  # smallest perpendicular box width (same length unit)

    def columns(self, cols) -> np.ndarray:
        try:
            idx = [self.names.index(c) for c in cols]
        except ValueError:
            missing = [c for c in cols if c not in self.names]
            raise ValueError(f"dump columns {missing} missing (columns: {' '.join(self.names)})") from None
        return self.data[:, idx]


def _box(kind: str, rows) -> tuple[float, float]:
    """(volume, smallest perpendicular width) of a dump's box bounds, in the dump's length unit."""
    rows = np.array(rows, dtype=float)
    if "abc" in kind:  # general triclinic: a, b, c vectors and origin
        h = rows[:, :3]
    elif rows.shape[1] == 3:  # restricted triclinic: bounds and tilts
        xy, xz, yz = rows[:, 2]
        lx = (rows[0, 1] - max(0.0, xy, xz, xy + xz)) - (rows[0, 0] - min(0.0, xy, xz, xy + xz))
        ly = (rows[1, 1] - max(0.0, yz)) - (rows[1, 0] - min(0.0, yz))
        h = np.array([[lx, 0.0, 0.0], [xy, ly, 0.0], [xz, yz, rows[2, 1] - rows[2, 0]]])
    else:
        h = np.diag(rows[:, 1] - rows[:, 0])
    volume = float(abs(np.linalg.det(h)))
    width = min(volume / np.linalg.norm(np.cross(h[(k + 1) % 3], h[(k + 2) % 3])) for k in range(3))
    return volume, float(width)


def iter_dump(path) -> Iterator[DumpFrame]:
    """Frames of a text ``dump custom`` (or atom) file; atoms sorted by the ``id`` column."""
    with open_binary(path) as fh:
        line = fh.readline()
        nframe = 0
        while line:
            if not line.strip():
                line = fh.readline()
                continue
            units = time = step = natoms = volume = width = None
            names = None
            while line and names is None:
                item = line.decode().strip()
                if not item.startswith("ITEM:"):
                    raise ValueError(f"{path}: expected an 'ITEM:' line in frame {nframe}, got {item[:60]!r}")
                if item == "ITEM: TIMESTEP":
                    step = int(fh.readline())
                elif item == "ITEM: UNITS":
                    units = fh.readline().decode().strip()
                elif item == "ITEM: TIME":
                    time = float(fh.readline())
                elif item == "ITEM: NUMBER OF ATOMS":
                    natoms = int(fh.readline())
                elif item.startswith("ITEM: BOX BOUNDS"):
                    volume, width = _box(item, [fh.readline().split() for _ in range(3)])
                elif item.startswith("ITEM: ATOMS"):
                    names = item.split()[2:]
                else:
                    raise ValueError(f"{path}: unknown dump section {item!r}")
                if names is None:
                    line = fh.readline()
            if names is None or step is None or natoms is None:
                raise ValueError(f"{path}: incomplete frame header (frame {nframe})")
            raw = [fh.readline() for _ in range(natoms)]
            if len(raw) < natoms or not raw[-1].strip():
                raise ValueError(f"{path}: frame {nframe} (step {step}) is truncated")
            tok = np.array(b" ".join(raw).split())
            if tok.size != natoms * len(names):
                raise ValueError(
                    f"{path}: frame {nframe} (step {step}) has {tok.size} values, expected {natoms} x {len(names)}"
                )
            tok = tok.reshape(natoms, len(names))
            data = np.full((natoms, len(names)), np.nan)
            strings = {}
            for j, n in enumerate(names):
                try:
                    data[:, j] = tok[:, j].astype(float)
                except ValueError:
                    strings[n] = tok[:, j].astype(str)
            if "id" in names:
                order = np.argsort(data[:, names.index("id")], kind="stable")
                data = data[order]
                strings = {k: v[order] for k, v in strings.items()}
            yield DumpFrame(
                step,
                names,
                data,
                strings,
                volume if volume is not None else np.nan,
                units,
                time,
                width if width is not None else np.nan,
            )
            nframe += 1
            line = fh.readline()
