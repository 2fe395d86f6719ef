"""Eval slices: eval sets about plan documents that are *not* in documents/ (eval/unseen/<split>/).

The main set measures the assistant on the five plans it was developed against. A slice measures it on plans
it has never seen: `eval/unseen/<split>/documents/` holds those plans and `eval/unseen/<split>/set.jsonl` the
questions (same format as eval/set.jsonl). A slice is scored on its *own* index, built from the five plans
plus the slice's documents, so its questions must still be told apart from the five plans.

That index lives beside the main one, in `<index_dir.parent>/eval-<slice name>/`:

    documents/   a staging copy of documents_dir's files and the slice's files (sidecars included)
    index/       the index built from that staging folder (`rag.store` format)

Staging copies files under their own names, so a gold source such as
`eval/unseen/dev/documents/wuhu_2024_st_work_points.txt` matches the indexed `documents/wuhu_...txt` by file
name (`rag.eval_metrics.same_source`). It only writes files whose bytes changed and removes stale copies, so
a re-run finds the index up to date and reuses it. Nothing is ever written into documents/ or eval/unseen/.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from .documents import SUPPORTED_SUFFIXES
from .errors import PolicyRagError
from .locations import eval_dir, report_root
from .settings import Settings

__all__ = ["UNSEEN_DIR", "SLICE_PREFIX", "SEALED_SPLITS", "EvalSlice", "SliceError", "discover_slices",
           "resolve_slices", "slice_spec", "slice_workdir", "stage_documents", "prepare_slice"]

UNSEEN_DIR = eval_dir() / "unseen"  # the checkout's eval/unseen/, or the copy a wheel carries
SLICE_PREFIX = "unseen-"
# Splits that are reported but never tuned on: their report lists failures by id only, and set errors do
# not echo their questions or quotes (see eval/README.md, "Slices").
SEALED_SPLITS = frozenset({"heldout"})
SIDECAR_SUFFIX = ".meta.json"


class SliceError(PolicyRagError, ValueError):
    """A slice cannot be found, or its documents cannot be staged."""


@dataclass(frozen=True)
class EvalSlice:
    """One eval slice: its report name, its set file and the folder of documents it asks about."""

    name: str
    set_path: Path
    documents_dir: Path
    sealed: bool = False

    @classmethod
    def from_dir(cls, folder: Path) -> "EvalSlice":
        """The slice in `folder` (holding set.jsonl and documents/), named `unseen-<folder name>`."""
        folder = Path(folder)
        return cls(SLICE_PREFIX + folder.name, folder / "set.jsonl", folder / "documents",
                   sealed=folder.name in SEALED_SPLITS)


def _is_slice_dir(folder: Path) -> bool:
    return (folder / "set.jsonl").is_file() and (folder / "documents").is_dir()


def discover_slices(root: Path = UNSEEN_DIR) -> list[EvalSlice]:
    """Every slice under `root` (a folder with set.jsonl and documents/), sorted by name; [] if none."""
    root = Path(root)
    if not root.is_dir():
        return []
    return [EvalSlice.from_dir(d) for d in sorted(root.iterdir()) if d.is_dir() and _is_slice_dir(d)]


def resolve_slices(specs: Iterable[str], root: Path = UNSEEN_DIR) -> list[EvalSlice]:
    """`--slice` values to slices. A value is a split name under `root` (`dev`, or `unseen-dev`) or the path
    of a slice folder. Raises SliceError naming the slices that exist."""
    out: list[EvalSlice] = []
    for spec in dict.fromkeys(specs):
        folder = Path(root) / spec.removeprefix(SLICE_PREFIX)
        if not _is_slice_dir(folder):
            folder = Path(spec)
        if not _is_slice_dir(folder):
            found = ", ".join(s.name.removeprefix(SLICE_PREFIX) for s in discover_slices(root)) or "none"
            raise SliceError(f"no eval slice {spec!r}: expected {Path(root) / spec}/ (or a folder path) holding "
                             f"set.jsonl and documents/; slices found under {root}: {found}")
        sl = EvalSlice.from_dir(folder)
        if sl.name in {s.name for s in out}:
            raise SliceError(f"two slices are both named {sl.name!r}; rename one of their folders")
        out.append(sl)
    return out


def slice_spec(sl: EvalSlice, root: Path = UNSEEN_DIR) -> str | None:
    """The `--slice` value that selects `sl` again (None when the CLI cannot express it)."""
    folder = sl.set_path.parent
    if EvalSlice.from_dir(folder) != sl:
        return None
    if folder.resolve() == (Path(root) / folder.name).resolve():
        return folder.name
    try:
        return folder.resolve().relative_to(report_root()).as_posix()
    except ValueError:
        return str(folder.resolve())


def slice_workdir(settings: Settings, sl: EvalSlice) -> Path:
    """Where a slice's staging folder and index live: beside the main index."""
    return Path(settings.index_dir).parent / f"eval-{sl.name}"


