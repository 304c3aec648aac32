"""What one benchmark run measured, in plain dataclasses that serialize to the JSON the report reads."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class SystemResult:
    """One retrieval pipeline on one corpus: quality, speed and memory, all from the same run."""

    corpus: str
    system: str  # display name
    key: str  # stable id: citebot-default, citebot-hybrid, citebot-dense, citebot-keyword, langchain,
    # plain-bm25
    k: int  # hits asked per question
    metrics: dict[str, Any]  # index.evaluate.score output
    by_style: dict[str, dict[str, Any]] = field(default_factory=dict)  # style -> the same score + dropped
    dropped: int = 0  # answerable questions answered with no hits
    errors: int = 0  # questions the system refused (UsageError etc.)
    chunks: int = 0
    index_s: float | None = None  # wall time to build the index from nothing, model already loaded
    embed_s: float | None = None  # of which inside the system's own embedding calls
    encode_only_s: float | None = None  # the bare model encoding the same chunk texts
    reindex_s: float | None = None  # unchanged re-index (median of several)
    p50_ms: float | None = None
    p95_ms: float | None = None
    mean_ms: float | None = None
    peak_rss_mib: float | None = None  # highest RSS during this system's index + query phases
    added_rss_mib: float | None = None  # of which added over the RSS when its phase began
    index_runs: list[float] = field(default_factory=list)  # every from-scratch index timed (index_s = fastest)
    encode_runs: list[float] = field(default_factory=list)  # every encode-only run (encode_only_s = fastest)
    index_cpu_s: float | None = None  # process CPU seconds of the fastest-CPU build
    encode_only_cpu_s: float | None = None  # process CPU seconds of the fastest-CPU encode-only run
    without_model_s: float | None = None  # the build replayed with recorded vectors: chunk, hash, store only
    p50_best_ms: float | None = None  # per question the fastest of ``latency_passes`` timed asks, then p50
    p95_best_ms: float | None = None
    latency_passes: int = 1
    note: str = ""
    score_py_agrees: bool | None = None  # cross-check against shared/eval/score.py

    @property
    def overhead(self) -> float | None:
        """How much longer indexing took than encoding alone (0.15 = 15 % more)."""
        ratio = _ratio(self.index_s, self.encode_only_s)
        return None if ratio is None else ratio - 1

    @property
    def pipeline_share(self) -> float | None:
        """What chunking, hashing and storing alone cost, as a share of encoding alone."""
        return _ratio(self.without_model_s, self.encode_only_s)

    @property
    def overhead_cpu(self) -> float | None:
        """The same as ``overhead`` in process CPU time, which other work on the machine does not inflate."""
        ratio = _ratio(self.index_cpu_s, self.encode_only_cpu_s)
        return None if ratio is None else ratio - 1


def _ratio(part: float | None, whole: float | None) -> float | None:
    """``part / whole``, or None when either was not measured."""
    return None if part is None or not whole else part / whole


@dataclass
class ScalePoint:
    """Store and BM25 behaviour at one synthetic store size; ``extrapolated`` marks numbers not measured."""

    size: int
    insert_s: float | None = None  # cumulative seconds to insert up to ``size``
    insert_rate: float | None = None  # chunks/s over the last growth step
    disk_mib: float | None = None
    chroma: dict[str, Any] = field(default_factory=dict)
    bm25: dict[str, Any] = field(default_factory=dict)
    extrapolated: bool = False
    note: str = ""


@dataclass
class Run:
    command: str
    started: str
    machine: dict[str, Any]
    settings: dict[str, Any]
    datasets: dict[str, str] = field(default_factory=dict)  # name -> description
    systems: list[SystemResult] = field(default_factory=list)
    scale: list[ScalePoint] = field(default_factory=list)
    scale_note: str = ""
    quick: bool = False
    seconds: float = 0.0
    process_max_rss_mib: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for row, system in zip(data["systems"], self.systems, strict=True):
            row["overhead"] = system.overhead
            row["overhead_cpu"] = system.overhead_cpu
            row["pipeline_share"] = system.pipeline_share
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Run:
        data = dict(data)
        systems = []
        for row in data.pop("systems", []):
            row = {k: v for k, v in row.items() if k not in ("overhead", "overhead_cpu", "pipeline_share")}
            systems.append(SystemResult(**row))
        scale = [ScalePoint(**p) for p in data.pop("scale", [])]
        return cls(systems=systems, scale=scale, **data)
