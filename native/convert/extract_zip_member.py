#!/usr/bin/env python3
"""Extract one member of a zip that was cut into fixed-size byte parts, from the parts holding it.

Usage: extract_zip_member.py MEMBER OUT PART_SIZE PART_FILE... (part files named *.NNN, 1-based)

Only the parts that hold the member and the zip's central directory are needed (the last part
holds the directory). Zip64 is understood; stored and deflated members; the CRC-32 is checked.
"""
import hashlib
import struct
import sys
import zlib


def main() -> int:
    member, out, part_size, *files = sys.argv[1:]
    part_size = int(part_size)
    parts = {int(f.rsplit(".", 1)[1]): open(f, "rb").read() for f in files}
    last = max(parts)

    def read(off: int, n: int) -> bytes:
        buf = bytearray()
        while n:
            i = off // part_size + 1
            if i not in parts:
                raise SystemExit(f"need part {i:03d} (bytes {off}…)")
            chunk = parts[i][off - (i - 1) * part_size:][:n]
            if not chunk:
                raise SystemExit(f"part {i:03d} is too short")
            buf += chunk
            off += len(chunk)
            n -= len(chunk)
        return bytes(buf)

    tail = parts[last]
    eocd = tail.rfind(b"PK\x05\x06")
    if eocd < 0:
        raise SystemExit(f"part {last:03d} holds no end of central directory")
    cd_size, cd_off = struct.unpack("<II", tail[eocd + 12:eocd + 20])
    if cd_off == 0xFFFFFFFF:
        loc = tail.rfind(b"PK\x06\x07")
        rec = read(struct.unpack("<Q", tail[loc + 8:loc + 16])[0], 56)
        cd_size, cd_off = struct.unpack("<QQ", rec[40:56])
    cd = read(cd_off, cd_size)
    p = 0
    while p < len(cd):
        f = struct.unpack("<IHHHHHHIIIHHHHHII", cd[p:p + 46])
        method, crc, csz, usz, nl, el, cl, lho = f[4], f[7], f[8], f[9], f[10], f[11], f[12], f[16]
        name = cd[p + 46:p + 46 + nl].decode()
        if name == member:
            extra, q = cd[p + 46 + nl:p + 46 + nl + el], 0
            while q < len(extra):
                hid, hl = struct.unpack("<HH", extra[q:q + 4])
                if hid == 1:  # zip64: sizes and offset that did not fit, in this order
                    vals = list(struct.unpack("<" + "Q" * (hl // 8), extra[q + 4:q + 4 + hl]))
                    if usz == 0xFFFFFFFF:
                        usz = vals.pop(0)
                    if csz == 0xFFFFFFFF:
                        csz = vals.pop(0)
                    if lho == 0xFFFFFFFF:
                        lho = vals.pop(0)
                q += 4 + hl
            n2, e2 = struct.unpack("<HH", read(lho, 30)[26:30])
            raw = read(lho + 30 + n2 + e2, csz)
            body = raw if method == 0 else zlib.decompress(raw, -15)
            if len(body) != usz or zlib.crc32(body) != crc:
                raise SystemExit(f"{member}: size or CRC-32 mismatch")
            with open(out, "wb") as fh:
                fh.write(body)
            print(f"{member}: {usz} bytes, CRC-32 ok, sha256 {hashlib.sha256(body).hexdigest()}")
            return 0
        p += 46 + nl + el + cl
    raise SystemExit(f"{member} is not in the zip")


if __name__ == "__main__":
    sys.exit(main())
