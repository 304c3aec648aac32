"""Settings for indexing and retrieval, read from the environment (prefix ``CITEBOT_``) and ``.env``.

Every field is documented because ``.env.example`` and the README are generated from the same
descriptions a user reads here; keep them in step when adding a field.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_EXTENSIONS = (
    ".md,.markdown,.mdx,.txt,.text,.rst,.adoc,.asciidoc,.org,.py,.js,.ts,.tsx,.jsx,.go,.rs,.java,.kt,.c,.h,.cpp,.hpp,"
    ".cs,.rb,.php,.sh,.toml,.yaml,.yml,.ini,.cfg,.html,.htm,.css,.sql,.json,.ipynb"
)
DEFAULT_EXCLUDE = "node_modules,__pycache__,.venv,venv,dist,build,*.min.js,*.lock"
# The answerability (the model's probability that the documents answer, index/reranker.md) below which an answer
# is given with a caution. Measured with the shipped weights on the chunks of PIPELINE_VERSION 12 (2026-12-07):
# of the docs dev sets' answers, 10 of the 18 to questions the documents do not answer fell below 0.75, and 15
# of the 87 whose first citation is right; on the held-out Click and Flask sets (bench/heldout) 3 of 6 and 2 of
# 14. Not fitted: chosen where the unanswered share first passed half, on those figures.
SURE_RELEVANCE = 0.75
# Chroma's rule for a collection name (chromadb 1.x: 3-512 characters from [a-zA-Z0-9._-], the first and the last
# a letter or digit), less the characters of the side collection's suffix (``ledger.SIDE_SUFFIX``, ".citebot"),
# the collection server mode keeps beside this one; tests/index/test_cli.py checks the two agree.
SIDE_SUFFIX_CHARS = 8
COLLECTION_MAX_CHARS = 512 - SIDE_SUFFIX_CHARS
_COLLECTION_NAME = re.compile(rf"[a-zA-Z0-9][a-zA-Z0-9._-]{{1,{COLLECTION_MAX_CHARS - 2}}}[a-zA-Z0-9]")


def split_csv(value: object) -> object:
    """Let list settings be written as ``a,b,c`` in ``.env`` as well as JSON (a lone number is a list of one)."""
    if isinstance(value, int):
        return [value]
    if isinstance(value, str):
        value = value.strip()
        if value.startswith("["):
            import json

            return json.loads(value)
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


CsvList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    """Where documents and the index live, how they are chunked, and how answers are ranked."""

    model_config = SettingsConfigDict(env_prefix="CITEBOT_", env_file=".env", extra="ignore")

    docs_dir: Path = Field(Path("docs"), description="Folder of documents that `citebot index` reads by default.")
    db_path: Path = Field(
        Path(".citebot/chroma"), description="Local Chroma directory (embedded mode), also holds citebot's sidecar."
    )
    chroma_host: str | None = Field(
        None, description="Chroma server host; when set, citebot uses the server instead of the local directory."
    )
    chroma_port: int = Field(8000, description="Chroma server port.")
    chroma_ssl: bool = Field(False, description="Use HTTPS to reach the Chroma server.")
    chroma_timeout: float = Field(
        5.0, gt=0,
        description="Seconds a request to the Chroma server may wait for its answer before citebot reports the "
        "server unreachable: a question to a stalled server fails after about this long (the writes of `citebot "
        "index` wait at least 60 s).",
    )
    lease_seconds: float = Field(
        30.0, gt=0,
        description="Server mode: how long the writer's lease on a collection lasts without being renewed (it is "
        "renewed every third of it while indexing). A second `citebot index` on any machine is refused while it "
        "runs; one whose holder died may start after at most this long. Machines' clocks must agree to well "
        "within it.",
    )
    state_dir: Path | None = Field(
        None,
        description="Where the manifest, keyword index and lock live. Default: inside db_path (embedded) or "
        ".citebot/server-HOST-PORT-COLLECTION (server mode).",
    )
    collection: str = Field("citebot", description="Chroma collection name; one collection per document folder.")
    model: str = Field(
        "",
        description="Embedding model: empty for the bundled all-MiniLM-L6-v2, a local path, a hub name, or "
        "'hash' for the deterministic test embedder.",
    )
    device: str = Field("cpu", description="Torch device for the embedding model.")
    onnx: bool = Field(
        True,
        description="On the CPU, run the embedding model and the line reader with onnxruntime: the same vectors, "
        "a warm ask about 30 % faster and indexing about 1.5x. Each model is exported the first time it loads "
        "(about a second) and kept in the cache folder; false: torch. A model that does not export stays on torch.",
    )
    cache_dir: Path | None = Field(
        None,
        description="Where exported models are kept between runs (about 90 MB each; safe to delete). Default: "
        "$XDG_CACHE_HOME/citebot, else ~/.cache/citebot.",
    )
    batch_size: int = Field(32, ge=1, description="Chunks embedded per model call.")
    extensions: CsvList = Field(
        default_factory=lambda: split_csv(DEFAULT_EXTENSIONS),  # type: ignore[arg-type]
        description="File extensions indexed (comma-separated).",
    )
    exclude: CsvList = Field(
        default_factory=lambda: split_csv(DEFAULT_EXCLUDE),  # type: ignore[arg-type]
        description="Glob patterns of files or folders to skip (comma-separated); hidden folders are always skipped.",
    )
    follow_symlinks: bool = Field(
        False, description="Follow symbolic links that point outside the document folder."
    )
    max_file_bytes: int = Field(2_000_000, ge=1, description="Files larger than this are skipped with a warning.")
    chunk_tokens: int = Field(256, ge=32, description="Most model tokens in one chunk (capped by the model's window).")
    overlap_lines: int = Field(1, ge=0, description="Whole lines repeated between chunks split inside a paragraph.")
    drop_boilerplate: bool = Field(
        True, description="Leave page furniture (link lists, navigation, ratings) out of the index."
    )
    top_k: int = Field(5, ge=1, le=50, description="Passages returned by `ask`.")
    candidates: int = Field(40, ge=5, description="Candidates each retriever hands to fusion.")
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant.")
    dense_weight: float = Field(1.0, ge=0, description="Weight of the dense (embedding) ranking in fusion.")
    keyword_weight: float = Field(2.0, ge=0, description="Weight of the BM25 keyword ranking in fusion.")
    line_reader: bool = Field(
        True,
        description="Re-read the lines around the top hit's best line with the question to point at the answering "
        "line (bundled model only; costs one short model pass per question).",
    )
    min_relevance: float | None = Field(
        None, ge=0, le=1,
        description="Abstain when the probability that the documents answer (the answerability model's, "
        "index/reranker.md) is below this (0..1); empty: the threshold fitted with the model.",
    )
    sure_relevance: float = Field(
        SURE_RELEVANCE, ge=0, le=1,
        description="Below this probability that the documents answer (and above the abstention threshold), an "
        "answer is given as the closest passages with a caution that they may not answer the question (0..1; 0: "
        "never cautious).",
    )

    _split = field_validator("extensions", "exclude", mode="before")(split_csv)

    @field_validator("collection")
    @classmethod
    def _chroma_name(cls, name: str) -> str:
        """Said here in one line, before Chroma refuses the name with a traceback on first use."""
        if not _COLLECTION_NAME.fullmatch(name):
            shown = name if len(name) <= 40 else name[:40] + "..."
            raise ValueError(
                f"{shown!r} is not a usable Chroma collection name: use 3-{COLLECTION_MAX_CHARS} letters, digits, "
                "'.', '_' or '-', starting and ending with a letter or digit"
            )
        return name

    def resolved_cache_dir(self) -> Path:
        """The model cache: explicit, else the user's cache folder (not the index's: it outlives any index)."""
        if self.cache_dir is not None:
            return self.cache_dir
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "citebot"

    def onnx_cache(self) -> Path:
        """Where the exported models live inside the cache folder."""
        return self.resolved_cache_dir() / "onnx"

    def resolved_state_dir(self) -> Path:
        """The sidecar folder: explicit, else beside the data it describes."""
        if self.state_dir is not None:
            return self.state_dir
        if self.chroma_host:
            return Path(".citebot") / f"server-{self.chroma_host}-{self.chroma_port}-{self.collection}"
        return self.db_path / "citebot"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once; tests build ``Settings(...)`` directly instead."""
    return Settings()
