"""``pip install .`` gives a package that opens the shipped models from any directory.

The test builds the wheel from this checkout, checks what it carries, installs it into a
fresh virtual environment and imports it from a temporary directory outside the checkout.
Nothing is downloaded: the wheel is built with ``--no-build-isolation`` (hatchling comes
from requirements-dev.txt) and installed with ``--no-deps --no-index``. The fresh venv
reaches the dependencies already installed here (torch alone is hundreds of MB) through a
``.pth`` file naming this interpreter's site-packages. ``venv --system-site-packages``
would not do: from inside a venv it exposes the *base* interpreter's site-packages, not
this venv's. A ``.pth`` line only appends that folder to ``sys.path``, after the fresh
venv's own site-packages, and does not run the ``.pth`` files inside it, so an editable
install of the checkout there cannot shadow the installed wheel.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autoreg.pretrained import ASSETS, list_pretrained
from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def _run(args: list[str], cwd: Path, env: dict | None = None) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{args}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    pip = [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation"]
    _run([*pip, "--no-index", "--quiet", "-w", str(out)], cwd=out)
    (built,) = out.glob("autoreg-*.whl")
    return built


def test_the_wheel_carries_the_models_and_the_static_files(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {p.name for p in ASSETS.iterdir() if p.is_file()}
    assert {n for n in shipped if n.endswith(".safetensors")}, "no shipped model to package"
    missing = sorted(n for n in shipped if f"autoreg/assets/{n}" not in names)
    assert not missing, f"assets left out of the wheel: {missing}"
    static = ROOT / "autoreg" / "ui" / "static"
    for path in static.rglob("*") if static.is_dir() else []:
        if path.is_file() and "__pycache__" not in path.parts:
            assert path.relative_to(ROOT).as_posix() in names, path
    assert "autoreg/__init__.py" in names and "autoreg/seq/trace.py" in names
    assert not any(n.startswith(("tests/", "assets/", "pages/")) for n in names)
    assert not any("screenshots/" in n or "__pycache__" in n for n in names)


def test_an_installed_wheel_lists_and_loads_the_models_from_anywhere(wheel, tmp_path):
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    py = venv / "bin" / "python"
    fresh_site = Path(
        _run(
            [str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], tmp_path
        ).strip()
    )
    (fresh_site / "_outer_deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    # this interpreter's pip installs into the fresh venv (it has none of its own)
    pip = [sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index"]
    _run([*pip, "--quiet", str(wheel)], cwd=tmp_path)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    probe = (
        "import json, autoreg, autoreg.pretrained as p\n"
        "names = autoreg.list_pretrained()\n"
        "small = min(names, key=lambda n: (p.ASSETS / f'{n}.safetensors').stat().st_size)\n"
        "m = autoreg.load_pretrained(small)\n"
        "print(json.dumps({'file': autoreg.__file__, 'assets': str(p.ASSETS), 'names': names,\n"
        "                  'loaded': small, 'params': sum(t.numel() for t in m.parameters())}))\n"
    )
    _run([str(py), "-c", "import autoreg; print(autoreg.list_pretrained())"], elsewhere, env)
    got = json.loads(_run([str(py), "-c", probe], elsewhere, env))
    assert Path(got["file"]).is_relative_to(fresh_site), got["file"]  # the wheel, not ROOT
    assert Path(got["assets"]) == fresh_site / "autoreg" / "assets"
    assert got["names"] == list_pretrained() and got["names"]
    assert got["params"] > 0
