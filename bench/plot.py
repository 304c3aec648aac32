"""One PNG: retrieval quality against warm query latency, one panel per corpus."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .data import DOCS_CORPORA
from .report import DOCS_GOALS, DOCS_P50_MS, NEWS_GOALS, SQUAD_GOALS, SQUAD_P50_MS
from .results import SystemResult

COLORS = {
    "citebot-default": "#1b7837", "citebot-hybrid": "#5aae61", "citebot-dense": "#2166ac",
    "citebot-keyword": "#b2182b", "langchain": "#762a83", "plain-bm25": "#e08214",
}
PANELS_PER_ROW = 3
TARGETS: dict[str, tuple[float | None, float | None, float | None]] = {  # hit@1, precise@1, p50 ms
    "squad": (SQUAD_GOALS["hit@1"], SQUAD_GOALS["precise@1"], SQUAD_P50_MS),
    "news": (NEWS_GOALS["hit@1"], NEWS_GOALS["precise@1"], None),
    **{name: (DOCS_GOALS["hit@1"], DOCS_GOALS["precise@1"], DOCS_P50_MS) for name in DOCS_CORPORA},
}


def draw(results: Sequence[SystemResult], path: Path) -> bool:
    """Write the plot; False (and no file) when matplotlib is missing or nothing was measured."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    corpora = list(dict.fromkeys(r.corpus for r in results if r.p50_ms is not None))
    if not corpora:
        return False
    cols = min(len(corpora), PANELS_PER_ROW)
    rows = -(-len(corpora) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.5 * cols, 5 * rows), squeeze=False)
    for ax in axes.flat[len(corpora):]:
        ax.set_visible(False)
    for ax, corpus in zip(axes.flat, corpora):
        for r in (r for r in results if r.corpus == corpus and r.p50_ms is not None):
            color = COLORS.get(r.key, "#444444")
            h1, p1 = r.metrics.get("hit@1"), r.metrics.get("precise@1")
            if h1 is not None:
                ax.scatter([r.p50_ms], [h1], s=70, color=color, zorder=3, label=r.system)
            if p1 is not None:
                ax.scatter([r.p50_ms], [p1], s=70, facecolors="none", edgecolors=color, marker="s", zorder=3)
            if h1 is not None and p1 is not None:
                ax.plot([r.p50_ms, r.p50_ms], [p1, h1], color=color, linewidth=0.8, alpha=0.6)
        ax.set_xlim(left=0)
        hit_goal, precise_goal, p50_goal = TARGETS.get(corpus, (None, None, None))
        if hit_goal is not None:
            ax.axhline(hit_goal, color="grey", linestyle="--", linewidth=0.8)
            ax.text(ax.get_xlim()[0], hit_goal, " hit@1 target", fontsize=7, va="bottom", color="grey")
        if precise_goal is not None:
            ax.axhline(precise_goal, color="grey", linestyle=":", linewidth=0.8)
            ax.text(ax.get_xlim()[0], precise_goal, " precise@1 target", fontsize=7, va="bottom", color="grey")
        if p50_goal is not None:
            ax.axvline(p50_goal, color="grey", linestyle="--", linewidth=0.8)
        ax.set_title(f"{corpus}: quality vs warm query latency")
        ax.set_xlabel("query latency p50 (ms)")
        ax.set_ylabel("hit@1 (filled circle) / precise@1 (open square)")
        ax.set_ylim(-0.02, 1.02)
        ax.legend(loc="lower right", fontsize=7, framealpha=0.9)
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True
