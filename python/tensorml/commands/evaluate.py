"""tensorml evaluate: accuracy of an exported model on labelled data (RMSE/MAE per target and element).

``--split train|val|test`` scores only the frames of one split of the model's training run.  An
exported model file records no split, so the split is reproduced from the run's own files
(:func:`find_split_record`): its ``checkpoint.pt`` (the frame indices of every split), else its
``best.pt`` or training configuration (seed, fractions and data files: the split is recomputed by
:func:`tensorml.train.data.training_split`, as ``tensorml train`` made it).  The data given must be
the run's data files (all of data.train, in any order, and/or its data.test files).
"""

from __future__ import annotations

from dataclasses import dataclass, field

SPLITS = ("all", "train", "val", "test")
#: files next to a model that may say how its training data were split, in the order they are tried
SPLIT_FILES = ("checkpoint.pt", "best.pt", "config.yaml")


def register(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="report the errors of an exported model on a labelled dataset",
        description="Evaluate MODEL (an exported .pt file) on DATA (extxyz with energy/forces/dipole/"
        "polarizability/apt labels, any file tensorml.data.read_dataset reads) and print RMSE and MAE "
        "per target and per element (the report tensorml train writes). With --split, only the frames "
        "of one split of the model's training run are scored (the split is reproduced from the run's "
        "checkpoint or configuration).",
    )
    p.add_argument("model", help="exported model file")
    p.add_argument("data", nargs="+", help="labelled dataset file(s)")
    p.add_argument(
        "--split",
        choices=SPLITS,
        default="all",
        help="frames to score: all (default: every frame of DATA, training frames included), or the "
        "train / val / test frames of the training run (test: the frames it held out); DATA must then be "
        "the run's data files",
    )
    p.add_argument(
        "--split-from",
        metavar="FILE",
        help="how the training run split its data: its checkpoint.pt (frame indices), best.pt or "
        "configuration YAML (split recomputed from the seed, fractions and data files). Default: the "
        f"first of {', '.join(SPLIT_FILES)} next to MODEL that belongs to it",
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--batch-size", type=int, default=32, help="frames per model call")
    p.add_argument("--plots", metavar="DIR", help="write parity plots (PNG) into DIR")
    p.add_argument("--json", metavar="FILE", help="also write the metrics as JSON (with the split scored)")
    p.set_defaults(func=run)


@dataclass
class SplitRecord:
    """What a training run says about its split: data files, split settings, frame indices when recorded."""

    source: str
    train_files: list[str]
    test_files: list[str]
    data_cfg: dict
    seed: int
    model_path: str | None = None  # the model file the run writes
    indices: dict | None = None  # {"train": [...], "val": [...], "test": [...], "n_frames": N, "how": ...}
    notes: list[str] = field(default_factory=list)

    @property
    def recomputed(self) -> bool:
        return self.indices is None


def _as_list(value) -> list[str]:
    if not value:
        return []
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]


def _record(cfg: dict, source: str, indices=None) -> SplitRecord:
    from pathlib import Path

    out = cfg.get("output", {})
    model = str(Path(out["dir"]) / out.get("model", "model.pt")) if out.get("dir") else None
    return SplitRecord(
        source=source,
        train_files=_as_list(cfg["data"]["train"]),
        test_files=_as_list(cfg["data"].get("test")),
        data_cfg=dict(cfg["data"]),
        seed=int(cfg.get("seed", 0)),
        model_path=model,
        indices=indices,
    )


def load_split_record(path) -> SplitRecord:
    """The split record of a training checkpoint (checkpoint.pt, best.pt) or training configuration (YAML)."""
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    if path.suffix.lower() in (".yaml", ".yml"):
        from ..train import load_config

        return _record(load_config(path), f"{path} (training configuration: split recomputed)")
    from .. import checkpoint

    state = checkpoint.load(path)
    cfg = state.get("train_config")
    if not cfg:
        raise ValueError(f"{path}: a checkpoint without its training configuration: it cannot say how data were split")
    split = state.get("split")
    if split:
        return _record(cfg, f"{path} (frame indices of the training run)", dict(split))
    return _record(cfg, f"{path} (its training configuration: split recomputed)")


def find_split_record(model_path) -> tuple[SplitRecord | None, list[str]]:
    """(record, why others were skipped) from the files next to the model that belong to its training run."""
    from pathlib import Path

    model = Path(model_path).resolve()
    skipped = []
    for name in SPLIT_FILES:
        f = model.parent / name
        if not f.is_file():
            continue
        try:
            rec = load_split_record(f)
        except (ValueError, OSError, KeyError, TypeError) as err:
            skipped.append(f"{f}: {err}")
            continue
        if rec.model_path and Path(rec.model_path).resolve() == model:
            return rec, skipped
        skipped.append(f"{f} belongs to the model {rec.model_path}, not {model}")
    return None, skipped


def _no_record_error(model_path, split: str, skipped) -> ValueError:
    from pathlib import Path

    folder = Path(model_path).resolve().parent
    tried = "; ".join(skipped) if skipped else f"none of {', '.join(SPLIT_FILES)} in {folder}"
    return ValueError(
        f"--split {split}: {model_path} does not record how its training data were split (an exported model "
        "carries no split). Reproducing it needs a file of the training run: its checkpoint.pt (frame indices; "
        "in output.checkpoint_dir, by default next to the model) or its training configuration (YAML: seed, "
        f"val/test fractions, data files). Give one with --split-from FILE (tried: {tried})"
    )


