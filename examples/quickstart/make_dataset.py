"""Regenerates data/train.csv: two Gaussian blobs with a binary label, from a fixed seed.

The committed CSV is the output of this script; run it again only to change the dataset.
"""

import csv
import random
from pathlib import Path

SEED = 20240601
ROWS_PER_CLASS = 200
CENTERS = {0: (-1.0, -1.0), 1: (1.2, 1.0)}
SPREAD = 0.8


def main() -> None:
    rng = random.Random(SEED)
    rows = []
    for label, (cx, cy) in CENTERS.items():
        for _ in range(ROWS_PER_CLASS):
            rows.append((round(rng.gauss(cx, SPREAD), 4), round(rng.gauss(cy, SPREAD), 4), label))
    rng.shuffle(rows)
    out = Path(__file__).resolve().parent / "data" / "train.csv"
    out.parent.mkdir(exist_ok=True)
    with out.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["x1", "x2", "label"])
        writer.writerows(rows)


if __name__ == "__main__":
    main()
