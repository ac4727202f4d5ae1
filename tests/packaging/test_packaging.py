"""Static checks of the desktop packaging (no PyInstaller build, no Qt, no torch).

Covers packaging/lantern.desktop, packaging/lantern.spec, packaging/lantern_entry.py,
packaging/build.sh and the application icons under assets/icons.
"""

from __future__ import annotations

import ast
import configparser
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
ICONS = ROOT / "assets" / "icons"
DESKTOP_FILE = PACKAGING / "lantern.desktop"
SPEC_FILE = PACKAGING / "lantern.spec"
ENTRY_SCRIPT = PACKAGING / "lantern_entry.py"
BUILD_SCRIPT = PACKAGING / "build.sh"

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ICON_SIZES = (48, 128, 256)


# --------------------------------------------------------------------------- helpers


def read_png_size(path: Path) -> tuple[int, int]:
    """Return (width, height) from a PNG's IHDR chunk, checking signature and CRC."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path.name}: not a PNG (bad signature)"
    length, chunk_type = struct.unpack(">I4s", data[8:16])
    assert chunk_type == b"IHDR", f"{path.name}: first chunk is {chunk_type!r}, not IHDR"
    assert length == 13, f"{path.name}: IHDR length {length} != 13"
    ihdr = data[16 : 16 + length]
    (crc,) = struct.unpack(">I", data[16 + length : 20 + length])
    assert zlib.crc32(b"IHDR" + ihdr) == crc, f"{path.name}: IHDR CRC mismatch"
    width, height, bit_depth, color_type = struct.unpack(">IIBB", ihdr[:10])
    assert bit_depth in (8, 16), f"{path.name}: unexpected bit depth {bit_depth}"
    assert color_type in (2, 6), f"{path.name}: expected RGB/RGBA, got colour type {color_type}"
    assert data[-8:-4] == b"IEND", f"{path.name}: missing IEND chunk (truncated?)"
    return width, height


def load_desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # desktop entry keys are case sensitive
    parser.read_string(DESKTOP_FILE.read_text(encoding="utf-8"), source=str(DESKTOP_FILE))
    assert parser.sections() == ["Desktop Entry"], parser.sections()
    return parser["Desktop Entry"]


def call_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id
    return None


# --------------------------------------------------------------------------- desktop entry


def test_desktop_file_passes_desktop_file_validate():
    tool = shutil.which("desktop-file-validate")
    if tool is None:
        pytest.skip("desktop-file-validate not installed (Debian/Ubuntu: apt-get install desktop-file-utils)")
    result = subprocess.run([tool, str(DESKTOP_FILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    # Hints (e.g. several main categories) are fine; errors and warnings are not.
    report = result.stdout + result.stderr
    assert "error:" not in report, report
    assert "warning:" not in report, report


def test_desktop_file_required_keys():
    entry = load_desktop_entry()
    expected = {
        "Type": "Application",
        "Name": "Lantern",
        "Exec": "lantern",
        "Icon": "lantern",
        "Terminal": "false",
        "StartupWMClass": "lantern",
    }
    for key, value in expected.items():
        assert entry.get(key) == value, f"{key}={entry.get(key)!r}, expected {value!r}"
    for key in ("GenericName", "Comment", "Keywords"):
        assert entry.get(key, "").strip(), f"{key} missing or empty"
    categories = entry["Categories"].split(";")
    assert categories[-1] == "", "Categories must end with ';'"
    assert {"Science", "Education", "Development"} <= set(categories)
    assert entry["Keywords"].endswith(";"), "Keywords must end with ';'"


def test_desktop_icon_exists_in_assets():
    icon = load_desktop_entry()["Icon"]
    # An icon theme name (not a path, no extension) that we ship in assets/icons.
    assert "/" not in icon and "." not in icon, f"Icon should be a theme name, got {icon!r}"
    candidates = [ICONS / f"{icon}.svg", *(ICONS / f"{icon}-{size}.png" for size in ICON_SIZES)]
    missing = [p.name for p in candidates if not p.is_file()]
    assert not missing, f"icon files for Icon={icon} missing from assets/icons: {missing}"


# --------------------------------------------------------------------------- spec + entry script


def test_spec_compiles_and_references_inputs():
    source = SPEC_FILE.read_text(encoding="utf-8")
    compile(source, str(SPEC_FILE), "exec")  # raises SyntaxError if broken
    for needle in (
        "lantern_entry.py",
        "assets",
        "migrations",
        "SPECPATH",
        'collect_submodules("engine")',
        'collect_submodules("gui")',
        'collect_data_files("engine")',
        "COLLECT(",
    ):
        assert needle in source, f"lantern.spec does not mention {needle!r}"
    for excluded in ("torchvision", "tensorboard", "matplotlib", "IPython", "tkinter"):
        assert f'"{excluded}"' in source, f"lantern.spec does not exclude {excluded}"
    # Paths must be derived from SPECPATH so the spec works from any clone.
    assert "/work/" not in source and "/home/" not in source, "absolute path in lantern.spec"


def test_spec_defines_gui_and_cli_executables():
    tree = ast.parse(SPEC_FILE.read_text(encoding="utf-8"))
    exes = {}
    for node in ast.walk(tree):
        if call_name(node) == "EXE":
            kwargs = {kw.arg: kw.value for kw in node.keywords if kw.arg}
            name = ast.literal_eval(kwargs["name"])
            exes[name] = ast.literal_eval(kwargs["console"])
    assert exes.get("lantern") is False, "GUI executable 'lantern' must be console=False"
    if "lantern-cli" in exes:
        assert exes["lantern-cli"] is True, "'lantern-cli' must be console=True"
    collect_names = [
        ast.literal_eval(kw.value)
        for node in ast.walk(tree)
        if call_name(node) == "COLLECT"
        for kw in node.keywords
        if kw.arg == "name"
    ]
    assert collect_names == ["lantern"], collect_names


def test_entry_script_calls_freeze_support_first():
    source = ENTRY_SCRIPT.read_text(encoding="utf-8")
    body = ast.parse(source, filename=str(ENTRY_SCRIPT)).body
    assert len(body) >= 2
    first, second = body[0], body[1]
    assert isinstance(first, ast.Import), ast.dump(first)
    assert [alias.name for alias in first.names] == ["multiprocessing"]
    assert isinstance(second, ast.Expr) and isinstance(second.value, ast.Call), ast.dump(second)
    func = second.value.func
    assert isinstance(func, ast.Attribute) and func.attr == "freeze_support", ast.dump(second)
    assert isinstance(func.value, ast.Name) and func.value.id == "multiprocessing"
    # ...and then hands over to the app's entry point.
    imports_main = any(
        isinstance(node, ast.ImportFrom)
        and node.module == "gui.launcher"
        and any(alias.name == "main" for alias in node.names)
        for node in body[2:]
    )
    assert imports_main, "lantern_entry.py must import main from gui.launcher"
    assert "raise SystemExit(main())" in source


def test_build_script_runs_pyinstaller_on_spec():
    text = BUILD_SCRIPT.read_text(encoding="utf-8")
    assert text.startswith("#!"), "build.sh needs a shebang"
    assert "set -euo pipefail" in text
    assert "packaging/lantern.spec" in text
    assert "--distpath dist" in text and "--workpath build/pyinstaller" in text
    assert "desktop-file-validate" in text
    bash = shutil.which("bash")
    if bash:
        result = subprocess.run([bash, "-n", str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------- icons


@pytest.mark.parametrize("size", ICON_SIZES)
def test_png_icons_have_stated_size(size):
    path = ICONS / f"lantern-{size}.png"
    assert path.is_file(), f"missing {path}"
    assert read_png_size(path) == (size, size)


def test_svg_icon_is_square_svg():
    root = ET.parse(ICONS / "lantern.svg").getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg", root.tag
    _, _, width, height = (float(v) for v in root.attrib["viewBox"].split())
    assert width == height > 0


def test_icon_provenance_recorded():
    text = (ICONS / "PROVENANCE.txt").read_text(encoding="utf-8")
    assert "MIT" in text
    assert "Lantern" in text
