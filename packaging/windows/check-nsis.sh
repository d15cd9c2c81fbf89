#!/usr/bin/env bash
# Compile packaging/windows/quire.nsi on Linux with Debian's makensis, around a stand-in payload.
#
#   packaging/windows/check-nsis.sh            # -> packaging/out/Quire-<v>-setup-standin.exe
#
# The real payload (dist\quire from PyInstaller) can only be built on Windows; this proves the
# script itself compiles (every page, section, the multi-user logic, the uninstaller) with
# warnings treated as errors. Needs: nsis (makensis), and ImageMagick or rsvg-convert for the icon.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OUT="$ROOT/packaging/out"
VERSION="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$ROOT/app/__init__.py")"
command -v makensis >/dev/null || { echo "error: makensis not found (apt-get install nsis)" >&2; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
PAYLOAD="$WORK/quire"
mkdir -p "$PAYLOAD/_internal/resources/icons" "$OUT"
# Stand-ins with the real names: two executables and an _internal folder.
printf 'MZ stand-in for quire.exe\n' > "$PAYLOAD/quire.exe"
printf 'MZ stand-in for quire-gui.exe\n' > "$PAYLOAD/quire-gui.exe"
cp "$ROOT/resources/icons/quire.svg" "$PAYLOAD/_internal/resources/icons/"
printf 'stand-in\n' > "$PAYLOAD/_internal/base_library.zip"

# The icon as the spec makes it on Windows (16..256 px in one .ico).
ICO="$WORK/quire.ico"
PNGS=()
for n in 16 24 32 48 64 128 256; do
    [ -f "$ROOT/resources/icons/quire-$n.png" ] && PNGS+=("$ROOT/resources/icons/quire-$n.png")
done
if [ ${#PNGS[@]} -gt 0 ] && command -v convert >/dev/null; then
    convert "${PNGS[@]}" "$ICO"
else
    convert -background none "$ROOT/resources/icons/quire.svg" -define icon:auto-resize=256,48,32,16 "$ICO"
fi

SETUP="$OUT/Quire-$VERSION-setup-standin.exe"
makensis -V2 -WX -INPUTCHARSET UTF8 \
    -DVERSION="$VERSION" -DPAYLOAD="$PAYLOAD" -DOUTFILE="$SETUP" -DICON="$ICO" \
    "$HERE/quire.nsi"
file "$SETUP" | tee /dev/stderr | grep -q "PE32" || { echo "error: $SETUP is not a Windows executable" >&2; exit 1; }
echo "compiled $SETUP ($(du -h "$SETUP" | cut -f1)) from quire.nsi with a stand-in payload"
