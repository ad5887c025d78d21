#!/usr/bin/env bash
# Install the frozen Tagloop (this folder, or --from DIR) for one user or, as root, for all.
#
#   ./install-linux.sh                  install to ~/.local (or /opt/tagloop when run as root)
#   ./install-linux.sh --prefix DIR     install under DIR (DIR/lib/tagloop, DIR/bin/tagloop)
#   ./install-linux.sh --uninstall      remove what an install put there (same --prefix)
#
# Puts the program folder in PREFIX/lib/tagloop (/opt/tagloop as root), a `tagloop` link in
# PREFIX/bin, the icon, a desktop entry and the .tagloop / .tlbundle file types, so that a
# double-click on a project or bundle opens it in Tagloop. Needs no network and no Python;
# update-desktop-database and update-mime-database are used when they exist.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SOURCE=$HERE
ACTION=install
PREFIX_ARG=()
if [[ $(id -u) -eq 0 ]]; then
    PREFIX=/usr/local
    APPDIR=/opt/tagloop
else
    PREFIX="$HOME/.local"
    APPDIR=""
fi
while [[ $# -gt 0 ]]; do
    case $1 in
        --uninstall) ACTION=uninstall ;;
        --prefix) PREFIX=$2; APPDIR=""; PREFIX_ARG=(--prefix "$2"); shift ;;
        --from) SOURCE=$(cd "$2" && pwd); shift ;;
        -h | --help) sed -n '2,11p' "$0"; exit 0 ;;
        *) echo "install-linux.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
APPDIR=${APPDIR:-"$PREFIX/lib/tagloop"}
if [[ $(id -u) -eq 0 || "$PREFIX" != "$HOME/.local" ]]; then
    SHARE="$PREFIX/share"
else
    SHARE="${XDG_DATA_HOME:-$HOME/.local/share}"
fi
BINLINK="$PREFIX/bin/tagloop"
DESKTOP="$SHARE/applications/tagloop.desktop"
MIME="$SHARE/mime/packages/tagloop.xml"
ICONDIR="$SHARE/icons/hicolor"
SIZES=(16 32 48 64 128 256)

refresh() {  # let the desktop know; harmless if these tools are absent
    if command -v update-mime-database >/dev/null; then
        update-mime-database "$SHARE/mime" >/dev/null 2>&1 || true
    fi
    if command -v update-desktop-database >/dev/null; then
        update-desktop-database "$SHARE/applications" >/dev/null 2>&1 || true
    fi
    if command -v gtk-update-icon-cache >/dev/null; then
        gtk-update-icon-cache -q -t "$ICONDIR" >/dev/null 2>&1 || true
    fi
}

if [[ $ACTION == uninstall ]]; then
    if [[ -x "$APPDIR/tagloop" ]]; then rm -rf "$APPDIR"; fi
    if [[ -L "$BINLINK" ]]; then rm -f "$BINLINK"; fi
    rm -f "$DESKTOP" "$MIME" "$ICONDIR/scalable/apps/tagloop.svg"
    for size in "${SIZES[@]}"; do rm -f "$ICONDIR/${size}x${size}/apps/tagloop.png"; done
    refresh
    echo "Tagloop removed from $APPDIR (projects, bundles and settings are kept)."
    exit 0
fi

if [[ ! -x "$SOURCE/tagloop" || ! -d "$SOURCE/_internal" ]]; then
    echo "install-linux.sh: $SOURCE is not a frozen Tagloop folder (no tagloop, _internal)" >&2
    exit 1
fi
if [[ "$SOURCE" != "$APPDIR" ]]; then
    rm -rf "$APPDIR.new"
    mkdir -p "$(dirname "$APPDIR")"
    cp -a "$SOURCE" "$APPDIR.new"
    rm -rf "$APPDIR"
    mv "$APPDIR.new" "$APPDIR"  # a failed copy never leaves a half-installed program
fi
"$APPDIR/tagloop" --version >/dev/null  # fails here, not at first double-click

ICONS="$APPDIR/_internal/app/resources/icons"
mkdir -p "$PREFIX/bin" "$SHARE/applications" "$SHARE/mime/packages" "$ICONDIR/scalable/apps"
ln -sfn "$APPDIR/tagloop" "$BINLINK"
for size in "${SIZES[@]}"; do
    mkdir -p "$ICONDIR/${size}x${size}/apps"
    cp "$ICONS/tagloop-$size.png" "$ICONDIR/${size}x${size}/apps/tagloop.png"
done
cp "$ICONS/tagloop.svg" "$ICONDIR/scalable/apps/tagloop.svg"
cp "$APPDIR/share/tagloop-mime.xml" "$MIME"
sed "s|^Exec=tagloop |Exec=$APPDIR/tagloop |" "$APPDIR/share/tagloop.desktop" >"$DESKTOP"
refresh
echo "Tagloop $("$APPDIR/tagloop" --version | cut -d' ' -f2) installed in $APPDIR"
echo "  command: $BINLINK$([[ ":$PATH:" == *":$PREFIX/bin:"* ]] || echo " (add $PREFIX/bin to PATH)")"
echo "  menu entry, icon and the .tagloop / .tlbundle file types: under $SHARE"
echo "  remove with: $APPDIR/install-linux.sh --uninstall ${PREFIX_ARG[*]}"
