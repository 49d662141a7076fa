"""tensorml train-emlp: train an explicit-electron model (eMLP), export it and write its test report."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser(
        "train-emlp",
        help="train an eMLP (electron pairs as particles) on Boys-centre data; report seed Tables 4-5",
        description="Train the eMLP described in CONFIG (YAML; see tensorml.emlp.fit and models/emlp/config.yaml) "
        "on energies, core forces and electron-pair forces (eq. 31), with displaced-pair augmentation (eq. 30). "
        "The best validation weights are exported; report.md/report.json hold the static and dynamic test "
        "errors, the failed-relaxation rate and, if configured, NVE stability runs.",
    )
    p.add_argument("config", help="training configuration (YAML)")
    p.add_argument("-o", "--output-dir", help="output folder (overrides output.dir)")
    p.add_argument("--epochs", type=int, help="number of epochs (overrides training.epochs)")
    p.add_argument("--max-minutes", type=float, help="stop training after this wall time (overrides)")
    p.add_argument("--augment-fraction", type=float, help="share of augmented frames per mini-batch (overrides)")
    p.add_argument("--stability-steps", type=int, help="NVE steps per molecule (overrides; 0: no NVE runs)")
    p.add_argument("--seed", type=int, help="random seed (overrides)")
    p.add_argument(
        "--evaluate-only",
        action="store_true",
        help="do not train: evaluate the model already in the output folder and rewrite its report",
    )
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from ..emlp.fit import load_config, run as fit

    overrides: dict = {"training": {}}
    if args.epochs is not None:
        overrides["training"]["epochs"] = args.epochs
    if args.max_minutes is not None:
        overrides["training"]["max_minutes"] = args.max_minutes
    if args.augment_fraction is not None:
        overrides["training"]["augment_fraction"] = args.augment_fraction
    if args.seed is not None:
        overrides["seed"] = args.seed
    cfg = load_config(args.config, overrides)
    if args.stability_steps is not None and cfg["evaluation"]["stability"]:
        if args.stability_steps == 0:
            cfg["evaluation"]["stability"] = None
        else:
            cfg["evaluation"]["stability"]["steps"] = args.stability_steps
    if args.output_dir:
        cfg["output"]["dir"] = str(Path(args.output_dir).resolve())
    report = fit(cfg, evaluate_only=args.evaluate_only)
    print(f"report: {Path(cfg['output']['dir']) / 'report.md'}")
    return 0 if report else 1
