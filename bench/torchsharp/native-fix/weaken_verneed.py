#!/usr/bin/env python3
"""Marks one symbol-version requirement of an ELF64 little-endian shared object weak (VER_FLG_WEAK), in place.

Usage: weaken_verneed.py LIBRARY [VERSION]      (VERSION defaults to GLIBCXX_3.4.32)

ld.so refuses to load a library that needs a version its dependency lacks, unless the requirement is weak;
then the loader only warns, and the symbols bound to that version must come from elsewhere (here:
libiosinit.so, preloaded by run.sh). Idempotent; the file is replaced atomically (temp + rename).
"""
import os
import struct
import sys

SHT_GNU_VERNEED = 0x6FFFFFFE
VER_FLG_WEAK = 0x2


def weaken(blob, version):
    if blob[:4] != b"\x7fELF" or blob[4] != 2 or blob[5] != 1:
        raise SystemExit("weaken_verneed.py: not an ELF64 little-endian file")
    shoff = struct.unpack_from("<Q", blob, 0x28)[0]
    shentsize, shnum = struct.unpack_from("<HH", blob, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", blob, shoff + k * shentsize) for k in range(shnum)]
    changed = found = 0
    for (_, kind, _, _, offset, _, link, count, _, _) in sections:
        if kind != SHT_GNU_VERNEED:
            continue
        strtab = sections[link][4]

        def name_at(pos):
            start = strtab + pos
            return bytes(blob[start:blob.index(b"\0", start)])
        entry = offset
        for _ in range(count):                          # Verneed entries: one per needed library
            _, aux_count, _, aux, nxt = struct.unpack_from("<HHIII", blob, entry)
            vernaux = entry + aux
            for _ in range(aux_count):                  # Vernaux entries: one per needed version
                _, flags, _, name, aux_next = struct.unpack_from("<IHHII", blob, vernaux)
                if name_at(name) == version:
                    found += 1
                    if not flags & VER_FLG_WEAK:
                        struct.pack_into("<H", blob, vernaux + 4, flags | VER_FLG_WEAK)
                        changed += 1
                vernaux += aux_next
            if nxt == 0:
                break
            entry += nxt
    return found, changed


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    path = sys.argv[1]
    version = (sys.argv[2] if len(sys.argv) > 2 else "GLIBCXX_3.4.32").encode()
    with open(path, "rb") as f:
        blob = bytearray(f.read())
    found, changed = weaken(blob, version)
    if changed:
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(blob)
        os.chmod(tmp, os.stat(path).st_mode)
        os.replace(tmp, path)
    print(f"{os.path.basename(path)}: {version.decode()} requirements found {found}, made weak {changed}")


if __name__ == "__main__":
    main()
