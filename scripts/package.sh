#!/usr/bin/env bash
# Builds the release app and a Debian package with Tauri's bundler, then checks what the package
# holds, failing loudly: the binary in usr/bin, a desktop entry (Exec, Icon, Categories=Finance)
# whose Exec and Icon name files in the package, the hicolor icons, and Depends naming
# libwebkit2gtk-4.1. Prints the .deb's path. The bundling itself needs no network (cargo is told
# so once the release build is done); only installing missing tools does.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
started=$(date +%s)

ensure_debian_packages
ensure_tauri_cli
ensure_ui_built
# The same release build as scripts/run.sh (reused when it is already there).
build_desktop release

step "bundling the .deb (cargo tauri build --bundles deb)"
bundle_dir="$CARGO_TARGET_DIR/release/bundle/deb"
rm -f "$bundle_dir"/*.deb
# The UI was built above: no beforeBuildCommand (it would rebuild it, or wait for a dev server).
# Same package and features as build_desktop (the workspace's default members exclude the shell),
# so cargo finds the release binary up to date.
CARGO_NET_OFFLINE=true cargo tauri build --ci --bundles deb --features custom-protocol \
  --config '{"build":{"beforeBuildCommand":""}}' -- -p paydesk-desktop

fail() { echo "package check failed: $*" >&2; exit 1; }
debs=("$bundle_dir"/*.deb)
[ -f "${debs[0]}" ] || fail "no .deb in $bundle_dir"
[ ${#debs[@]} -eq 1 ] || fail "more than one .deb in $bundle_dir: ${debs[*]}"
deb=${debs[0]}

step "checking what $(basename "$deb") contains"
info=$(dpkg-deb -I "$deb")
contents=$(dpkg-deb -c "$deb" | awk '{print $NF}' | sed 's|^\./|/|')
field() { printf '%s\n' "$info" | sed -n "s/^ $1: //p"; }

[ "$(field Package)" = paydesk ] || fail "Package is '$(field Package)', not paydesk"
[ "$(field Architecture)" = "$(dpkg --print-architecture)" ] || fail "Architecture is '$(field Architecture)'"
field Depends | grep -q 'libwebkit2gtk-4\.1' || fail "Depends does not name libwebkit2gtk-4.1: '$(field Depends)'"

desktop_files=$(printf '%s\n' "$contents" | grep '^/usr/share/applications/.*\.desktop$' || true)
[ "$(printf '%s\n' "$desktop_files" | grep -c .)" -eq 1 ] || fail "expected one desktop entry in usr/share/applications, found: '$desktop_files'"
entry=$(dpkg-deb --fsys-tarfile "$deb" | tar -xO ".$desktop_files")
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
packaged_size=$(dpkg-deb --fsys-tarfile "$deb" | tar -tv ".$bin_path" | awk '{print $3}')
[ "$packaged_size" -gt 1000000 ] || fail "$bin_path is only $packaged_size bytes"

echo "package ok: $deb"
echo "  $(field Package) $(field Version) ($(field Architecture)), $(du -h "$deb" | cut -f1), Depends: $(field Depends)"
echo "  binary $bin_path ($packaged_size bytes), desktop entry $desktop_files, $(printf '%s\n' "$icons" | grep -c .) icons"
echo "  built and checked in $(( $(date +%s) - started )) s"
