"""Benchmark plots from bench-results/ (written by `cargo test --release --test bench_api --
--ignored`): run through scripts/plots.sh, which provides matplotlib."""
import csv
import json
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(os.environ.get("BENCH_RESULTS", ROOT / "bench-results"))
IMG = Path(os.environ.get("BENCH_IMG", ROOT / "docs" / "img"))


def pending_over_time():
    """Pending contacts during the 100,000-contact convergence vs the rate-limit bound."""
    meta = json.loads((RESULTS / "convergence_100k.json").read_text())
    times, pending = [], []
    with open(RESULTS / "convergence_100k_pending.csv", newline="") as f:
        for row in csv.DictReader(f):
            # Status versions before the first count (finalizer, no contacts yet) carry no data.
            if not pending and int(row["pending_add"]) == 0:
                continue
            times.append(float(row["seconds"]))
            pending.append(int(row["pending_add"]))
    n, rate, burst, per_call = meta["contacts"], meta["rate"], meta["burst"], meta["maxAdd"]
    # Fastest possible: `burst` calls at once, then `rate` calls a second, `per_call` each.
    end = n / per_call / rate
    bound_t = [0.0, max(0.0, (n / per_call - burst) / rate), end]
    bound_p = [n - burst * per_call, 0, 0]
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    ax.step(times, pending, where="post", label="pendingAdd (CallTask status)", color="tab:blue")
    ax.plot(bound_t, bound_p, "--", color="tab:red",
            label=f"rate-limit bound ({rate} req/s × {per_call} contacts)")
    ax.axvline(meta["seconds"], color="tab:green", linestyle=":",
               label=f"InSync after {meta['seconds']:.1f} s")
    ax.axvline(meta["boundSeconds"], color="tab:gray", linestyle=":",
               label=f"calls / rate = {meta['boundSeconds']:.1f} s")
    ax.set_xlabel("seconds since the CallTask was created")
    ax.set_ylabel("contacts pending")
    ax.set_title(f"{n:,} contacts, longlonglong, {rate} requests/s (burst {burst})")
    ax.set_ylim(bottom=0)
    ax.set_xlim(left=0)
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(IMG / "convergence-pending.png")
    plt.close(fig)


def calls_per_sync():
    """Calls of the 1 % churn sync: naive re-upload vs callsync, per provider (log scale)."""
    runs = json.loads((RESULTS / "api_efficiency.json").read_text())
    providers = [r["provider"] for r in runs]
    series = [
        ("naive: write calls", [r["naive"]["churn"]["writes"] for r in runs], "tab:red"),
        ("naive: all calls", [r["naive"]["churn"]["total"] for r in runs], "lightcoral"),
        ("callsync: write calls", [r["callsync"]["churn"]["writes"] for r in runs], "tab:blue"),
        ("callsync: all calls", [r["callsync"]["churn"]["total"] for r in runs], "lightsteelblue"),
    ]
    width = 0.2
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    for i, (label, values, color) in enumerate(series):
        xs = [p + (i - 1.5) * width for p in range(len(providers))]
        bars = ax.bar(xs, values, width, label=label, color=color)
        ax.bar_label(bars, labels=[f"{v:,}" for v in values], fontsize=7, padding=2)
    ax.set_yscale("log")
    ax.set_xticks(range(len(providers)), providers)
    ax.set_ylabel("provider requests (log scale)")
    n = runs[0]["contacts"]
    ax.set_title(f"One 1 % churn sync of {n:,} contacts (0.5 % removed, 0.5 % added)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(IMG / "calls-per-sync.png")
    plt.close(fig)


if __name__ == "__main__":
    IMG.mkdir(parents=True, exist_ok=True)
    for draw, needs in [(pending_over_time, "convergence_100k.json"),
                        (calls_per_sync, "api_efficiency.json")]:
        if (RESULTS / needs).exists():
            draw()
            print(f"drew {draw.__name__} into {IMG}")
        else:
            print(f"skipped {draw.__name__}: no {RESULTS / needs}")
