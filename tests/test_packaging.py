"""The wheel ships openapi/ and xsd/ and the installed copy finds them."""

import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (found,) = out.glob("bandwidth_voice_conformance-*.whl")
    return found


def test_wheel_contains_contract_and_grammar(wheel: Path) -> None:
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert "conformance/_data/openapi/bandwidth-voice.yml" in names
    assert "conformance/_data/xsd/bxml.xsd" in names
    assert "conformance/py.typed" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "bw-conformance = conformance.cli:main" in text
    assert "conformance.plugin" in text


def test_installed_wheel_loads_the_spec_from_its_own_copy(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    # This interpreter's pip installs into the new venv (`pip --python`), which saves seeding pip there.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-index",
            "-q",
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    # Dependencies come from this interpreter's site-packages, appended after the venv's own so the
    # installed wheel (not the checkout) provides `conformance`.
    site = Path(
        subprocess.check_output(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
        ).strip()
    )
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    probe = (
        "import conformance, conformance.resources as r;"
        "spec = r.load_spec();"
        "print(conformance.__file__); print(r.spec_path()); print(r.xsd_path());"
        "print(spec['openapi'])"
    )
    result = subprocess.run(
        [str(python), "-c", probe], check=True, capture_output=True, text=True, cwd=tmp_path
    )
    module_file, spec_file, xsd_file, version = result.stdout.split()
    assert module_file.startswith(str(env_dir))
    assert spec_file.startswith(str(env_dir))
    assert spec_file.endswith("bandwidth-voice.yml")
    assert xsd_file.startswith(str(env_dir))
    assert version.startswith("3.1")
