"""A tiny PDF writer for test fixtures: Chinese text with a real text layer, and no font file needed.

Text is drawn with a Type0 font (Identity-H, one CID per distinct character) whose ToUnicode CMap maps each
CID back to its character, which is all a text extractor reads; no glyph outlines are embedded, so a viewer
shows nothing useful, but no CJK font has to be installed where the tests run. The same writer makes the
awkward cases: a glyph mapped to a radical code point, a font with no ToUnicode, a scanned (image-only) page,
and an encrypted file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PAGE_WIDTH, PAGE_HEIGHT = 595, 842  # A4 in points


@dataclass
class Page:
    lines: list[tuple[float, float, str]] = field(default_factory=list)  # (x, y of the baseline, text)
    image: bool = False  # draw a small grey image (a "scan") instead of, or besides, the text


def layout(paragraphs: list[str], *, per_line: int = 30, size: float = 12, left: float = 72, top: float = 740,
           bottom: float = 100, leading: float = 20, indent: int = 2) -> list[list[tuple[float, float, str]]]:
    """Wrap paragraphs (first line indented by `indent` characters) into full lines of `per_line` characters
    and lay them out top to bottom, starting a new page when one is full. Returns each page's lines."""
    pages: list[list[tuple[float, float, str]]] = [[]]
    y = top
    for paragraph in paragraphs:
        first, rest = paragraph[:per_line - indent], paragraph[per_line - indent:]
        wrapped = [(indent, first)] + [(0, rest[i:i + per_line]) for i in range(0, len(rest), per_line)]
        for shift, text in wrapped:
            if not text:
                continue
            if y < bottom:
                pages.append([])
                y = top
            pages[-1].append((left + shift * size, y, text))
            y -= leading
    return pages


def _cmap(cids: dict[str, int], unicode_of: dict[str, str]) -> bytes:
    entries = [f"<{cid:04X}> <{(unicode_of.get(ch, ch)).encode('utf-16-be').hex().upper()}>"
               for ch, cid in sorted(cids.items(), key=lambda kv: kv[1])]
    blocks = []
    for i in range(0, len(entries), 100):
        chunk = entries[i:i + 100]
        blocks.append(f"{len(chunk)} beginbfchar\n" + "\n".join(chunk) + "\nendbfchar")
    return ("/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
            "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
            "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n" + "\n".join(blocks) +
            "\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n").encode("ascii")


def write_pdf(pages: list[Page], *, size: float = 12, unicode_of: dict[str, str] | None = None,
              to_unicode: bool = True, encrypted: bool = False) -> bytes:
    """The bytes of a PDF with these pages. `unicode_of` makes the ToUnicode map a character's glyph to another
    code point (门 -> the radical ⻔), as some PDF producers do."""
    chars = sorted({ch for p in pages for _, _, text in p.lines for ch in text})
    cids = {ch: i + 1 for i, ch in enumerate(chars)}
    objects: list[bytes] = []  # object n is objects[n - 1]

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    def stream(data: bytes, extra: str = "") -> bytes:
        return f"<< /Length {len(data)} {extra}>>\nstream\n".encode() + data + b"\nendstream"

    catalog = add(b"")  # filled in below, once the page tree's number is known
    tree = add(b"")
    descriptor = add(b"<< /Type /FontDescriptor /FontName /TestSong /Flags 4 /FontBBox [0 -120 1000 880] "
                     b"/ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 700 /StemV 80 >>")
    cid_font = add(b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /TestSong /CIDToGIDMap /Identity "
                   b"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
                   b"/FontDescriptor " + f"{descriptor} 0 R".encode() + b" /DW 1000 >>")
    unicode_ref = ""
    if to_unicode:
        unicode_ref = f" /ToUnicode {add(stream(_cmap(cids, unicode_of or {})))} 0 R"
    font = add(f"<< /Type /Font /Subtype /Type0 /BaseFont /TestSong /Encoding /Identity-H "
               f"/DescendantFonts [{cid_font} 0 R]{unicode_ref} >>".encode())
    image = add(stream(b"\x80" * 64, "/Type /XObject /Subtype /Image /Width 8 /Height 8 /ColorSpace /DeviceGray "
                                     "/BitsPerComponent 8 "))
    page_refs = []
    for page in pages:
        ops = []
        if page.image:
            ops.append(f"q {PAGE_WIDTH - 144} 0 0 {PAGE_HEIGHT - 144} 72 72 cm /Im1 Do Q")
        for x, y, text in page.lines:
            hexed = "".join(f"{cids[ch]:04X}" for ch in text)
            ops.append(f"BT /F1 {size:g} Tf {x:g} {y:g} Td <{hexed}> Tj ET")
        content = add(stream("\n".join(ops).encode("ascii")))
        page_refs.append(add(
            f"<< /Type /Page /Parent {tree} 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] /Contents {content} 0 R "
            f"/Resources << /Font << /F1 {font} 0 R >> /XObject << /Im1 {image} 0 R >> >> >>".encode()))
    objects[catalog - 1] = f"<< /Type /Catalog /Pages {tree} 0 R >>".encode()
    objects[tree - 1] = f"<< /Type /Pages /Kids [{' '.join(f'{r} 0 R' for r in page_refs)}] /Count {len(pages)} >>".encode()
    trailer_extra = ""
    if encrypted:
        # A standard security handler whose user password is not empty: readers must ask for it. (O and U are
        # arbitrary, so no password opens it; enough to test that the file is refused, not silently misread.)
        enc = add(b"<< /Filter /Standard /V 1 /R 2 /Length 40 /P -44 /O <" + b"AB" * 32 + b"> /U <" + b"CD" * 32 + b"> >>")
        trailer_extra = f" /Encrypt {enc} 0 R /ID [<{'01' * 16}> <{'01' * 16}>]"

    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root {catalog} 0 R{trailer_extra} >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
