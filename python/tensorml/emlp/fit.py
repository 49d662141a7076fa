"""Train an eMLP from a YAML configuration, export it and write its test report (``tensorml train-emlp``).

Configuration (paths relative to the file; ``models/emlp/config.yaml`` is the shipped one)::

    seed: 0
    data:
      file: ../../data/emlp_molecules.extxyz.xz      # frames with Boys centres ('X' atoms), energy, forces
      polarizabilities: null     # optional: molecules with 'X' pairs and a 'polarizability' label (Table 5)
      val_fraction: 0.1          # of the training frames (info['split'] != 'test'), random
    model: {species: [H, C, N, O], preset: small}   # default table3 (seed); + overrides (features, ...)
    training:
      epochs: 200
      batch_size: 8
      lr: 1.0e-3
      halving_epochs: 30         # learning rate halved every N epochs (seed: 30)
      augment_fraction: 0.1      # share of every mini-batch replaced by displaced-pair frames (eq. 30)
      max_minutes: 15
      weights: {energy: 1.0, forces: 1.0, pair_forces: 1.0}
    evaluation:
      stability: {molecules: [HCOOH], steps: 1000, timestep: 0.5, temperature: 300}
    output: {dir: ., model: model.pt}

Energies: before training, the per-element reference energies (eq. 32 is linear in the element
counts) are fitted by least squares to the training labels minus the untrained model, so the
network learns only what the electrostatics and the linear reference miss.  The weights with the
lowest validation cost are exported (float64).  The report holds the static and dynamic errors of
:mod:`tensorml.emlp.errors` (seed Tables 4-5) on the test frames and, optionally, the NVE
stability (:mod:`tensorml.emlp.stability`) of the listed molecules.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

DEFAULTS = {
    "seed": 0,
    "data": {"file": None, "polarizabilities": None, "val_fraction": 0.1},
    "model": {"species": None, "preset": "table3"},
    "training": {
        "epochs": 200,
        "batch_size": 8,
        "lr": 1e-3,
        "halving_epochs": 30,
        "augment_fraction": 0.1,
        "max_minutes": 15.0,
        "weights": {"energy": 1.0, "forces": 1.0, "pair_forces": 1.0},
    },
    "evaluation": {"stability": None},
    "output": {"dir": ".", "model": "model.pt"},
}


def load_config(path, overrides: dict | None = None) -> dict:
    import yaml

    path = Path(path)
    from ..train.config import merge_config

    cfg = merge_config(merge_config(DEFAULTS, yaml.safe_load(path.read_text()) or {}), overrides or {})
    unknown = set(cfg) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"{path}: unknown section(s) {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    if not cfg["data"]["file"]:
        raise ValueError(f"{path}: data.file (the training data) is missing")
    for section, key in (("data", "file"), ("data", "polarizabilities"), ("output", "dir")):
        value = cfg[section][key]
        if value and not Path(value).is_absolute():
            cfg[section][key] = str((path.parent / value).resolve())
    return cfg


def fit_reference_energies(model, frames, species) -> dict:
    """Least-squares per-element energies (eV) of labels minus the model (eq. 32 form); sets them."""
    from .cost import predict

    model.reference_table.zero_()
    counts = np.array([[np.sum(f.numbers == z) for z in species] for f in frames], dtype=float)
    residual = np.array(
        [f.energy - float(predict(model, f, stress=False, create_graph=False)["energy"]) for f in frames]
    )
    coef, *_ = np.linalg.lstsq(counts, residual, rcond=None)
    refs = {int(z): float(c) for z, c in zip(species, coef)}
    model.set_reference_energies(refs)
    return refs


def _polarizability_molecules(path):
    from ..data import read_dataset

    out = []
    for atoms in read_dataset(path):
        out.append(
            (
                atoms.positions,
                atoms.numbers,
                np.asarray(atoms.info["electron_pairs"]).reshape(-1, 3),
                np.asarray(atoms.info["polarizability"]).reshape(3, 3),
            )
        )
    return out


def run(cfg: dict, progress=print, evaluate_only: bool = False) -> dict:
    """Train, export and evaluate; returns the report (also written to output.dir).

    ``evaluate_only``: skip training, evaluate the model already in output.dir (same splits) and keep
    the training record of its report.json."""
    from ase.data import atomic_numbers

    from ..data import read_dataset
    from .augment import AugmentOptions
    from .cost import CostWeights
    from .errors import error_tables
    from .errors import linear_reference
    from .export import export_contract, load_emlp_model
    from .frames import frames_from_atoms
    from .model import EMLPModel, build_config
    from .train import train_emlp

    out_dir = Path(cfg["output"]["dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    atoms = read_dataset(cfg["data"]["file"])
    frames = frames_from_atoms(atoms)
    is_test = np.array([a.info.get("split") == "test" for a in atoms])
    rng = np.random.default_rng(cfg["seed"])
    train_idx = np.nonzero(~is_test)[0]
    rng.shuffle(train_idx)
    n_val = int(round(cfg["data"]["val_fraction"] * len(train_idx)))
    val = [frames[i] for i in train_idx[:n_val]]
    train = [frames[i] for i in train_idx[n_val:]]
    test_idx = np.nonzero(is_test)[0]
    test = [frames[i] for i in test_idx]
    if not train or not test:
        raise ValueError(
            f"{cfg['data']['file']}: {len(train)} training and {len(test)} test frames "
            "(the test frames carry info['split'] = 'test')"
        )
    species = cfg["model"]["species"] or sorted({int(z) for f in frames for z in f.numbers})
    species = sorted(atomic_numbers[z] if isinstance(z, str) else int(z) for z in species)
    schnet = {k: v for k, v in cfg["model"].items() if k not in ("species", "preset")}
    model_path = out_dir / cfg["output"]["model"]
    if evaluate_only:
        model = load_emlp_model(model_path)
        record = json.loads((out_dir / "report.json").read_text())
        refs, history, train_seconds = record["reference_energies_eV"], record["history"], record["train_seconds"]
    else:
        torch.manual_seed(cfg["seed"])
        model = EMLPModel(build_config(species, preset=cfg["model"]["preset"], seed=cfg["seed"], **schnet))
        refs = fit_reference_energies(model, train, species)
        t = cfg["training"]
        history = []

        def log(entry):
            history.append(entry)
            progress(
                f"epoch {entry['epoch']:4d}  train {entry['train_cost']:.5f}  "
                f"validation {entry.get('validation_cost', float('nan')):.5f}  lr {entry['lr']:.2e}  "
                f"{entry['seconds']:.0f} s"
            )

        start = time.monotonic()
        train_emlp(
            model,
            train,
            epochs=int(t["epochs"]),
            lr=float(t["lr"]),
            batch_size=int(t["batch_size"]),
            weights=CostWeights(**t["weights"]),
            augment_fraction=float(t["augment_fraction"]),
            augment_options=AugmentOptions(),
            halving_epochs=t["halving_epochs"],
            seed=cfg["seed"],
            validation=val,
            max_minutes=t["max_minutes"],
            log=log,
        )
        train_seconds = time.monotonic() - start
        export_contract(model, model_path, dtype="float64")  # format 3: LAMMPS, i-PI and ASE read it
        progress(f"exported {model_path}")
    progress(f"evaluating on {len(test)} test frames")
    molecules = _polarizability_molecules(cfg["data"]["polarizabilities"]) if cfg["data"]["polarizabilities"] else None
    dipoles = [np.asarray(atoms[i].info["dipole"]) for i in test_idx]
    report = {
        "config": cfg,
        "frames": {"train": len(train), "validation": len(val), "test": len(test)},
        "test_molecules": sorted({str(atoms[i].info.get("system_id")) for i in test_idx}),
        "reference_energies_eV": refs,
        "train_seconds": train_seconds,
        "epochs": len(history),
        "history": history,
        # the baseline of the intrinsic variability: per-element energies fitted on the training labels
        "errors": error_tables(model, test, dipoles, species, molecules, reference=linear_reference(train, species)),
    }
    stab = cfg["evaluation"].get("stability")
    if stab:
        from ase.build import molecule

        from .stability import nve_stability

        runs = {}
        for name in stab["molecules"]:
            runs[name] = nve_stability(
                model,
                molecule(name),
                temperature=float(stab.get("temperature", 300.0)),
                steps=int(stab.get("steps", 1000)),
                timestep=float(stab.get("timestep", 0.5)),
                seed=cfg["seed"],
            )
            progress(f"NVE {name}: {runs[name]['regime']}, max jump {runs[name]['max_jump_eV']:.2e} eV/atom")
        report["stability"] = runs
    (out_dir / "report.json").write_text(json.dumps(report, indent=1, default=float))
    (out_dir / "report.md").write_text(report_markdown(report))
    return report


def report_markdown(report: dict) -> str:
    """The report as Markdown tables in the layout of the seed's Tables 4 and 5."""
    e = report["errors"]
    intr, st, dy = e["intrinsic"], e["static"], e["dynamic"]
    t = report["config"]["training"]
    lines = [
        "# eMLP test report",
        "",
        f"Training: {report['frames']['train']} frames ({report['frames']['validation']} validation), "
        f"{report['epochs']} epochs in {report['train_seconds'] / 60:.1f} min, augmentation fraction "
        f"{t['augment_fraction']}; test: {report['frames']['test']} frames of the unseen molecules "
        f"{', '.join(report['test_molecules'])}. Errors are absolute errors per atom (energy) or per Cartesian "
        "component (forces, polarizability); the intrinsic variability is the MAE of a constant model (the mean), "
        "energies taken relative to per-element energies fitted on the training labels.",
        "",
        "## Static errors (pairs at the Boys centres; seed Table 4)",
        "",
        "| | energy [meV/atom] | forces [meV/angstrom] | electron pair forces [meV/angstrom] |",
        "|---|---|---|---|",
        f"| intrinsic variability (MAE) | {intr['energy_meV_per_atom']:.1f} | {intr['forces_meV_per_A']:.1f} | "
        f"{intr['pair_forces_meV_per_A']:.1f} |",
        f"| MAE | {st['energy_meV_per_atom']['mae']:.2f} | {st['forces_meV_per_A']['mae']:.1f} | "
        f"{st['pair_forces_meV_per_A']['mae']:.1f} |",
        f"| median error | {st['energy_meV_per_atom']['median']:.2f} | {st['forces_meV_per_A']['median']:.1f} | "
        f"{st['pair_forces_meV_per_A']['median']:.1f} |",
        "",
        "## Dynamic errors (pairs relaxed; seed Table 5)",
        "",
        "| | energy [meV/atom] | forces [meV/angstrom] | dipole norm [Debye] | polarizability [bohr^3] |",
        "|---|---|---|---|---|",
    ]
    pol = e.get("polarizability")
    pol_mae = f"{pol['polarizability_bohr3']['mae']:.2f}" if pol else "-"
    pol_med = f"{pol['polarizability_bohr3']['median']:.2f}" if pol else "-"
    pol_rate = f"{100 * pol['error_rate']:.1f} % of {pol['molecules']}" if pol else "-"
    lines += [
        f"| intrinsic variability (MAE) | {intr['energy_meV_per_atom']:.1f} | {intr['forces_meV_per_A']:.1f} | "
        f"{intr.get('dipole_norm_D', float('nan')):.3f} | - |",
        f"| MAE | {dy['energy_meV_per_atom']['mae']:.2f} | {dy['forces_meV_per_A']['mae']:.1f} | "
        f"{dy['dipole_norm_D']['mae']:.3f} | {pol_mae} |",
        f"| median error | {dy['energy_meV_per_atom']['median']:.2f} | {dy['forces_meV_per_A']['median']:.1f} | "
        f"{dy['dipole_norm_D']['median']:.3f} | {pol_med} |",
        f"| error rate (failed relaxations) | | {100 * dy['error_rate']:.1f} % of {dy['frames']} | | {pol_rate} |",
    ]
    if pol and pol["isotropic_bohr3"]:
        lines += [
            "",
            "Isotropic polarizabilities (eMLP / reference, bohr^3): "
            + ", ".join(f"{a:.2f} / {b:.2f}" for a, b in pol["isotropic_bohr3"]),
        ]
    if "stability" in report:
        lines += [
            "",
            "## NVE stability (seed Figure 4 criteria)",
            "",
            "| molecule | atoms | steps x fs | drift [eV/fs per atom] | max jump [eV per atom] | regime |",
            "|---|---|---|---|---|---|",
        ]
        for name, r in report["stability"].items():
            regime = r["regime"] + (f" at step {r['failed_step']}" if r["regime"] == "failed" else "")
            lines.append(
                f"| {name} | {r['atoms']} | {r['steps']} x {r['timestep_fs']} | {r['slope_eV_per_fs']:.2e} | "
                f"{r['max_jump_eV']:.2e} | {regime} |"
            )
    return "\n".join(lines) + "\n"
