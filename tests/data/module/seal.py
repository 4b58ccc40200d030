#!/usr/bin/env python3
"""seal.py - finish a module built from module.c, as Device OS's build finishes its modules:
the SHA-256 of the module up to the hash goes into its module_info_suffix_t, the CRC-32
(zlib's, stored big-endian) of the whole module into the 4 bytes after it.

Usage: seal.py MODULE.bin SUFFIX.out CRC.out
MODULE.bin (objcopy -O binary of the linked ELF: the module and its 4 CRC bytes) is sealed
in place; SUFFIX.out and CRC.out receive the new contents of the ELF's .module_suffix and
.module_crc sections (for objcopy --update-section, so that the ELF and the HEX made from it
carry the same bytes)."""
import hashlib
import struct
import sys
import zlib

SUFFIX = 36  # u16 reserved, sha256[32], u16 size


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: seal.py MODULE.bin SUFFIX.out CRC.out")
    data = bytearray(open(sys.argv[1], "rb").read())
    size = len(data) - 4
    if size < 24 + SUFFIX or struct.unpack_from("<H", data, size - 2)[0] != SUFFIX:
        sys.exit(f"seal.py: {sys.argv[1]}: no {SUFFIX}-byte module_info_suffix before the CRC")
    sha_at = size - 2 - 32
    data[sha_at:sha_at + 32] = hashlib.sha256(data[:sha_at]).digest()
    data[size:] = struct.pack(">I", zlib.crc32(data[:size]) & 0xffffffff)
    open(sys.argv[1], "wb").write(data)
    open(sys.argv[2], "wb").write(data[size - SUFFIX:size])
    open(sys.argv[3], "wb").write(data[size:])


if __name__ == "__main__":
    main()