def _match(path, candidates: list[str]) -> tuple[int | None, bool]:
    """(index of the candidate that is this file, matched by name only)."""
    from pathlib import Path

    p = Path(path).resolve()
    for k, c in enumerate(candidates):
        if Path(c).resolve() == p:
            return k, False
    same = [k for k, c in enumerate(candidates) if Path(c).name == p.name]
    if len(same) == 1:
        return same[0], True
    return None, False


def select_split(record: SplitRecord, data: list[str], frames: list[list], split: str, cutoff: float, model_path):
    """(frames of ``split``, description): the given data files' frames that the training run put in ``split``."""
    import json
    from pathlib import Path

    from ..train import data as D

    train_of: dict[int, int] = {}  # position in data.train -> position in `data`
    test_given: list[int] = []
    notes = []
    for j, path in enumerate(data):
        k, by_name = _match(path, record.train_files)
        if k is not None:
            train_of[k] = j
        else:
            k, by_name = _match(path, record.test_files)
            if k is None:
                raise ValueError(
                    f"--split {split}: {path} is not a data file of the training run ({record.source}: data.train "
                    f"{record.train_files}, data.test {record.test_files or 'none'}); give the run's own data files"
                )
            test_given.append(j)
        if by_name:
            notes.append(f"{path} taken for the run's {Path((record.train_files + record.test_files)[k]).name}")
    n_train = len(record.train_files)
    if train_of and len(train_of) != n_train:
        missing = [f for k, f in enumerate(record.train_files) if k not in train_of]
        raise ValueError(f"--split {split}: the split indexes the frames of all of data.train; give also {missing}")
    if not train_of and (split in ("train", "val") or not record.test_files):
        raise ValueError(f"--split {split} needs the run's data.train file(s) {record.train_files}")
    if split == "test" and record.test_files and len(test_given) != len(record.test_files):
        raise ValueError(f"--split test: the run's test set is (also) data.test {record.test_files}; give it too")
    selected, counts = [], {}
    if train_of:
        pool = [a for k in range(n_train) for a in frames[train_of[k]]]
        if record.indices is not None:
            n_rec = record.indices.get("n_frames", len(pool))
            if n_rec != len(pool):
                raise ValueError(
                    f"--split {split}: {record.source} splits {n_rec} frames, the data.train files given hold "
                    f"{len(pool)}: not the data the model was trained on"
                )
            idx = {k: list(record.indices[k]) for k in ("train", "val", "test")}
            how = record.indices.get("how", "")
        else:
            samples = D.make_samples(pool, cutoff, record.data_cfg.get("split_key"))
            tr, va, te, how = D.training_split(samples, record.data_cfg, record.seed, bool(record.test_files))
            idx = {"train": tr, "val": va, "test": te}
        counts = {k: len(v) for k, v in idx.items()}
        selected = [pool[i] for i in idx[split]]
    else:
        how = "the run's data.test file(s)"
    if split == "test":
        test_frames = [a for j in test_given for a in frames[j]]
        selected += test_frames
        if train_of:
            counts["test"] += len(test_frames)
    report = Path(model_path).resolve().parent / "report.json"
    if train_of and report.is_file():  # the split the run reported must be the one reproduced
        try:
            info = json.loads(report.read_text())
        except ValueError:
            info = {}
        ran = info.get("data") if info.get("model") == Path(model_path).name else None
        keys = ("train", "val", "test") if (split == "test" or not record.test_files) else ("train", "val")
        if isinstance(ran, dict) and any(ran.get(k) != counts.get(k) for k in keys):
            raise ValueError(
                f"--split {split}: the split reproduced from {record.source} has "
                + ", ".join(f"{counts.get(k)} {k}" for k in keys)
                + f" frames, but {report} says "
                + ", ".join(f"{ran.get(k)} {k}" for k in keys)
                + ": the data or the configuration changed since training (or the run used --seed/--max-train/"
                "--train-data overrides: give its checkpoint.pt with --split-from)"
            )
    desc = ("held out by the training run; " if split == "test" else "") + f"the run's split: {how}"
    desc += f"; from {record.source}"
    if notes:
        desc += "; " + "; ".join(notes)
    return selected, desc


def run(args) -> int:
    import sys

    from ..runtime import ExportedModel
    from ..train.data import read_frames
    from ..train.report import evaluate_frames, format_table, write_json

    model = ExportedModel.load(args.model, device=args.device)
    per_file = [read_frames(path) for path in args.data]
    if args.split == "all":
        frames = [a for f in per_file for a in f]
        detail = "train and test together"
    else:
        if args.split_from:
            record = load_split_record(args.split_from)
        else:
            record, skipped = find_split_record(args.model)
            if record is None:
                raise _no_record_error(args.model, args.split, skipped)
        from pathlib import Path

        if args.split_from and record.model_path and Path(record.model_path).resolve() != Path(args.model).resolve():
            print(
                f"tensorml evaluate: warning: {args.split_from} is the run of {record.model_path}, not "
                f"{args.model}: its split is used as given",
                file=sys.stderr,
            )
        frames, detail = select_split(record, args.data, per_file, args.split, model.cutoff, args.model)
        if not frames:
            raise ValueError(f"--split {args.split}: the training run has no {args.split} frames ({detail})")
    summary = f"split: {args.split} ({len(frames)} frames; {detail})"
    label = "" if args.split == "all" else args.split
    report = evaluate_frames(model, frames, args.batch_size, plots_dir=args.plots, label=label)
    if not report:
        raise ValueError(f"no labels in {args.data} that the model predicts (it provides {model.outputs})")
    print(summary)
    title = f"{args.model} on {', '.join(args.data)} ({len(frames)} frames, split {args.split})"
    print(format_table(report, title))
    if args.json:
        write_json({**report, "split": {"name": args.split, "frames": len(frames), "detail": detail}}, args.json)
    return 0
