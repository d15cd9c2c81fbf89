#!/usr/bin/env bash
# Build Quire-<version>-<arch>.dmg from the app bundle the spec makes on macOS (dist/Quire.app).
#
#   pyinstaller --noconfirm --clean packaging/quire.spec      # -> dist/Quire.app
#   packaging/macos/build-dmg.sh [dist/Quire.app]              # -> packaging/out/Quire-<v>-<arch>.dmg
#
# The .dmg opens to Quire.app beside an Applications link (drag to install). Inside the app:
#   Contents/MacOS/quire-gui   the window (the bundle's main executable)
#   Contents/MacOS/quire       the command line; `sudo ln -s /Applications/Quire.app/Contents/MacOS/quire
#                              /usr/local/bin/quire` puts it on the PATH
# Removing Quire.app removes the program; the library and index in ~/Library/Application Support/Quire stay.
#
# Signing and notarization happen only when their secrets are set (CI passes them from the
# repository's secrets); without them the app is ad-hoc signed, which runs on the build Mac
# and, after right-click > Open, on others:
#   QUIRE_CODESIGN_IDENTITY   "Developer ID Application: ..." (also read by quire.spec)
#   APPLE_ID, APPLE_TEAM_ID, APPLE_APP_PASSWORD   notarytool credentials
# Needs macOS (hdiutil, codesign, xcrun).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
APP="${1:-$ROOT/dist/Quire.app}"
OUT="$ROOT/packaging/out"
[ "$(uname -s)" = Darwin ] || { echo "error: build-dmg.sh runs on macOS (hdiutil)" >&2; exit 1; }
[ -x "$APP/Contents/MacOS/quire-gui" ] && [ -x "$APP/Contents/MacOS/quire" ] \
    || { echo "error: $APP is not the bundle from packaging/quire.spec" >&2; exit 1; }

VERSION="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$ROOT/app/__init__.py")"
PLIST_VERSION="$(/usr/libexec/PlistBuddy -c 'Print :CFBundleShortVersionString' "$APP/Contents/Info.plist")"
[ "$VERSION" = "$PLIST_VERSION" ] || { echo "error: Info.plist says $PLIST_VERSION, app says $VERSION" >&2; exit 1; }
ARCH="$(uname -m)"
DMG="$OUT/Quire-$VERSION-macos-$ARCH.dmg"
mkdir -p "$OUT"

echo "== checking the bundle"
plutil -lint "$APP/Contents/Info.plist"
"$APP/Contents/MacOS/quire" --version

IDENTITY="${QUIRE_CODESIGN_IDENTITY:-}"
if [ -n "$IDENTITY" ]; then
    echo "== signing with $IDENTITY (hardened runtime)"
    codesign --force --deep --timestamp --options runtime \
        --entitlements "$HERE/entitlements.plist" --sign "$IDENTITY" "$APP"
else
    echo "== no QUIRE_CODESIGN_IDENTITY: ad-hoc signature"
    codesign --force --deep --sign - "$APP"
fi
codesign --verify --deep --strict --verbose=2 "$APP"

echo "== disk image"
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
ditto "$APP" "$STAGE/Quire.app"
ln -s /Applications "$STAGE/Applications"
rm -f "$DMG"
# ULMO (LZMA): the smallest image; macOS 10.15+ opens it (the app itself needs 13).
hdiutil create -volname "Quire $VERSION" -srcfolder "$STAGE" -fs HFS+ -format ULMO -ov "$DMG"
hdiutil verify "$DMG"

if [ -n "$IDENTITY" ]; then
    codesign --force --timestamp --sign "$IDENTITY" "$DMG"
    if [ -n "${APPLE_ID:-}" ] && [ -n "${APPLE_TEAM_ID:-}" ] && [ -n "${APPLE_APP_PASSWORD:-}" ]; then
        echo "== notarizing"
        xcrun notarytool submit "$DMG" --apple-id "$APPLE_ID" --team-id "$APPLE_TEAM_ID" \
            --password "$APPLE_APP_PASSWORD" --wait
        xcrun stapler staple "$DMG"
        xcrun stapler validate "$DMG"
    fi
fi

echo "== mounting it once to check the app inside starts"
MNT="$(mktemp -d)"
hdiutil attach -nobrowse -readonly -mountpoint "$MNT" "$DMG" >/dev/null
"$MNT/Quire.app/Contents/MacOS/quire" --version
hdiutil detach "$MNT" >/dev/null
echo "built $DMG ($(du -h "$DMG" | cut -f1))"
