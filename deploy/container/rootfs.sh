#!/usr/bin/env bash
# Used inside the build stage of the Containerfile: assembles the runtime root file system in
# DEST from the built binary, the shared libraries it loads (ldd, copied to their own
# paths, symlinks resolved), the dynamic loader, tini-static, the schemas and the config,
# a CA bundle, and passwd/group files naming the unprivileged user 10001. Nothing else.
#   rootfs.sh BINARY SOURCE_DIR DEST
set -euo pipefail
bin=$1 src=$2 dest=$3
mkdir -p "$dest/usr/bin" "$dest/etc/ssl/certs" "$dest/app" "$dest/tmp"
chmod 1777 "$dest/tmp"
cp "$bin" "$dest/usr/bin/sentistream"
strip --strip-unneeded "$dest/usr/bin/sentistream"
cp /usr/bin/tini-static "$dest/usr/bin/tini-static"
# every library ldd resolves (transitively), and the loader the binary names
ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u |
        while read -r lib; do
                mkdir -p "$dest$(dirname "$lib")"
                cp -L "$lib" "$dest$lib"
        done
cp -r "$src/config" "$src/schemas" "$dest/app/"
cp /etc/ssl/certs/ca-certificates.crt "$dest/etc/ssl/certs/"
printf 'root:x:0:0:root:/root:/nonexistent\nsentistream:x:10001:10001:sentistream:/app:/nonexistent\n' \
        >"$dest/etc/passwd"
printf 'root:x:0:\nsentistream:x:10001:\n' >"$dest/etc/group"
printf 'hosts: files dns\n' >"$dest/etc/nsswitch.conf"
