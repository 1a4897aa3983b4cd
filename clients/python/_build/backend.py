"""A PEP 517 build backend for pgsession with the standard library only,
so that `pip install ./clients/python` works without network (an isolated
build would fetch setuptools).  It builds a pure-Python wheel of src/ and
an sdist of the project; the metadata comes from pyproject.toml."""
from __future__ import annotations

import base64
import hashlib
import io
import os
import tarfile
import zipfile
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent


def _license() -> bytes:
    """The repository's LICENSE: beside pyproject.toml in an sdist (which
    carries it), two levels up in the source tree."""
    for path in (ROOT / "LICENSE", ROOT.parent.parent / "LICENSE"):
        if path.is_file():
            return path.read_bytes()
    raise FileNotFoundError("LICENSE: neither in the sdist nor at the repository's top")


def _project() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]


def _metadata(p: dict) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {p['name']}", f"Version: {p['version']}",
             f"Summary: {p['description']}", f"Requires-Python: {p['requires-python']}",
             f"License: {p['license']['text']}", "License-File: LICENSE"]
    lines += [f"Classifier: {c}" for c in p.get("classifiers", [])]
    lines += [f"Requires-Dist: {d}" for d in p.get("dependencies", [])]
    for extra, deps in p.get("optional-dependencies", {}).items():
        lines.append(f"Provides-Extra: {extra}")
        lines += [f'Requires-Dist: {d}; extra == "{extra}"' for d in deps]
    readme = (ROOT / p["readme"]).read_text()
    return "\n".join(lines + ["Description-Content-Type: text/markdown", "", readme])


def _dist_info(p: dict) -> str:
    return f"{p['name']}-{p['version']}.dist-info"


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    p = _project()
    d = Path(metadata_directory) / _dist_info(p)
    d.mkdir(parents=True, exist_ok=True)
    (d / "METADATA").write_text(_metadata(p))
    return d.name


def _wheel(wheel_directory: str, files: dict[str, bytes]) -> str:
    p = _project()
    info = _dist_info(p)
    files = dict(files)
    files[f"{info}/METADATA"] = _metadata(p).encode()
    files[f"{info}/LICENSE"] = _license()
    files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: pgsession _build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    name = f"{p['name']}-{p['version']}-py3-none-any.whl"
    with zipfile.ZipFile(Path(wheel_directory) / name, "w", zipfile.ZIP_DEFLATED) as z:
        for fname, data in files.items():
            z.writestr(fname, data)
    return name


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    src = ROOT / "src"
    files = {}
    for path in sorted(src.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            files[path.relative_to(src).as_posix()] = path.read_bytes()
    return _wheel(wheel_directory, files)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    p = _project()
    return _wheel(wheel_directory, {f"{p['name']}.pth": (str(ROOT / "src") + os.linesep).encode()})


def build_sdist(sdist_directory, config_settings=None):
    p = _project()
    base = f"{p['name']}-{p['version']}"
    name = f"{base}.tar.gz"
    with tarfile.open(Path(sdist_directory) / name, "w:gz") as tar:
        for path in sorted(ROOT.rglob("*")):
            rel = path.relative_to(ROOT)
            if path.is_file() and "__pycache__" not in rel.parts and not rel.parts[0].startswith("."):
                tar.add(path, arcname=f"{base}/{rel.as_posix()}")
        for arcname, data in (("PKG-INFO", _metadata(p).encode()), ("LICENSE", _license())):
            if arcname == "LICENSE" and (ROOT / "LICENSE").is_file():
                continue  # an sdist rebuilt from an sdist has it already
            ti = tarfile.TarInfo(f"{base}/{arcname}")
            ti.size = len(data)
            tar.addfile(ti, io.BytesIO(data))
    return name
