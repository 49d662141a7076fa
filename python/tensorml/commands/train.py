"""tensorml train: train a tensorial model from a YAML configuration, export it, write its report."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a model (dipoles, polarizabilities, APTs, energies) from labelled extxyz data",
        description="Train the model described in CONFIG (YAML; see tensorml.train.config and "
        "examples/training/). Checkpoints every epoch and on Ctrl-C; --resume continues. At the end the "
        "best weights are exported and evaluated: model file, report.md/report.json and parity plots "
        "in the output folder.",
    )
    p.add_argument("config", help="training configuration (YAML)")
    p.add_argument("--device", help="cpu, cuda or cuda:N (overrides the configuration)")
    p.add_argument("--dtype", choices=["float32", "float64"], help="training precision (overrides)")
    p.add_argument("-o", "--output-dir", help="output folder (overrides output.dir)")
    p.add_argument("--epochs", type=int, help="number of epochs (overrides training.epochs)")
    p.add_argument("--max-minutes", type=float, help="stop and export after this wall time (overrides)")
    p.add_argument("--max-train", type=int, help="use only N training frames (learning curves)")
    p.add_argument("--train-data", nargs="+", metavar="FILE", help="training data file(s) (overrides data.train)")
    p.add_argument("--seed", type=int, help="random seed (overrides)")
    p.add_argument(
        "--resume",
        nargs="?",
        const=True,
        default=None,
        metavar="CHECKPOINT",
        help="continue from OUTPUT_DIR/checkpoint.pt (or the given checkpoint)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar (one line per epoch only)")
    p.set_defaults(func=run)


def _shown(path) -> str:
    """A path as the user would type it: relative to the working folder when inside it, quoted for a shell."""
    import shlex
    from pathlib import Path

    path = Path(path).resolve()
    try:
        text = str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        text = str(path)
    return shlex.quote(text)


def missing_dataset_message(path, where: str) -> str:
    """'no such dataset file X (where); make it with ...': the commands that write a labelled dataset at X."""
    shown = _shown(path)
    return "\n".join(
        [
            f"no such dataset file: {shown} ({where}); make it with",
            f"  python -m tensorml.train.synthetic {shown} --frames 200",
            "(synthetic water clusters labelled by the reference model: a smoke test, no quantum chemistry), or",
            f"  tensorml label STRUCTURES -o {shown}",
            "(PySCF reference labels of your structures: tensorml label --help), or point the configuration "
            "(or --train-data) at an existing file",
        ]
    )


def check_data_files(cfg: dict, config_path, from_cli: bool = False) -> None:
    """FileNotFoundError naming a missing data.train/data.test file, its source and the commands that make it."""
    from pathlib import Path

    for key in ("train", "test"):
        paths = cfg["data"][key] or []
        for path in paths if isinstance(paths, (list, tuple)) else [paths]:
            if not Path(path).exists():
                where = "--train-data" if key == "train" and from_cli else f"data.{key} of {config_path}"
                raise FileNotFoundError(missing_dataset_message(path, where))


def run(args) -> int:
    from pathlib import Path

    from ..train import load_config, run_training

    overrides: dict = {}
    if args.device:
        overrides["device"] = args.device
    if args.dtype:
        overrides["dtype"] = args.dtype
    if args.seed is not None:
        overrides["seed"] = args.seed
    if args.epochs is not None:
        overrides.setdefault("training", {})["epochs"] = args.epochs
    if args.max_minutes is not None:
        overrides.setdefault("training", {})["max_minutes"] = args.max_minutes
    if args.max_train is not None:
        overrides.setdefault("data", {})["max_train"] = args.max_train
    if args.train_data:
        overrides.setdefault("data", {})["train"] = [str(Path(p).resolve()) for p in args.train_data]
    cfg = load_config(args.config, overrides)
    check_data_files(cfg, args.config, from_cli=bool(args.train_data))
    if args.output_dir:
        cfg["output"]["dir"] = str(Path(args.output_dir).resolve())
    if cfg["device"].startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise RuntimeError(f"device {cfg['device']!r} requested but CUDA is not available")
    result = run_training(cfg, resume=args.resume, progress=False if args.no_progress else None)
    return 130 if result.get("interrupted") else 0
