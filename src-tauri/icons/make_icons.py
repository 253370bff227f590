#!/usr/bin/env python3
"""Draws Paydesk's placeholder icon set (a blue rounded square with a white "P") as RGBA PNGs.

Standard library only, so the icons can be regenerated on a machine without ImageMagick or Node;
a designer's artwork replaces them later (`npx tauri icon artwork.png`).
"""
import struct
import zlib
from pathlib import Path

BLUE = (31, 95, 139, 255)
WHITE = (255, 255, 255, 255)
CLEAR = (0, 0, 0, 0)


def pixel(x: float, y: float) -> tuple:
    """Colour at (x, y) in a unit square: rounded background, a stem and a bowl make the "P"."""
    r = 0.18
    cx, cy = min(max(x, r), 1 - r), min(max(y, r), 1 - r)
    if (x - cx) ** 2 + (y - cy) ** 2 > r * r:
        return CLEAR
    stem = 0.30 <= x <= 0.42 and 0.20 <= y <= 0.80
    dx, dy = x - 0.50, y - 0.40
    ring = 0.12 ** 2 <= dx * dx / 1.2 + dy * dy <= 0.21 ** 2 and x >= 0.36
    return WHITE if stem or ring else BLUE


def png(size: int) -> bytes:
    rows = b""
    for j in range(size):
        row = bytearray([0])
        for i in range(size):
            row.extend(pixel((i + 0.5) / size, (j + 0.5) / size))
        rows += bytes(row)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


if __name__ == "__main__":
    here = Path(__file__).parent
    for name, size in [("32x32.png", 32), ("128x128.png", 128), ("128x128@2x.png", 256), ("icon.png", 512)]:
        (here / name).write_bytes(png(size))
