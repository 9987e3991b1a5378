#!/bin/sh
# BatchOps single executable (Linux x86_64): this POSIX sh header, then gzip'd tars of the
# program (a PyInstaller onedir build, see scripts/build_binary.py). The first start unpacks it
# once into a cache folder named after this build; every later start only checks that folder and
# execs the program in it (no extra process: signals and the terminal go straight to BatchOps).
#   cache: $BATCHOPS_CACHE_DIR, else ${XDG_CACHE_HOME:-~/.cache}/batchops, else (not writable)
#          ${TMPDIR:-/tmp}/batchops-<uid>; the folder inside is <version>-<payload sha256 prefix>
#   needs: sh, tar, gzip, tail, head, mkdir, mv, rm, id, ls - nothing else, no Python
bundle=@BUNDLE_ID@
offset=@@@@@@@@@@@@
part_sizes="@PART_SIZES@"
self=$0
set -f
unset IFS CDPATH

say() { printf 'batchops: %s\n' "$*" >&2; }

# A complete unpack of this very build? The marker is written last, inside the temp folder,
# before the folder is renamed into place: a half-unpacked folder never has it.
usable() {
    [ -x "$1/batchops" ] && [ -f "$1/_internal/base_library.zip" ] && [ -r "$1/.bundle" ] || return 1
    read -r got < "$1/.bundle" && [ "$got" = "$bundle" ]
}

# A folder in a shared temp dir that is ours alone: not a symlink, owned by us, mode 700.
private_dir() {
    d=$1
    mkdir -m 700 "$d" 2>/dev/null
    [ -d "$d" ] && [ ! -L "$d" ] || return 1
    set -- $(ls -ldn "$d")
    [ "$3" = "$(id -u)" ] && case $1 in drwx------*) true ;; *) false ;; esac
}

# Leftovers of unpacks that were killed half-way (their process is gone).
clean_stale() {
    set +f
    for old in "$1"/.unpack.* "$1"/.damaged.*; do
        [ -d "$old" ] || continue
        kill -0 "${old##*.}" 2>/dev/null || rm -rf "$old"
    done
    set -f
}

# Sets $dir to a usable unpacked copy under cache base $1, unpacking this file if needed.
unpack() {
    dir=$1/$bundle
    usable "$dir" && return 0
    mkdir -p "$1" 2>/dev/null && [ -w "$1" ] || return 1
    clean_stale "$1"
    tmp=$1/.unpack.$bundle.$$
    rm -rf "$tmp" && mkdir "$tmp" 2>/dev/null || return 1
    if [ -t 2 ]; then say "unpacking into $dir (first start of this build; later starts reuse it)"; fi
    # The archives unpack side by side (one core each). gzip checks each one's CRC: a truncated
    # or damaged file fails here and never runs half a program.
    pos=$((offset + 1)) pids= failed=
    for size in $part_sizes; do
        tail -c +"$pos" "$self" | head -c "$size" | (cd "$tmp" && tar -xzf -) &
        pids="$pids $!"
        pos=$((pos + size))
    done
    for pid in $pids; do wait "$pid" || failed=1; done
    if [ -n "$failed" ]; then
        rm -rf "$tmp"
        say "could not unpack $self into $1 (disk full, or the file was damaged when copied?)"
        return 1
    fi
    echo "$bundle" > "$tmp/.bundle" || { rm -rf "$tmp"; return 1; }
    if [ -d "$dir" ] && ! usable "$dir"; then  # damaged (e.g. half-removed by a temp cleaner)
        mv "$dir" "$1/.damaged.$bundle.$$" 2>/dev/null && rm -rf "$1/.damaged.$bundle.$$"
    fi
    # rename(2) is atomic. If another copy started at the same time and won, $dir exists and mv
    # puts ours inside it instead: remove that, the winner's copy is just as good.
    mv "$tmp" "$dir" 2>/dev/null
    rm -rf "$tmp" "$dir/.unpack.$bundle.$$"
    usable "$dir"
}

if [ -n "${BATCHOPS_CACHE_DIR:-}" ]; then
    unpack "$BATCHOPS_CACHE_DIR" || { say "cannot unpack into BATCHOPS_CACHE_DIR=$BATCHOPS_CACHE_DIR"; exit 1; }
else
    case ${XDG_CACHE_HOME:-} in
        /*) cache=$XDG_CACHE_HOME/batchops ;;
        *) cache=${HOME:-/nonexistent}/.cache/batchops ;;
    esac
    if ! unpack "$cache"; then
        fallback=${TMPDIR:-/tmp}/batchops-$(id -u)
        if ! { private_dir "$fallback" && unpack "$fallback"; }; then
            say "cannot unpack into $cache nor $fallback: set BATCHOPS_CACHE_DIR to a writable folder"
            exit 1
        fi
    fi
fi
exec "$dir/batchops" "$@"
exit 127
