"""Opening a local index folder (rag/stores/local.py describes it): the manifest read and checked, every file
it names verified, the segments opened into a `LocalStore` snapshot. A reader never waits for a writer: it
retries while a commit or a swap is under way."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from ..bridge import TermBridge
from ..encoders import LANGCHAIN_PREFIX, EmbedderInfo
from ..errors import EmbedderMismatchError, IndexCorruptError, IndexNotFoundError, IndexVersionError
from ..index_folder import check_file, manifest_identity, recover
from ..tokenize import Tokenizer
from .doc_freq import DocFreq, table_of
from .local import FORMAT_VERSION, READABLE_FORMATS, LocalStore
from .segments import SEGMENT_FILES, Segment

__all__ = ["load_index", "read_manifest", "verify_files", "expected_files", "GLOBAL_KEYS", "SWAP_WAIT_S",
           "FULL_CHECK_BYTES"]

# How long a reader waits for a builder to finish swapping a new index in before it reports what it saw.
SWAP_WAIT_S = 2.0
# Files up to this size are checksummed on every load; bigger ones (a large segment's vectors and postings)
# by their size, so opening an index of a million chunks does not read gigabytes. Writers that copy a
# segment's rows (vector reuse, compaction) checksum what they read in full.
FULL_CHECK_BYTES = 16 << 20


def load_index(index_dir: Path, *, expected_embedder: EmbedderInfo | None = None) -> LocalStore:
    """Open and check an index. Raises IndexNotFoundError / IndexCorruptError / EmbedderMismatchError.

    A writer may commit or swap a new index in while this reads: when the folder changed under the reader, or a
    swap is half done, it reads again (for up to SWAP_WAIT_S) instead of reporting a half-read index as corrupt.
    """
    index_dir = Path(index_dir)
    deadline = time.monotonic() + SWAP_WAIT_S
    while True:
        before = manifest_identity(index_dir)
        try:
            return _load_once(index_dir, expected_embedder)
        except (IndexNotFoundError, IndexCorruptError) as exc:
            swapping = manifest_identity(index_dir) != before or (index_dir.parent / f".{index_dir.name}.old").exists()
            if not swapping or isinstance(exc, IndexVersionError) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def read_manifest(index_dir: Path) -> dict:
    """The manifest as written (IndexNotFoundError when there is none; IndexCorruptError when unreadable)."""
    rebuild = f"rebuild it with `rag index --rebuild --index-dir {index_dir}`"
    path = index_dir / "manifest.json"
    if not path.exists():
        raise IndexNotFoundError(f"no index at {index_dir}; build one with `rag index --index-dir {index_dir}`")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        manifest["format_version"], EmbedderInfo(**manifest["embedder"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorruptError(f"index manifest {path} is unreadable ({exc}); {rebuild}") from exc
    return manifest


_GLOBAL_FILE = re.compile(r"(?:userdict-\d+\.txt|bridge-\d+\.json|tombstones-\d+\.json|doc_freq-\d+\.npy)")
GLOBAL_KEYS = ("userdict", "bridge", "tombstones", "doc_freq")  # manifest keys naming the files above
# (doc_freq is optional: indexes written before it get the table at their next write)
_SEGMENT_NAME = re.compile(r"seg-\d{6}")


def expected_files(manifest: dict) -> set[str]:
    """The files a manifest's index consists of (paths relative to the folder), from its own fields."""
    names = {manifest[k] for k in GLOBAL_KEYS if k in manifest}
    for entry in manifest["segments"]:
        leaves = [f for f in SEGMENT_FILES if f != "ann.faiss" or entry["ann"]["type"] != "flat"]
        names |= {f"segments/{entry['name']}/{leaf}" for leaf in leaves}
    return names


def verify_files(index_dir: Path, manifest: dict, rebuild: str) -> None:
    """Every file is one the format names, a regular file inside index_dir, of its recorded size and (up to
    FULL_CHECK_BYTES) checksum. The names come from disk: a name like /dev/zero or ../../etc/shadow must
    never be opened, so the names are checked before any file is read."""
    files, sizes = manifest.get("files"), manifest.get("sizes")
    if not isinstance(files, dict) or not isinstance(sizes, dict):
        raise IndexCorruptError(f"index manifest at {index_dir} lists no file checksums; {rebuild}")
    try:
        segments = manifest["segments"]
        if not all(_SEGMENT_NAME.fullmatch(str(e["name"])) for e in segments) \
                or not all(_GLOBAL_FILE.fullmatch(str(manifest[k])) for k in GLOBAL_KEYS
                           if k != "doc_freq" or k in manifest):
            raise KeyError("name")
        expected = expected_files(manifest)
    except (KeyError, TypeError) as exc:
        raise IndexCorruptError(f"index manifest at {index_dir} names unexpected files ({exc}); {rebuild}") from exc
    if set(files) != expected or set(sizes) != expected:
        odd = sorted(map(str, set(files) ^ expected)) or sorted(map(str, set(sizes) ^ expected))
        raise IndexCorruptError(f"index manifest at {index_dir} does not list the index's own files "
                                f"(unexpected or missing: {', '.join(odd[:5])}); {rebuild}")
    for name in sorted(expected):
        check_file(index_dir / name, files[name], rebuild, size=int(sizes[name]),
                   full=int(sizes[name]) <= FULL_CHECK_BYTES)


def _load_once(index_dir: Path, expected_embedder: EmbedderInfo | None) -> LocalStore:
    recover(index_dir)
    rebuild = f"rebuild it with `rag index --rebuild --index-dir {index_dir}`"
    manifest = read_manifest(index_dir)
    version = manifest["format_version"]
    built_with = EmbedderInfo(**manifest["embedder"])
    if version not in READABLE_FORMATS:
        raise IndexVersionError(f"index at {index_dir} has format version {version}, this policy-rag reads "
                                f"{FORMAT_VERSION}; {rebuild}")
    if expected_embedder is not None and built_with != expected_embedder:
        found = (f"index at {index_dir} was built with embedder {built_with.name!r} ({built_with.dimension}-d) but "
                 f"the configured embedder is {expected_embedder.name!r} ({expected_embedder.dimension}-d)")
        if expected_embedder.name.startswith(LANGCHAIN_PREFIX):  # an object, which no command line can name
            raise EmbedderMismatchError(f"{found}; give these embeddings an index folder of their own "
                                        f"(Assistant.from_settings(index_dir=..., embedder=...)), or pass the "
                                        f"embedder this index was built with")
        raise EmbedderMismatchError(f"{found}; {rebuild} --embedder {expected_embedder.name}, or set the embedder "
                                    f"back to {built_with.name!r}")
    verify_files(index_dir, manifest, rebuild)
    try:
        segments = [Segment(index_dir / "segments" / e["name"], e, built_with.dimension) for e in manifest["segments"]]
        tombstones = json.loads((index_dir / manifest["tombstones"]).read_text(encoding="utf-8"))
        tokenizer = Tokenizer.from_file(index_dir / manifest["userdict"])
        bridge = TermBridge.from_json(json.loads((index_dir / manifest["bridge"]).read_text(encoding="utf-8")))
        doc_freq = DocFreq.open(index_dir / manifest["doc_freq"]) if "doc_freq" in manifest else \
            DocFreq(table_of(seg.folder for seg in segments))
        return LocalStore(index_dir, manifest, segments, tombstones, tokenizer, bridge, doc_freq)
    except IndexCorruptError:
        raise
    except Exception as exc:  # any unreadable piece means the same thing to the user
        raise IndexCorruptError(f"index at {index_dir} is unreadable ({type(exc).__name__}: {exc}); {rebuild}") from exc
