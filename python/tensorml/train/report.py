"""Accuracy report of an exported model on labelled frames: RMSE/MAE per target and per element, parity plots.

Used by ``tensorml evaluate model.pt data.xyz`` and at the end of ``tensorml train`` (on the
exported file, i.e. exactly what LAMMPS/i-PI/ASE users get).  Values are compared in metal
units (eV, eV/angstrom, e*angstrom, angstrom^3, e); dipoles and polarizabilities are also
given in atomic units (e*bohr, bohr^3) for comparison with the literature (EANN seed: 0.004 au
and 0.020 au on N-methylacetamide).  Transition dipoles are compared after choosing, per frame,
the sign that matches (their phase is arbitrary).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .. import units as U
from .data import frame_labels

#: report target -> (contract output, per atom, unit)
REPORT_TARGETS = {
    "energy": ("energy", False, "eV"),
    "energy_per_atom": ("energy", False, "eV/atom"),
    "forces": ("forces", True, "eV/angstrom"),
    "dipole": ("dipole", False, "e*angstrom"),
    "polarizability": ("polarizability", False, "angstrom^3"),
    "apt": ("apt", True, "e"),
    "transition_dipole": ("transition_dipole", False, "e*angstrom"),
}
#: metal -> atomic units for the comparison with the seeds
AU_FACTORS = {
    "dipole": U.factor(U.DIPOLE, U.METAL, U.ATOMIC),
    "transition_dipole": U.factor(U.DIPOLE, U.METAL, U.ATOMIC),
    "polarizability": U.factor(U.POLARIZABILITY, U.METAL, U.ATOMIC),
}


def predict(model, frames: Sequence, batch_size: int = 32) -> tuple[dict[str, list], dict[str, list], list]:
    """Predictions and references per report target (metal units), and atomic numbers per frame.

    ``model``: a :class:`tensorml.runtime.ExportedModel`.
    """
    from ..contract import OUTPUTS
    from ..runtime import System

    labels = [frame_labels(a) for a in frames]
    wanted = []
    for target, (output, _, _) in REPORT_TARGETS.items():
        key = "energy" if target == "energy_per_atom" else target
        if output in model.outputs and any(key in lab for lab in labels) and output not in wanted:
            wanted.append(output)
    preds: dict[str, list] = {t: [] for t in REPORT_TARGETS}
    refs: dict[str, list] = {t: [] for t in REPORT_TARGETS}
    numbers: list = []
    factors = {o: U.factor(OUTPUTS[o].dim, model.units, U.METAL) for o in wanted}
    for start in range(0, len(frames), batch_size):
        chunk = frames[start : start + batch_size]
        systems = [System.from_atoms(a, model.units, efield_V_per_A=a.info.get("efield")) for a in chunk]
        results = model.evaluate(systems, wanted) if wanted else [{} for _ in chunk]
        for a, lab, res in zip(chunk, labels[start : start + batch_size], results):
            numbers.append(np.asarray(a.numbers))
            for target, (output, _, _) in REPORT_TARGETS.items():
                key = "energy" if target == "energy_per_atom" else target
                if output not in res or key not in lab:
                    preds[target].append(None)
                    refs[target].append(None)
                    continue
                p = np.asarray(res[output]) * factors[output]
                r = np.asarray(lab[key], dtype=float)
                if target == "energy_per_atom":
                    p, r = p / len(a), r / len(a)
                if target == "transition_dipole" and np.sum((p + r) ** 2) < np.sum((p - r) ** 2):
                    r = -r
                preds[target].append(p)
                refs[target].append(r)
    return preds, refs, numbers


def metrics(preds: dict[str, list], refs: dict[str, list], numbers: list) -> dict[str, Any]:
    from ase.data import chemical_symbols

    out: dict[str, Any] = {}
    for target, (_, per_atom, unit) in REPORT_TARGETS.items():
        pairs = [(p, r, z) for p, r, z in zip(preds[target], refs[target], numbers) if p is not None]
        if not pairs:
            continue
        p = np.concatenate([np.reshape(x[0], -1) for x in pairs])
        r = np.concatenate([np.reshape(x[1], -1) for x in pairs])
        err = p - r
        entry: dict[str, Any] = {
            "frames": len(pairs),
            "values": int(err.size),
            "unit": unit,
            "rmse": float(np.sqrt(np.mean(err**2))),
            "mae": float(np.mean(np.abs(err))),
            "r2": float(1.0 - np.sum(err**2) / max(np.sum((r - r.mean()) ** 2), 1e-300)),
            "ref_std": float(np.std(r)),
        }
        if target in AU_FACTORS:
            entry["rmse_au"] = entry["rmse"] * AU_FACTORS[target]
            entry["mae_au"] = entry["mae"] * AU_FACTORS[target]
        if per_atom:
            z = np.concatenate([np.repeat(x[2], np.size(x[0]) // len(x[2])) for x in pairs])
            per_el = {}
            for el in np.unique(z):
                e = err[z == el]
                per_el[chemical_symbols[int(el)]] = {
                    "values": int(e.size),
                    "rmse": float(np.sqrt(np.mean(e**2))),
                    "mae": float(np.mean(np.abs(e))),
                }
            entry["per_element"] = per_el
        out[target] = entry
    return out


def format_table(report: dict[str, Any], title: str = "") -> str:
    lines = []
    if title:
        lines.append(f"### {title}")
        lines.append("")
    lines.append("| target | frames | RMSE | MAE | unit | R^2 | RMSE (au) | per element RMSE |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for target, m in report.items():
        au = f"{m['rmse_au']:.4g}" if "rmse_au" in m else ""
        per_el = ", ".join(f"{el} {v['rmse']:.4g}" for el, v in m.get("per_element", {}).items())
        lines.append(
            f"| {target} | {m['frames']} | {m['rmse']:.4g} | {m['mae']:.4g} | {m['unit']} | "
            f"{m['r2']:.5f} | {au} | {per_el} |"
        )
    return "\n".join(lines)


def parity_plots(
    preds: dict[str, list],
    refs: dict[str, list],
    numbers: list,
    directory: str | Path,
    prefix: str = "parity",
    label: str = "",
) -> list[Path]:
    """One PNG per target: predicted vs reference components (per-atom targets coloured by element)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from ase.data import chemical_symbols

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for target, (_, per_atom, unit) in REPORT_TARGETS.items():
        if target == "energy":
            continue  # energy per atom is plotted
        pairs = [(p, r, z) for p, r, z in zip(preds[target], refs[target], numbers) if p is not None]
        if not pairs:
            continue
        fig, ax = plt.subplots(figsize=(4.2, 4.0), dpi=110)
        if per_atom:
            p = np.concatenate([np.reshape(x[0], (len(x[2]), -1)) for x in pairs])
            r = np.concatenate([np.reshape(x[1], (len(x[2]), -1)) for x in pairs])
            z = np.concatenate([x[2] for x in pairs])
            for el in np.unique(z):
                ax.scatter(r[z == el].ravel(), p[z == el].ravel(), s=3, alpha=0.5, label=chemical_symbols[int(el)])
            ax.legend(markerscale=3, fontsize=8)
        else:
            p = np.concatenate([np.reshape(x[0], -1) for x in pairs])
            r = np.concatenate([np.reshape(x[1], -1) for x in pairs])
            ax.scatter(r, p, s=4, alpha=0.6)
        lo = float(min(np.min(r), np.min(p)))
        hi = float(max(np.max(r), np.max(p)))
        ax.plot([lo, hi], [lo, hi], "k-", lw=0.7)
        rmse = float(np.sqrt(np.mean((np.ravel(p) - np.ravel(r)) ** 2)))
        ax.set_xlabel(f"reference {target} ({unit})")
        ax.set_ylabel(f"model {target} ({unit})")
        ax.set_title(f"{label} {target}: RMSE {rmse:.3g} {unit}".strip(), fontsize=9)
        fig.tight_layout()
        path = directory / f"{prefix}_{target}.png"
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    return written


def evaluate_frames(
    model,
    frames: Sequence,
    batch_size: int = 32,
    plots_dir: str | Path | None = None,
    label: str = "",
    prefix: str = "parity",
) -> dict[str, Any]:
    preds, refs, numbers = predict(model, frames, batch_size)
    report = metrics(preds, refs, numbers)
    if plots_dir is not None:
        parity_plots(preds, refs, numbers, plots_dir, prefix=prefix, label=label)
    return report


def write_json(obj: Any, path: str | Path) -> None:
    Path(path).write_text(json.dumps(obj, indent=1, default=float) + "\n")
