"""Draw benchmarks/results/scale.png (log-log: latency and memory against chunks, per backend) and print the
README's "Scale" table from the benchmarks/results/scale-<backend>-<N>.json files benchmarks/scale.py wrote.

    python benchmarks/scale_plot.py [--results benchmarks/results] [--out benchmarks/results/scale.png]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

__all__ = ["load_results", "plot", "table"]


def load_results(folder: Path = RESULTS) -> list[dict]:
    rows = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("scale-*.json"))]
    return sorted(rows, key=lambda r: (r["backend"], r["chunks"]))


def table(rows: list[dict]) -> str:
    """Markdown rows of the measured figures."""
    head = ("| backend | chunks | build | build peak RSS | disk | peak RSS | open | retrieve p50 / p95 | "
            "retrieve, no filter p50 | answer p50 / p95 | add / remove a document | load average |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    lines = [head]
    for r in rows:
        load = r.get("load_average") or [float("nan")] * 4
        lines.append(
            f"| {r['backend']} | {r['chunks']:,} | {r['build_s']:,.0f} s | {r.get('build_rss_mb', 0):,} MB | "
            f"{r['disk_mb']:,.0f} MB | {r['rss_mb']:,} MB | "
            f"{r['load_s']:.2f} s | {r['retrieve_p50_ms']:.1f} / {r['retrieve_p95_ms']:.1f} ms | "
            f"{r.get('retrieve_all_p50_ms', float('nan')):.1f} ms | {r['ask_p50_ms']:.0f} / {r['ask_p95_ms']:.0f} ms | "
            f"{r['add_document_s']:.2f} / {r['remove_document_s']:.2f} s | {load[0]:.1f}–{load[3]:.1f} |")
    return "\n".join(lines)


def plot(rows: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (lat, mem) = plt.subplots(1, 2, figsize=(11, 4.2))
    colours = {"local": "tab:blue", "milvus-lite": "tab:orange"}
    for backend in sorted({r["backend"] for r in rows}):
        rs = [r for r in rows if r["backend"] == backend]
        n = [r["chunks"] for r in rs]
        c = colours.get(backend, None)
        lat.plot(n, [r["retrieve_p50_ms"] for r in rs], "o-", color=c, label=f"{backend}: retrieve p50")
        lat.plot(n, [r["ask_p50_ms"] for r in rs], "s--", color=c, label=f"{backend}: answer p50")
        mem.plot(n, [r["rss_mb"] for r in rs], "o-", color=c, label=f"{backend}: peak RSS (serving)")
        mem.plot(n, [r["disk_mb"] for r in rs], "s--", color=c, label=f"{backend}: index on disk")
    lat.axhline(50, color="grey", lw=0.8, ls=":")
    lat.axhline(100, color="grey", lw=0.8, ls="-.")
    lat.text(1.02, 50, "goal: retrieve 50 ms", transform=lat.get_yaxis_transform(), fontsize=7, va="center")
    lat.text(1.02, 100, "goal: answer 100 ms", transform=lat.get_yaxis_transform(), fontsize=7, va="center")
    mem.axhline(4096, color="grey", lw=0.8, ls=":")
    mem.text(1.02, 4096, "goal: 4 GB", transform=mem.get_yaxis_transform(), fontsize=7, va="center")
    for ax, title, unit in ((lat, "latency (p50)", "ms"), (mem, "memory and disk", "MB")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("chunks (synthetic corpus, synthetic vectors)")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, which="both", lw=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("policy-rag at scale (benchmarks/scale.py; 2 shared cores)", fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--out", type=Path, default=RESULTS / "scale.png")
    args = parser.parse_args(argv)
    rows = load_results(args.results)
    if not rows:
        raise SystemExit(f"no scale-*.json in {args.results}; run benchmarks/scale.py --out first")
    plot(rows, args.out)
    print(table(rows))
    print(f"\nplot: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
