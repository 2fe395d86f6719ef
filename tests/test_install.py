"""A non-editable install works from any folder (#9): the wheel answers, runs the eval and serves the UI.

The wheel is built from a copy of the repository's shipped files and installed, without dependencies, into a
fresh virtual environment. The dependencies come from this test's environment through a path entry in that
venv's site-packages: a plain path line, so the .pth files there (the editable install's import hook for
this checkout) are not run, and `import rag` can only find the wheel. Nothing is downloaded.
Every command runs in an empty folder with its own cache folder, so the checkout is never found or used.

To keep the run short, the cache is seeded with the session's index of the same five plans (the wheel checks it
against the bundled files like any index, and would rebuild it if they differed); the test with a local
documents/ folder builds its index from nothing.
"""

from __future__ import annotations

import os
import shutil
import site
import socket
import subprocess
import sys
import time
import urllib.request
from importlib import metadata
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
QUESTION = "绍兴2025年技术交易额目标是多少?"
LISHUI = ("2025年丽水市科技工作要点\n丽水市科学技术局 2025-02-10\n\n一、目标任务\n"
          "2025年，全市技术交易额达到88亿元，新增高新技术企业120家。\n")


def _source_copy(dest: Path) -> Path:
    """The files a wheel is built from, without build debris, eval runs or indexes of this checkout."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "runs", "*.egg-info")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, dest / name)
    for name in ("rag", "documents", "prompts", "eval"):
        shutil.copytree(REPO / name, dest / name, ignore=ignore)
    return dest


def _has_setuptools(major: int) -> bool:
    try:
        return int(metadata.version("setuptools").split(".")[0]) >= major
    except metadata.PackageNotFoundError:
        return False


@pytest.fixture(scope="module")
def installed(tmp_path_factory, built) -> dict:
    base = tmp_path_factory.mktemp("install")
    (base / "src").mkdir()
    src = _source_copy(base / "src")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    # Offline when this environment has the build backend pyproject.toml asks for; else pip fetches it.
    build = subprocess.run(pip + ["wheel", "--no-deps", *(["--no-build-isolation"] if _has_setuptools(77) else []),
                                  "-w", str(base / "dist"), str(src)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-3000:]
    wheel, = (base / "dist").glob("policy_rag-*.whl")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run(pip + ["--python", str(python), "install", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True, timeout=300)
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  check=True, capture_output=True, text=True).stdout.strip())
    (purelib / "zz_test_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLICY_RAG_", "PYTHON"))}
    env.update(XDG_CACHE_HOME=str(base / "cache"), GRADIO_ANALYTICS_ENABLED="False")
    shutil.copytree(built.index_dir, base / "cache" / "policy-rag" / "indexes" / "default")
    empty = base / "empty"
    empty.mkdir()
    return {"base": base, "bin": venv / "bin", "purelib": purelib, "env": env, "empty": empty,
            "cache": base / "cache"}


def _run(inst: dict, *args: str, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(inst["bin"] / "rag"), *args], cwd=cwd, env=inst["env"], capture_output=True,
                          text=True, timeout=timeout)


def test_the_wheel_is_what_runs(installed):
    p = subprocess.run([str(installed["bin"] / "python"), "-c", "import rag, rag.locations as l; "
                        "print(rag.__file__); print(l.is_checkout())"],
                       cwd=installed["empty"], env=installed["env"], capture_output=True, text=True, check=True)
    where, checkout = p.stdout.split()
    assert Path(where).is_relative_to(installed["purelib"]) and checkout == "False"
    bundled = installed["purelib"] / "rag" / "_bundled"
    assert len(list((bundled / "documents").glob("*.txt"))) == 5
    assert (bundled / "prompts" / "answer_zh.md").is_file() and (bundled / "eval" / "set.jsonl").is_file()
    assert not (bundled / "eval" / "runs").exists()


def test_ask_from_an_empty_folder_uses_the_bundled_plans(installed):
    empty = installed["empty"]
    p = _run(installed, "ask", QUESTION, cwd=empty)
    assert p.returncode == 0, p.stderr
    assert "450亿元" in p.stdout and "[1]" in p.stdout and "shaoxing_2025_st_innovation_work_points.txt" in p.stdout
    notes = [line for line in p.stderr.splitlines() if "bundled sample plans" in line]
    assert len(notes) == 1, p.stderr
    # The index is the one in the user cache, up to date (not rebuilt); nothing was written here or into
    # site-packages.
    assert "building the index" not in p.stderr, p.stderr
    assert (installed["cache"] / "policy-rag" / "indexes" / "default" / "manifest.json").is_file()
    assert list(empty.iterdir()) == []
    assert sorted(p.name for p in (installed["purelib"] / "rag" / "_bundled").iterdir()) == \
        ["documents", "eval", "prompts"]


def test_a_folder_with_documents_uses_them_and_indexes_beside_them(installed):
    here = installed["base"] / "project"
    (here / "documents").mkdir(parents=True)
    (here / "documents" / "lishui_2025_st_work_points.txt").write_text(LISHUI, encoding="utf-8")
    p = _run(installed, "ask", "丽水2025年技术交易额目标是多少?", cwd=here)
    assert p.returncode == 0, p.stderr
    assert "88亿元" in p.stdout and "bundled" not in p.stderr and "building the index" in p.stderr
    assert (here / "indexes" / "default" / "manifest.json").is_file()


def test_eval_runs_from_an_empty_folder(installed):
    work = installed["base"] / "eval-work"
    work.mkdir()
    p = _run(installed, "eval", "--no-slices", "--no-baselines", "--limit", "3", "--out", "out", cwd=work)
    assert p.returncode == 0, p.stderr
    assert (work / "out" / "report.md").is_file() and (work / "out" / "metrics.json").is_file()
    # The unseen-document slices ship too: an unknown slice's error lists them.
    p = _run(installed, "eval", "--slice", "nosuch", "--out", "out", cwd=work)
    shipped = ", ".join(sorted(d.name for d in (REPO / "eval" / "unseen").iterdir() if (d / "set.jsonl").is_file()))
    assert p.returncode == 1 and shipped in p.stderr and "dev3" in shipped, p.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ui_serves_from_an_empty_folder(installed):
    pytest.importorskip("gradio")
    port = _free_port()
    proc = subprocess.Popen([str(installed["bin"] / "rag"), "ui", "--port", str(port)], cwd=installed["empty"],
                            env=installed["env"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, status = time.monotonic() + 180, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    status = response.status
                    break
            except OSError:
                time.sleep(1)
        assert status == 200, f"rag ui did not answer (exit code {proc.poll()})"
    finally:
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert "bundled sample plans" in out and "Traceback" not in out, out
