"""Trains a logistic regression on the quickstart dataset with plain gradient descent.

Reads train.csv from the directory in STORAGE_MOUNT_0_PATH and writes model.json and metrics.json
to the directory in STORAGE_MOUNT_1_PATH, the way the Train API exposes a job's storage mounts.
After every epoch it writes checkpoint.json there too, and a run that finds one (a job restarted
after a preemption) resumes from the epoch it saved. Uses only the Python 3 standard library.
"""

import argparse
import csv
import json
import math
import os
import sys
import time
from pathlib import Path


def mount(index: int) -> Path:
    name = f"STORAGE_MOUNT_{index}_PATH"
    value = os.environ.get(name)
    if not value:
        role = "the dataset directory" if index == 0 else "the output directory"
        print(
            f"error: {name} is not set; it must name {role} "
            f"(give the job storage_mounts[{index}], or set {name} to run by hand)",
            file=sys.stderr,
        )
        sys.exit(2)
    return Path(value)


def positive(kind):
    def parse(text):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be greater than 0; got {text}")
        return value

    return parse


def load(path: Path):
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        names = [n for n in reader.fieldnames or [] if n != "label"]
        rows = [([float(r[n]) for n in names], int(r["label"])) for r in reader]
    if not rows:
        print(f"error: {path} holds no rows", file=sys.stderr)
        sys.exit(2)
    return names, rows


def sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def evaluate(weights, bias, xs, ys):
    loss = 0.0
    correct = 0
    for x, y in zip(xs, ys):
        p = sigmoid(sum(w * v for w, v in zip(weights, x)) + bias)
        p = min(max(p, 1e-12), 1 - 1e-12)
        loss -= y * math.log(p) + (1 - y) * math.log(1 - p)
        correct += int((p >= 0.5) == (y == 1))
    return loss / len(xs), correct / len(xs)


def save_checkpoint(path: Path, state: dict) -> None:
    # Written whole and renamed into place: a run stopped mid-write leaves the previous checkpoint.
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(state) + "\n")
    os.replace(partial, path)


def load_checkpoint(path: Path, names, lr: float, epochs: int):
    """The saved state when it belongs to this run (same features, rate, at most `epochs` done)."""
    try:
        state = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    if state.get("features") != names or state.get("lr") != lr or not 0 < state.get("epoch", 0) <= epochs:
        return None
    return state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=positive(int), default=100, help="passes over the data (default 100)")
    parser.add_argument("--lr", type=positive(float), default=0.5, help="learning rate (default 0.5)")
    parser.add_argument(
        "--epoch-seconds",
        type=float,
        default=0.0,
        help="pause after each epoch, to watch a long run on a small dataset (default 0)",
    )
    args = parser.parse_args()

    data_dir, out_dir = mount(0), mount(1)
    names, rows = load(data_dir / "train.csv")
    raw = [x for x, _ in rows]
    ys = [y for _, y in rows]
    # Standardized features let one learning rate suit every column.
    mean = [sum(col) / len(col) for col in zip(*raw)]
    std = [math.sqrt(sum((v - m) ** 2 for v in col) / len(col)) or 1.0 for col, m in zip(zip(*raw), mean)]
    xs = [[(v - m) / s for v, m, s in zip(x, mean, std)] for x in raw]

    out_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = out_dir / "checkpoint.json"
    weights = [0.0] * len(names)
    bias = 0.0
    start = 1
    saved = load_checkpoint(checkpoint, names, args.lr, args.epochs)
    if saved is not None:
        weights, bias, start = saved["weights"], saved["bias"], saved["epoch"] + 1
        print(f"resuming from checkpoint at epoch {saved['epoch']}", flush=True)
    n = len(xs)
    for epoch in range(start, args.epochs + 1):
        grad_w = [0.0] * len(names)
        grad_b = 0.0
        for x, y in zip(xs, ys):
            err = sigmoid(sum(w * v for w, v in zip(weights, x)) + bias) - y
            for j, v in enumerate(x):
                grad_w[j] += err * v
            grad_b += err
        weights = [w - args.lr * g / n for w, g in zip(weights, grad_w)]
        bias -= args.lr * grad_b / n
        loss, accuracy = evaluate(weights, bias, xs, ys)
        print(f"epoch {epoch}/{args.epochs} loss={loss:.4f} accuracy={accuracy:.4f}", flush=True)
        save_checkpoint(
            checkpoint, {"epoch": epoch, "features": names, "lr": args.lr, "weights": weights, "bias": bias}
        )
        if args.epoch_seconds > 0:
            time.sleep(args.epoch_seconds)

    loss, accuracy = evaluate(weights, bias, xs, ys)
    model = {"features": names, "weights": weights, "bias": bias, "mean": mean, "std": std}
    (out_dir / "model.json").write_text(json.dumps(model, indent=2) + "\n")
    metrics = {"accuracy": accuracy, "loss": loss, "epochs": args.epochs, "rows": n}
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"wrote {out_dir / 'model.json'} and {out_dir / 'metrics.json'}")


if __name__ == "__main__":
    main()
