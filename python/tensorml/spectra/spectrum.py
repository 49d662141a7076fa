"""The result of a spectrum calculation, and its data-file format.

A :class:`Spectrum` holds a frequency axis (cm^-1 internally), named intensity
columns (mean over blocks) with their standard errors, the intensity unit, and
header entries stating everything needed to reproduce or compare it (quantity,
units, QCF, window, correlation length, temperature, volume, estimator, sources).

File format (plain text, ``#`` comments, whitespace separated)::

    # tensorml spectrum: ir
    # quantity: ...
    # intensity unit: cm^-1
    # frequency unit: cm^-1
    # qcf: harmonic: Q(x) = x/(1-exp(-x)), x = h c nu / (k_B T)
    # ...: ...
    # columns: wavenumber total total_err part1 part1_err ...
    0.0 1.2e-3 3e-5 ...

The first three columns are always frequency, the total intensity and its error.
When the intensity is a spectral density (per cm^-1) and the file is written
with another frequency unit (THz, meV), densities are converted too
(per THz, per meV) so that integrals over the written axis keep their meaning.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..units import frequency_factor

_trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy < 2 has only trapz

FREQ_LABELS = {"cm-1": "wavenumber", "THz": "frequency", "meV": "energy"}
FREQ_UNIT_TEXT = {"cm-1": "cm^-1", "THz": "THz", "meV": "meV"}


@dataclass
class Spectrum:
    """Spectrum columns on a wavenumber grid (cm^-1).

    kind: 'ir', 'raman' or 'vdos'.  unit: intensity unit text.  density: True when the
    intensity is per unit wavenumber (then ``unit`` ends in '/cm^-1').  columns/errors: name ->
    array like ``wavenumber``; the first column is the total.  meta: header entries.
    """

    kind: str
    wavenumber: np.ndarray
    columns: dict[str, np.ndarray]
    errors: dict[str, np.ndarray]
    unit: str
    density: bool = False
    meta: dict[str, str] = field(default_factory=dict)
    ratios: tuple[str, ...] = ()  # dimensionless columns (e.g. the depolarisation ratio): never rescaled

    @property
    def total(self) -> np.ndarray:
        return next(iter(self.columns.values()))

    def column(self, name: str | None = None) -> np.ndarray:
        if name is None:
            return self.total
        if name not in self.columns:
            raise KeyError(f"no column {name!r}; columns: {', '.join(self.columns)}")
        return self.columns[name]

    def band(self, lo: float, hi: float) -> np.ndarray:
        """Mask of the wavenumbers in [lo, hi] cm^-1."""
        return (self.wavenumber >= lo) & (self.wavenumber <= hi)

    def integrate(self, lo: float, hi: float, name: str | None = None) -> float:
        """Integral of a column over lo..hi cm^-1 (trapezoid rule on the grid)."""
        m = self.band(lo, hi)
        if m.sum() < 2:
            raise ValueError(f"band {lo}..{hi} cm^-1 holds fewer than two grid points")
        return float(_trapezoid(self.column(name)[m], self.wavenumber[m]))

    def peak(self, lo: float = 0.0, hi: float = np.inf, name: str | None = None) -> float:
        """Wavenumber (cm^-1) of the maximum of a column in lo..hi, refined by a parabola through 3 points."""
        m = np.nonzero(self.band(lo, hi))[0]
        if m.size == 0:
            raise ValueError(f"band {lo}..{hi} cm^-1 is empty")
        y = self.column(name)
        k = m[np.argmax(y[m])]
        if 0 < k < len(y) - 1:
            y0, y1, y2 = y[k - 1], y[k], y[k + 1]
            den = y0 - 2.0 * y1 + y2
            if den != 0:
                step = self.wavenumber[k + 1] - self.wavenumber[k]
                return float(self.wavenumber[k] + 0.5 * (y0 - y2) / den * step)
        return float(self.wavenumber[k])

    def cut(self, max_wavenumber: float | None) -> "Spectrum":
        """The spectrum up to ``max_wavenumber`` cm^-1 (itself when None)."""
        if max_wavenumber is None:
            return self
        m = self.wavenumber <= max_wavenumber
        return Spectrum(
            self.kind,
            self.wavenumber[m],
            {k: v[m] for k, v in self.columns.items()},
            {k: v[m] for k, v in self.errors.items()},
            self.unit,
            self.density,
            dict(self.meta),
            self.ratios,
        )

    # ------------------------------------------------------------------ files
    def axis(self, freq_unit: str = "cm-1") -> tuple[np.ndarray, float]:
        """(frequencies in freq_unit, factor turning a per-cm^-1 density into per-freq_unit)."""
        f = frequency_factor("cm-1", freq_unit)
        return self.wavenumber * f, (1.0 / f if self.density else 1.0)

    def unit_in(self, freq_unit: str = "cm-1") -> str:
        if self.density and self.unit.endswith("/cm^-1"):
            return self.unit[: -len("cm^-1")] + FREQ_UNIT_TEXT[freq_unit]
        return self.unit

    def write(self, path, freq_unit: str = "cm-1") -> None:
        """Write the data file described in the module docstring."""
        x, scale = self.axis(freq_unit)
        names = [FREQ_LABELS[freq_unit]]
        cols = [x]
        for k, v in self.columns.items():
            k_scale = 1.0 if k in self.ratios else scale
            names += [k, k + "_err"]
            cols += [v * k_scale, self.errors.get(k, np.full_like(v, np.nan)) * k_scale]
        lines = [f"tensorml spectrum: {self.kind}"]
        lines += [f"intensity unit: {self.unit_in(freq_unit)}", f"frequency unit: {FREQ_UNIT_TEXT[freq_unit]}"]
        if self.ratios:
            lines += ["dimensionless columns: " + " ".join(self.ratios)]
        lines += [f"{k}: {v}" for k, v in self.meta.items()]
        lines += ["columns: " + " ".join(names)]
        np.savetxt(path, np.column_stack(cols), fmt="%.10g", header="\n".join(lines), comments="# ")

    @classmethod
    def read(cls, path) -> "Spectrum":
        """Read a file written by :meth:`write` (back to a cm^-1 axis)."""
        meta: dict[str, str] = {}
        names = None
        with open(path) as fh:
            for line in fh:
                if not line.startswith("#"):
                    break
                text = line[1:].strip()
                key, _, value = text.partition(":")
                if key == "columns":
                    names = value.split()
                else:
                    meta[key.strip()] = value.strip()
        if names is None or "tensorml spectrum" not in meta:
            raise ValueError(f"{path}: not a tensorml spectrum file (no 'tensorml spectrum'/'columns' header)")
        data = np.loadtxt(path, ndmin=2)
        if data.shape[1] != len(names):
            raise ValueError(f"{path}: {data.shape[1]} columns but the header names {len(names)}")
        kind = meta.pop("tensorml spectrum")
        ratios = tuple(meta.pop("dimensionless columns", "").split())
        unit = meta.pop("intensity unit", "")
        funit = {v: k for k, v in FREQ_UNIT_TEXT.items()}[meta.pop("frequency unit", "cm^-1")]
        f = frequency_factor(funit, "cm-1")
        density = unit.endswith("/" + FREQ_UNIT_TEXT[funit])
        scale = f if density else 1.0
        cols, errs = {}, {}
        for j, n in enumerate(names[1:], start=1):
            base = n[:-4] if n.endswith("_err") else n
            (errs if n.endswith("_err") else cols)[base] = data[:, j] / (1.0 if base in ratios else scale)
        if density:
            unit = unit[: -len(FREQ_UNIT_TEXT[funit])] + "cm^-1"
        return cls(kind, data[:, 0] * f, cols, errs, unit, density, meta, ratios)
