#!/usr/bin/env bash
# Build the Lantern desktop bundle with PyInstaller (called by `make package`).
#
# Run from anywhere, with the project's virtualenv active (or with .venv/ present
# at the repository root, which is used automatically). Produces a one-folder
# bundle at dist/lantern/ containing `lantern` (GUI) and `lantern-cli` (console).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Pick the interpreter: an explicit $PYTHON, the active venv, the repo's .venv.
if [[ -n "${PYTHON:-}" ]]; then
    PY="$PYTHON"
elif [[ -n "${VIRTUAL_ENV:-}" && -x "$VIRTUAL_ENV/bin/python" ]]; then
    PY="$VIRTUAL_ENV/bin/python"
elif [[ -x "$ROOT/.venv/bin/python" ]]; then
    PY="$ROOT/.venv/bin/python"
else
    echo "build.sh: no virtualenv found; activate one or create .venv (see README)" >&2
    exit 1
fi
echo "==> Python: $PY ($("$PY" -c 'import sys; print(sys.version.split()[0])'))"

if ! "$PY" -c 'import PyInstaller' >/dev/null 2>&1; then
    echo "==> Installing PyInstaller into the virtualenv"
    "$PY" -m pip install 'pyinstaller>=6'
fi
echo "==> PyInstaller $("$PY" -m PyInstaller --version)"

echo "==> Building dist/lantern (this can take several minutes)"
"$PY" -m PyInstaller --noconfirm --distpath dist --workpath build/pyinstaller packaging/lantern.spec

if command -v desktop-file-validate >/dev/null 2>&1; then
    echo "==> Validating packaging/lantern.desktop"
    desktop-file-validate packaging/lantern.desktop
else
    echo "==> desktop-file-validate not installed; skipped .desktop validation"
fi

BUNDLE="$ROOT/dist/lantern"
if [[ ! -x "$BUNDLE/lantern" ]]; then
    echo "build.sh: expected executable $BUNDLE/lantern was not produced" >&2
    exit 1
fi

cat <<MSG

Bundle built: $BUNDLE
  GUI:  $BUNDLE/lantern
  CLI:  $BUNDLE/lantern-cli --help
Desktop integration (per user, Linux):
  install -Dm644 packaging/lantern.desktop ~/.local/share/applications/lantern.desktop
  install -Dm644 assets/icons/lantern-256.png ~/.local/share/icons/hicolor/256x256/apps/lantern.png
  (and put $BUNDLE on PATH, or edit Exec= to the absolute path of the lantern executable)
MSG
