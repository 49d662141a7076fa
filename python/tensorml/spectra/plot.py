"""PNG plots of spectra (matplotlib, Agg backend), with error bands and an optional reference overlay."""

from __future__ import annotations

import numpy as np

from .spectrum import FREQ_LABELS, FREQ_UNIT_TEXT, Spectrum

_KIND = {"ir": "IR absorption", "raman": "Raman", "vdos": "Vibrational density of states"}


def read_reference(path) -> tuple[np.ndarray, np.ndarray]:
    """First two numeric columns of a CSV/text file (header lines that are not numbers are skipped)."""
    xs, ys = [], []
    with open(path) as fh:
        for line in fh:
            toks = line.replace(",", " ").replace(";", " ").split()
            if len(toks) < 2 or line.lstrip().startswith("#"):
                continue
            try:
                x, y = float(toks[0]), float(toks[1])
            except ValueError:
                continue
            xs.append(x)
            ys.append(y)
    if len(xs) < 2:
        raise ValueError(f"{path}: fewer than two numeric rows (expected columns: frequency, intensity)")
    order = np.argsort(xs)
    return np.asarray(xs)[order], np.asarray(ys)[order]


def plot_spectrum(
    spectrum: Spectrum,
    path,
    freq_unit: str = "cm-1",
    columns=None,
    compare=None,
    compare_unit: str = "cm-1",
    xlim=None,
    title: str | None = None,
    max_parts: int = 12,
) -> None:
    """Write a labelled PNG: the total with its error band, parts (up to ``max_parts``), a reference overlay.

    compare: path of a reference spectrum (frequency in ``compare_unit``, intensity in any unit: it is scaled
    to the maximum of the total over the plotted range, and the legend says by how much).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..units import frequency_factor

    x, scale = spectrum.axis(freq_unit)
    raman = spectrum.kind == "raman"
    fig, axes = plt.subplots(
        2 if raman else 1,
        1,
        figsize=(8, 6.5 if raman else 5),
        sharex=True,
        gridspec_kw={"height_ratios": [3, 1]} if raman else None,
        squeeze=False,
    )
    ax = axes[0, 0]
    names = list(columns) if columns else [k for k in spectrum.columns if k != "depolarization_ratio"]
    if raman and not columns:
        names = ["unpolarized", "parallel", "perpendicular"]
    lo, hi = xlim if xlim else (max(x[1] if len(x) > 1 else 0.0, 0.0), x[-1])
    sel = (x >= lo) & (x <= hi)
    for j, name in enumerate(names[: max_parts + 1]):
        y = spectrum.columns[name] * scale
        err = spectrum.errors.get(name)
        lw = 1.8 if j == 0 else 1.0
        (line,) = ax.plot(x, y, lw=lw, label=name)
        if err is not None and np.any(np.isfinite(err)):
            ax.fill_between(x, y - err * scale, y + err * scale, color=line.get_color(), alpha=0.25, lw=0)
    if len(names) > max_parts + 1:
        ax.plot([], [], " ", label=f"(+{len(names) - max_parts - 1} parts not drawn)")
    if compare is not None:
        rx, ry = read_reference(compare)
        rx = rx * frequency_factor(compare_unit, freq_unit)
        rsel = (rx >= lo) & (rx <= hi)
        top = np.nanmax(np.abs(spectrum.columns[names[0]][sel] * scale)) if sel.any() else 1.0
        rtop = np.nanmax(np.abs(ry[rsel])) if rsel.any() else np.nanmax(np.abs(ry))
        k = top / rtop if rtop > 0 else 1.0
        ax.plot(rx, ry * k, "k--", lw=1.2, label=f"reference {compare} (x{k:.3g})")
    ax.set_xlim(lo, hi)
    ax.set_ylabel(f"intensity [{spectrum.unit_in(freq_unit)}]")
    ax.axhline(0.0, color="0.6", lw=0.5)
    ax.legend(fontsize=8, loc="best")
    meta = spectrum.meta
    bits = [
        meta.get("qcf", "").split(":")[0] and "QCF " + meta.get("qcf", "").split(":")[0],
        meta.get("window", "").split(";")[0].split(" ")[0] and "window " + meta.get("window", "").split(" ")[0],
        meta.get("temperature", "") and "T " + meta.get("temperature", "").split(" (")[0],
    ]
    sub = ", ".join(b for b in bits if b and "not given" not in b)
    ax.set_title(
        title or f"{_KIND.get(spectrum.kind, spectrum.kind)} spectrum" + (f"\n{sub}" if sub else ""), fontsize=10
    )
    if raman:
        ax2 = axes[1, 0]
        rho = spectrum.columns["depolarization_ratio"].copy()
        par = spectrum.columns["parallel"]
        rho[par < 0.01 * np.nanmax(par[sel] if sel.any() else par)] = np.nan  # no band: no meaningful ratio
        ax2.plot(x, rho, color="C3", lw=1.0)
        err = spectrum.errors.get("depolarization_ratio")
        if err is not None and np.any(np.isfinite(err)):
            ax2.fill_between(x, rho - err, rho + err, color="C3", alpha=0.25, lw=0)
        ax2.axhline(0.75, color="0.6", lw=0.5, ls=":")
        ax2.set_ylim(0.0, 1.0)
        ax2.set_ylabel("depolarization\nratio")
    axes[-1, 0].set_xlabel(f"{FREQ_LABELS[freq_unit]} [{FREQ_UNIT_TEXT[freq_unit]}]")
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)
