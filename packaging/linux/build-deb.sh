#!/usr/bin/env bash
# Build quire_<version>_<arch>.deb from the PyInstaller folder (dist/quire).
#
#   pyinstaller --noconfirm --clean packaging/quire.spec     # -> dist/quire
#   packaging/linux/build-deb.sh [dist/quire]                 # -> packaging/out/quire_<v>_<arch>.deb
#
# Layout of the package:
#   /opt/quire/                      the PyInstaller folder (quire + _internal/)
#   /usr/bin/quire                   -> /opt/quire/quire
#   /usr/share/applications/quire.desktop
#   /usr/share/icons/hicolor/<n>x<n>/apps/quire.png, scalable/apps/quire.svg
#   /usr/share/metainfo/io.github.quire.Quire.metainfo.xml
#   /usr/share/doc/quire/copyright
# Depends: computed by dpkg-shlibdeps from the ELF files (the system libraries Qt, Python and
# the rest link against: X11/xcb, Wayland, EGL/GL, fontconfig, glib, libstdc++, OpenSSL, ...).
#
# Environment:
#   QUIRE_DEB_COMPRESS   xz (default; smallest download) or zstd (faster to build and install)
#   QUIRE_HOMEPAGE       homepage for the metadata (CI passes https://github.com/<owner>/<repo>)
#   OUT                  output folder (default packaging/out)
#   SOURCE_DATE_EPOCH    timestamps inside the package (default: the last commit's time)
# Needs: dpkg-dev (dpkg-deb, dpkg-shlibdeps), and for the checks appstream, desktop-file-utils.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
DIST="$(cd "${1:-$ROOT/dist/quire}" && pwd)"
OUT="${OUT:-$ROOT/packaging/out}"
COMPRESS="${QUIRE_DEB_COMPRESS:-xz}"
HOMEPAGE="${QUIRE_HOMEPAGE:-https://github.com/quire/quire}"

[ -x "$DIST/quire" ] || { echo "error: $DIST/quire not found; run pyinstaller packaging/quire.spec first" >&2; exit 1; }

VERSION="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$ROOT/app/__init__.py")"
[ -n "$VERSION" ] || { echo "error: no __version__ in app/__init__.py" >&2; exit 1; }
ARCH="$(dpkg --print-architecture)"
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH="$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || date +%s)"
fi
export SOURCE_DATE_EPOCH
DATE="$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
# dpkg-shlibdeps recognises libraries shipped by the package itself when the tree sits at
# debian/<package>/ next to a debian/control.
PKG="$WORK/debian/quire"
mkdir -p "$PKG/DEBIAN" "$PKG/opt" "$PKG/usr/bin" "$PKG/usr/share/applications" "$PKG/usr/share/metainfo" \
         "$PKG/usr/share/doc/quire"

echo "== staging $DIST -> /opt/quire"
cp -a "$DIST" "$PKG/opt/quire"
ln -s /opt/quire/quire "$PKG/usr/bin/quire"

install -m 0644 "$ROOT/resources/quire.desktop" "$PKG/usr/share/applications/quire.desktop"

# Icons: the hand-tuned PNGs from resources/icons where present, rendered from the SVG otherwise.
ICONS="$ROOT/resources/icons"
for n in 16 24 32 48 64 128 256 512; do
    dst="$PKG/usr/share/icons/hicolor/${n}x${n}/apps"
    mkdir -p "$dst"
    if [ -f "$ICONS/quire-$n.png" ]; then
        install -m 0644 "$ICONS/quire-$n.png" "$dst/quire.png"
    elif command -v rsvg-convert >/dev/null; then
        rsvg-convert -w "$n" -h "$n" "$ICONS/quire.svg" -o "$dst/quire.png"
    else
        convert -background none -density 384 "$ICONS/quire.svg" -resize "${n}x${n}" "$dst/quire.png"
    fi
done
mkdir -p "$PKG/usr/share/icons/hicolor/scalable/apps"
install -m 0644 "$ICONS/quire.svg" "$PKG/usr/share/icons/hicolor/scalable/apps/quire.svg"

sed -e "s|@VERSION@|$VERSION|g" -e "s|@DATE@|$DATE|g" -e "s|@HOMEPAGE@|$HOMEPAGE|g" \
    "$HERE/io.github.quire.Quire.metainfo.xml.in" > "$PKG/usr/share/metainfo/io.github.quire.Quire.metainfo.xml"
sed -e "s|@HOMEPAGE@|$HOMEPAGE|g" "$HERE/copyright" > "$PKG/usr/share/doc/quire/copyright"
chmod 0644 "$PKG/usr/share/metainfo/io.github.quire.Quire.metainfo.xml" "$PKG/usr/share/doc/quire/copyright"

