#!/usr/bin/env bash
# Checks what a Paydesk .deb holds, failing loudly with what is wrong: Package paydesk for this
# machine's architecture, Depends naming libwebkit2gtk-4.1, the binary in usr/bin (a real
# executable), one desktop entry (Type=Application, Name=Paydesk, Categories with Finance) whose
# Exec and Icon name files in the package, and the hicolor icons (32x32 and 128x128).
# Used by scripts/package.sh (release) and scripts/test.sh (a .deb of the tests' debug build).
#
# Usage: scripts/check-deb.sh PATH.deb
set -euo pipefail

fail() { echo "package check failed: $*" >&2; exit 1; }
[ $# -eq 1 ] || fail "usage: $0 PATH.deb"
deb=$1
[ -f "$deb" ] || fail "no such file: $deb"

info=$(dpkg-deb -I "$deb") || fail "$deb is not a Debian package"
# Member names as absolute paths; the archive may store them as ./usr/... (dpkg-deb -b) or usr/...
# (Tauri's bundler), and `member` gives back the stored name for tar.
raw=$(dpkg-deb -c "$deb" | awk '{print $NF}')
contents=$(printf '%s\n' "$raw" | sed 's|^\./||; s|^|/|')
member() { if printf '%s\n' "$raw" | grep -qx "\.$1"; then echo ".$1"; else echo "${1#/}"; fi; }
field() { printf '%s\n' "$info" | sed -n "s/^ $1: //p"; }

[ "$(field Package)" = paydesk ] || fail "Package is '$(field Package)', not paydesk"
[ "$(field Architecture)" = "$(dpkg --print-architecture)" ] || fail "Architecture is '$(field Architecture)'"
field Depends | grep -q 'libwebkit2gtk-4\.1' || fail "Depends does not name libwebkit2gtk-4.1: '$(field Depends)'"

desktop_files=$(printf '%s\n' "$contents" | grep '^/usr/share/applications/.*\.desktop$' || true)
[ "$(printf '%s\n' "$desktop_files" | grep -c .)" -eq 1 ] || fail "expected one desktop entry in usr/share/applications, found: '$desktop_files'"
entry=$(dpkg-deb --fsys-tarfile "$deb" | tar -xO "$(member "$desktop_files")")
key() { printf '%s\n' "$entry" | sed -n "s/^$1=//p" | head -n1; }
[ "$(key Type)" = Application ] || fail "desktop entry Type is '$(key Type)'"
[ "$(key Name)" = Paydesk ] || fail "desktop entry Name is '$(key Name)', not Paydesk"
key Categories | tr ';' '\n' | grep -qx Finance || fail "desktop entry Categories '$(key Categories)' lacks Finance"
exec_bin=$(key Exec | awk '{print $1}')
[ -n "$exec_bin" ] || fail "desktop entry has no Exec"
case $exec_bin in /*) bin_path=$exec_bin ;; *) bin_path=/usr/bin/$exec_bin ;; esac
printf '%s\n' "$contents" | grep -qx "$bin_path" || fail "Exec=$exec_bin but the package has no $bin_path"
icon=$(key Icon)
[ -n "$icon" ] || fail "desktop entry has no Icon"
icons=$(printf '%s\n' "$contents" | grep "^/usr/share/icons/hicolor/.*/apps/$icon\.png$" || true)
for size in 32x32 128x128; do
  printf '%s\n' "$icons" | grep -q "/hicolor/$size/" || fail "no $size icon named $icon.png in usr/share/icons/hicolor (found: '$icons')"
done

# A real executable, not an empty placeholder.
packaged=$(dpkg-deb --fsys-tarfile "$deb" | tar -tv "$(member "$bin_path")")
packaged_size=$(printf '%s\n' "$packaged" | awk '{print $3}')
[ "$packaged_size" -gt 1000000 ] || fail "$bin_path is only $packaged_size bytes"
printf '%s\n' "$packaged" | awk '{print $1}' | grep -q '^-rwx' || fail "$bin_path is not executable: $packaged"

echo "package ok: $deb"
echo "  $(field Package) $(field Version) ($(field Architecture)), $(du -h "$deb" | cut -f1), Depends: $(field Depends)"
echo "  binary $bin_path ($packaged_size bytes), desktop entry $desktop_files, $(printf '%s\n' "$icons" | grep -c .) icons"
