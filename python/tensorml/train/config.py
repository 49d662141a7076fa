"""Training configuration: one YAML file, defaults below, paths relative to the file.

Example (``examples/training/water_eann.yaml``)::

    seed: 0
    device: cpu                  # or cuda, cuda:1 (``--device`` overrides)
    dtype: float32               # training precision (float64 for tests of derivatives)
    data:
      train: ../../data/water_clusters.extxyz.xz
      test: null                 # a separate test file; else a test split is held out
      val_fraction: 0.1
      test_fraction: 0.1         # whole molecules/clusters (system_id) per split
      split_key: split           # frames tagged info['split'] = test form the test set (tensorml.data.splits)
      max_train: null            # use only the first N training frames (learning curves)
    model:                       # tensorml.models.tensorial.TensorialModel arguments
      species: [H, O]            # default: the elements of the data
      cutoff: 4.5
      backbone: {type: eann}
      heads: {dipole: {}, polarizability: {type: atomic}}
    loss:
      weights: {dipole: 1.0, polarizability: 1.0, apt: 1.0}
      normalize: true            # divide each term by the spread of its target
      per_atom_energy: true
      sign_insensitive: false    # transition dipoles of phase-free data
    training:
      epochs: 300
      batch_size: 8
      lr: 0.003
      scheduler: {type: plateau, factor: 0.5, patience: 10, min_lr: 1.0e-5}   # or {type: exponential, gamma: 0.99}
      early_stopping: 40         # epochs without validation improvement (null: off)
      ema: 0.99                  # decay of the exponential moving average of weights (null: off)
      grad_clip: 10.0
      max_minutes: null          # stop (and export) after this wall time
    output:
      dir: out/training/water    # model, report, parity plots
      checkpoint_dir: null       # checkpoint.pt and best.pt (default: output.dir)
      model: model.pt
      export_dtype: float64
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "device": "cpu",
    "dtype": "float32",
    "data": {
        "train": None,
        "test": None,
        "val_fraction": 0.1,
        "test_fraction": 0.1,
        "max_train": None,
        "split_key": "split",
    },
    "model": {"cutoff": 4.5, "backbone": {"type": "eann"}, "heads": {"dipole": {}}},
    "loss": {"weights": None, "normalize": True, "per_atom_energy": True, "sign_insensitive": False},
    "training": {
        "epochs": 300,
        "batch_size": 8,
        "lr": 3e-3,
        "weight_decay": 0.0,
        "scheduler": {"type": "plateau", "factor": 0.5, "patience": 10, "min_lr": 1e-5},
        "early_stopping": 40,
        "ema": 0.99,
        "grad_clip": 10.0,
        "max_minutes": None,
        "eval_batch_size": 32,
    },
    "output": {
        "dir": "out/training/model",
        "checkpoint_dir": None,
        "model": "model.pt",
        "export_dtype": "float64",
        "plots": True,
    },
}

#: default loss weight of each target the data and the model both have
DEFAULT_WEIGHTS = {
    "energy": 1.0,
    "forces": 1.0,
    "dipole": 1.0,
    "polarizability": 1.0,
    "apt": 1.0,
    "transition_dipole": 1.0,
}


def merge_config(base: dict, update: dict, strict=(), opaque=(), path: str = "") -> dict:
    """``update`` merged into a copy of ``base``, section by section (the config loaders of
    ``tensorml train`` and ``tensorml train-emlp``). Keys missing from ``base`` are an error inside the
    sections named in ``strict`` ("" = the top level, "data." = the data section, ...); sections named
    in ``opaque`` are replaced whole, not merged."""
    out = copy.deepcopy(base)
    for key, value in (update or {}).items():
        if key not in base and path in strict:
            raise ValueError(f"unknown configuration key {path}{key!r}")
        if isinstance(value, dict) and isinstance(base.get(key), dict) and key not in opaque:
            out[key] = merge_config(base[key], value, strict, opaque, f"{path}{key}.")
        else:
            out[key] = copy.deepcopy(value)
    return out


def _merge(base: dict, update: dict) -> dict:
    """tensorml train: strict top level and data/loss/training/output; model, heads, ... replaced whole."""
    return merge_config(
        base,
        update,
        strict=("", "data.", "loss.", "training.", "output."),
        opaque=("model", "heads", "backbone", "weights", "scheduler"),
    )


def load_config(path: str | Path | None = None, overrides: dict | None = None) -> dict[str, Any]:
    """The configuration in ``path`` (YAML) over :data:`DEFAULTS`; relative paths resolved against its folder."""
    import yaml

    raw: dict[str, Any] = {}
    base = Path.cwd()
    if path is not None:
        path = Path(path)
        raw = yaml.safe_load(path.read_text()) or {}
        base = path.resolve().parent
    cfg = _merge(DEFAULTS, raw)
    if overrides:
        cfg = _merge(cfg, overrides)
    model = dict(DEFAULTS["model"])
    model.update(raw.get("model", {}) or {})
    model.update((overrides or {}).get("model", {}) or {})
    cfg["model"] = model
    for key in ("train", "test"):
        value = cfg["data"][key]
        if isinstance(value, (list, tuple)):
            cfg["data"][key] = [str((base / v).resolve()) for v in value]
        elif value:
            cfg["data"][key] = str((base / value).resolve())
    cfg["output"]["dir"] = str((base / cfg["output"]["dir"]).resolve())
    if cfg["output"]["checkpoint_dir"]:
        cfg["output"]["checkpoint_dir"] = str((base / cfg["output"]["checkpoint_dir"]).resolve())
    if not cfg["data"]["train"]:
        raise ValueError("the configuration needs data.train (a labelled extxyz file)")
    if cfg["dtype"] not in ("float32", "float64"):
        raise ValueError(f"dtype must be float32 or float64, got {cfg['dtype']!r}")
    sched = cfg["training"]["scheduler"] or {"type": "none"}
    if sched.get("type", "plateau") not in ("plateau", "exponential", "none"):
        raise ValueError(f"scheduler type must be plateau, exponential or none, got {sched.get('type')!r}")
    return cfg
