"""tensorml evaluate: accuracy of an exported model on labelled data (RMSE/MAE per target and element)."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="report the errors of an exported model on a labelled dataset",
        description="Evaluate MODEL (an exported .pt file) on DATA (extxyz with energy/forces/dipole/"
        "polarizability/apt labels, any file tensorml.data.read_dataset reads) and print RMSE and MAE "
        "per target and per element (the report tensorml train writes).",
    )
    p.add_argument("model", help="exported model file")
    p.add_argument("data", nargs="+", help="labelled dataset file(s)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--batch-size", type=int, default=32, help="frames per model call")
    p.add_argument("--plots", metavar="DIR", help="write parity plots (PNG) into DIR")
    p.add_argument("--json", metavar="FILE", help="also write the metrics as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..runtime import ExportedModel
    from ..train.data import read_frames
    from ..train.report import evaluate_frames, format_table, write_json

    model = ExportedModel.load(args.model, device=args.device)
    frames = []
    for path in args.data:
        frames += read_frames(path)
    report = evaluate_frames(model, frames, args.batch_size, plots_dir=args.plots, label="")
    if not report:
        raise ValueError(f"no labels in {args.data} that the model predicts (it provides {model.outputs})")
    print(format_table(report, f"{args.model} on {', '.join(args.data)} ({len(frames)} frames)"))
    if args.json:
        write_json(report, args.json)
    return 0