# ---------------------------------------------------------------- staging


def _stageable(path: Path) -> bool:
    """Document files and their metadata sidecars; not hidden files, folders or READMEs."""
    name = path.name
    if name.startswith(".") or name.lower() == "readme.md" or not path.is_file():
        return False
    return name.endswith(SIDECAR_SUFFIX) or path.suffix.lower() in SUPPORTED_SUFFIXES


def _inside(path: Path, folder: Path) -> bool:
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents


def stage_documents(sources: Sequence[Path], dest: Path) -> bool:
    """Make `dest` hold exactly the stageable files of `sources`, byte for byte. Returns whether a metadata
    sidecar was added, changed or removed (the index's staleness check looks at document files only).

    Files are rewritten only when their bytes differ, so an unchanged staging folder is left untouched. Two
    sources holding different files of the same name is an error: gold sources match by file name.
    """
    dest = Path(dest)
    for src in sources:
        if _inside(dest, src) or _inside(src, dest):
            raise SliceError(f"cannot stage {src} into {dest}: one folder is inside the other")
    wanted: dict[str, Path] = {}
    for src in sources:
        if not Path(src).is_dir():
            raise SliceError(f"documents folder {src} does not exist")
        for path in sorted(Path(src).iterdir()):
            if not _stageable(path):
                continue
            other = wanted.get(path.name)
            if other is not None and other.read_bytes() != path.read_bytes():
                raise SliceError(f"{path} and {other} are different files with the same name; rename one "
                                 "(eval gold sources are matched by file name)")
            wanted.setdefault(path.name, path)
    dest.mkdir(parents=True, exist_ok=True)
    sidecars_changed = False
    for stale in sorted(set(p.name for p in dest.iterdir()) - set(wanted)):
        p = dest / stale
        shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
        sidecars_changed |= stale.endswith(SIDECAR_SUFFIX)
    for name, src in wanted.items():
        data, target = src.read_bytes(), dest / name
        if target.is_file() and target.read_bytes() == data:
            continue
        tmp = dest / f".{name}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, target)
        sidecars_changed |= name.endswith(SIDECAR_SUFFIX)
    return sidecars_changed


def _seed_index(src: Path, dest: Path, embedder_info: dict) -> None:
    """Start a slice's first index from a copy of the main one, so the five plans' vectors are reused and
    only the slice's documents are embedded. Only when `src` was built by the same embedder."""
    if (dest / "manifest.json").exists() or not (src / "manifest.json").is_file():
        return
    try:
        manifest = json.loads((src / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if manifest.get("embedder") == embedder_info:
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(src, dest)


def prepare_slice(settings: Settings, sl: EvalSlice, *, progress: bool = False) -> Settings:
    """Stage the slice's documents, bring its index up to date and return settings that point at both.

    The returned settings differ from `settings` only in documents_dir and index_dir, so
    `Assistant.from_settings` on them loads (or incrementally rebuilds) the slice's index.
    """
    from .documents import load_documents
    from .embeddings import load_embedder
    from .store import build_index

    work = slice_workdir(settings, sl)
    for protected in (Path(settings.documents_dir), sl.documents_dir, UNSEEN_DIR):
        if _inside(work, protected):
            raise SliceError(f"slice index folder {work} would be inside {protected}; use another --index-dir")
    docs_dir, index_dir = work / "documents", work / "index"
    sidecars_changed = stage_documents([Path(settings.documents_dir), sl.documents_dir], docs_dir)
    embedder = load_embedder(settings.embedder, allow_download=settings.allow_download, device=settings.device,
                             batch_size=settings.embed_batch_size)
    _seed_index(Path(settings.index_dir), index_dir, embedder.info.to_dict())
    if sidecars_changed and (index_dir / "manifest.json").exists():
        # Metadata sidecars are not part of the index's staleness check: rebuild (vectors are reused).
        documents, _ = load_documents(docs_dir, root=docs_dir.parent)
        build_index(documents, embedder, index_dir, chunk_size=settings.chunk_size, progress=progress)
    return settings.with_overrides(documents_dir=docs_dir, index_dir=index_dir)