if command -v desktop-file-validate >/dev/null; then
    desktop-file-validate "$PKG/usr/share/applications/quire.desktop"
fi
if command -v appstreamcli >/dev/null; then
    appstreamcli validate --no-net --pedantic "$PKG/usr/share/metainfo/io.github.quire.Quire.metainfo.xml" \
        || { echo "error: AppStream metadata does not validate" >&2; exit 1; }
fi

echo "== dependencies (dpkg-shlibdeps)"
# Every ELF file, less the GTK platform theme: Qt loads it only where GTK 3 is already
# installed, so it must not pull GTK onto KDE or headless systems.
mapfile -t ELFS < <(find "$PKG/opt/quire" -type f \( -name '*.so' -o -name '*.so.*' -o -name quire \) \
                     ! -name 'libqgtk3.so' -exec sh -c 'head -c4 "$1" | grep -q "ELF" && echo "$1"' _ {} \; | sort)
LIBDIRS=()
while IFS= read -r d; do LIBDIRS+=("-l$d"); done < <(for f in "${ELFS[@]}"; do dirname "$f"; done | sort -u)
mkdir -p "$WORK/debian"
printf 'Source: quire\n\nPackage: quire\nArchitecture: any\n' > "$WORK/debian/control"
SHLIBDEPS="$(cd "$WORK" && dpkg-shlibdeps -O --ignore-missing-info -e"${ELFS[@]}" "${LIBDIRS[@]}" 2>"$WORK/shlibdeps.err" \
             | sed -n 's/^shlibs:Depends=//p')" || { cat "$WORK/shlibdeps.err" >&2; exit 1; }
grep -v "no dependency information found\|binaries to analyze should already be installed\|package could avoid a useless dependency" \
    "$WORK/shlibdeps.err" >&2 || true
[ -n "$SHLIBDEPS" ] || { echo "error: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
# Not linked but needed: the X11 cursor library Qt 6.5+ dlopens (it refuses to start on X11
# without it), and fonts to draw any text at all.
DEPENDS="$SHLIBDEPS, libxcb-cursor0, fontconfig, fonts-dejavu-core | fonts-liberation2 | fonts-noto-core | fonts-freefont-ttf"

INSTALLED_KB="$(du -sk --apparent-size "$PKG" | cut -f1)"
cat > "$PKG/DEBIAN/control" <<EOF
Package: quire
Version: $VERSION
Architecture: $ARCH
Maintainer: The Quire developers <quire@users.noreply.github.com>
Installed-Size: $INSTALLED_KB
Depends: $DEPENDS
Recommends: xdg-utils
Suggests: ollama
Section: utils
Priority: optional
Homepage: $HOMEPAGE
Description: ask questions of the files on your own computer
 Quire keeps an index of the folders you point it at, up to date as files
 change, and answers questions about them with a local Ollama model, citing
 the file and page of every passage it used. Keyword and meaning-based search
 work without a language model. The window and the quire command line share
 one index. Everything runs on this machine.
EOF
install -m 0755 "$HERE/postinst" "$HERE/postrm" "$PKG/DEBIAN/"

# Reproducible: fixed timestamps and modes, no build-machine owner (--root-owner-group).
find "$PKG" -path "$PKG/DEBIAN" -prune -o -type d -exec chmod 0755 {} +
find "$PKG" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
# PyInstaller's tree keeps no absolute paths of this machine; make sure of it (the Python
# bytecode inside the executable is compressed: packaging/check_paths.py looks there).
if grep -rla -e "$ROOT" "$PKG/opt/quire" 2>/dev/null | head -5 | grep .; then
    echo "error: the files above embed a path of the build machine" >&2; exit 1
fi

mkdir -p "$OUT"
DEB="$OUT/quire_${VERSION}_${ARCH}.deb"
echo "== dpkg-deb ($COMPRESS)"
case "$COMPRESS" in
    xz)   dpkg-deb --root-owner-group -Zxz -z9 -Sextreme --threads-max="$(nproc)" -b "$PKG" "$DEB" 2>/dev/null \
              || dpkg-deb --root-owner-group -Zxz -z9 -b "$PKG" "$DEB" ;;
    zstd) dpkg-deb --root-owner-group -Zzstd -z19 -b "$PKG" "$DEB" ;;
    *)    echo "error: QUIRE_DEB_COMPRESS must be xz or zstd" >&2; exit 1 ;;
esac
dpkg-deb --info "$DEB" | sed -n '/Package:/,/Description:/p'
echo "built $DEB ($(du -h "$DEB" | cut -f1); installed $((INSTALLED_KB / 1024)) MB)"
