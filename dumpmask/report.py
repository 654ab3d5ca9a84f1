"""Render a masking run's JSON audit into a PDF compliance report (fpdf2, A4).

The report is built from the audit dict alone, so it can be re-rendered later from the sidecar.
Every field is optional: a missing value prints as "n/a" rather than failing the render.

Fonts: the DejaVu Sans TTFs shipped in dumpmask/fonts (Latin, Greek, Cyrillic, Arabic, Hebrew,
...). When the audit contains characters DejaVu lacks (CJK table names, say) a system font that
has them is added as an fpdf2 fallback font; characters no available font can draw are printed
as {U+XXXX} so that every identifier stays unambiguous and nothing crashes.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from dumpmask.categories import (HIPAA_IDENTIFIERS, HIPAA_MANUAL_ITEMS, PCI_ELEMENTS, hipaa_item, pci_element,
                                 short_label)
from dumpmask.version import __version__ as _TOOL_VERSION

NA = "n/a"
COMPLIANCE_TITLE = "COMPLIANCE STATUS - THIS RUN"
LEGAL_NOTE = (
    "This report documents the technical measures applied by this masking run. It is not a legal "
    "certification of HIPAA, PCI DSS or GDPR compliance: whether the output is de-identified for a "
    "given purpose remains a determination for the data controller / compliance officer."
)

# --------------------------------------------------------------------------------------------
# fonts

FONT_DIR = Path(__file__).with_name("fonts")
_FAMILY = "dmsans"

_SYSTEM_FONTS = [  # (regular, bold) pairs, first match wins
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    ("/usr/share/fonts/dejavu/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf"),
    ("/usr/share/fonts/TTF/DejaVuSans.ttf", "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf"),
    ("/usr/local/share/fonts/DejaVuSans.ttf", "/usr/local/share/fonts/DejaVuSans-Bold.ttf"),
    ("/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf", "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf"),
    ("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
     "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf"),
    ("/System/Library/Fonts/Supplemental/Arial Unicode.ttf", None),
    ("/Library/Fonts/Arial Unicode.ttf", None),
    ("C:\\Windows\\Fonts\\arial.ttf", "C:\\Windows\\Fonts\\arialbd.ttf"),
]

# Fonts tried (in order) for characters the main font lacks: CJK and other wide-coverage fonts.
_FALLBACK_CANDIDATES = [
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/droid/DroidSansFallback.ttf",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/unifont/unifont.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-droid-sans-fonts/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
    "/System/Library/Fonts/Supplemental/Arial Unicode.ttf",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:\\Windows\\Fonts\\msyh.ttc",
    "C:\\Windows\\Fonts\\msgothic.ttc",
]


def find_main_fonts() -> tuple[str, str | None] | None:
    """(regular, bold-or-None) TTF paths: $DUMPMASK_REPORT_FONT, the packaged DejaVu, a system font."""
    env = os.environ.get("DUMPMASK_REPORT_FONT")
    if env and os.path.isfile(env):
        bold = os.environ.get("DUMPMASK_REPORT_FONT_BOLD")
        return env, bold if bold and os.path.isfile(bold) else None
    reg, bold = FONT_DIR / "DejaVuSans.ttf", FONT_DIR / "DejaVuSans-Bold.ttf"
    if reg.is_file():
        return str(reg), str(bold) if bold.is_file() else None
    for r, b in _SYSTEM_FONTS:
        if os.path.isfile(r):
            return r, b if b and os.path.isfile(b) else None
    found = _fc_match("sans-serif:lang=ru")
    if found:
        return found, _fc_match("sans-serif:lang=ru:weight=bold")
    return None


def _fc_match(pattern: str) -> str | None:
    exe = shutil.which("fc-match")
    if not exe:
        return None
    try:
        out = subprocess.run([exe, "-f", "%{file}", pattern], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    path = out.stdout.strip()
    if path and os.path.isfile(path) and path.lower().endswith((".ttf", ".otf", ".ttc")):
        return path
    return None


def fallback_font_paths() -> list[str]:
    """Candidate fonts for glyphs the main font lacks ($DUMPMASK_REPORT_FALLBACK_FONTS first)."""
    paths = [p for p in os.environ.get("DUMPMASK_REPORT_FALLBACK_FONTS", "").split(os.pathsep) if p]
    paths += _FALLBACK_CANDIDATES
    for pat in (":lang=zh-cn", ":lang=ja", ":lang=ko"):
        p = _fc_match(pat)
        if p:
            paths.append(p)
    seen, out = set(), []
    for p in paths:
        if p not in seen and os.path.isfile(p):
            seen.add(p)
            out.append(p)
    return out


def _font_covers(path: str, text: str) -> bool:
    """Whether the font file at `path` has a glyph for every character of `text`."""
    try:
        from fontTools.ttLib import TTFont

        cmap = TTFont(path, fontNumber=0, lazy=True).getBestCmap() or {}
    except Exception:
        return False
    return all(ord(c) in cmap for c in text)


# --------------------------------------------------------------------------------------------
# categories: the vocabulary (dumpmask.categories) holds the HIPAA Safe Harbor identifiers,
# the PCI DSS elements and which category is which item


def infer_categories(column: str, table: str | None = None) -> list[str]:
    """Categories from a column name (used when the audit gives none): dumpmask.detect's name
    detection, the same vocabulary as scan, --template and the audit's `columns_detected`."""
    from dumpmask.detect import detect_by_name

    f = detect_by_name(str(column), None, table)
    return list(f.categories) if f is not None else []


def _categories_of(colname: str, col: dict, table: str | None = None) -> list[str]:
    cat = col.get("category") if isinstance(col, dict) else None
    if isinstance(cat, str) and cat.strip():
        return [cat.strip()]
    if isinstance(cat, (list, tuple)) and cat:
        return [str(c) for c in cat if c]
    cats = infer_categories(colname, table)
    if not cats and isinstance(col, dict) and col.get("mutation") == "key":
        cats = ["HIPAA-18 unique identifier"]
    return cats


_RELATED: dict | None = None


def _related_categories() -> dict:
    """detect.related_categories(), computed once: for categories an audit records without `also`."""
    global _RELATED
    if _RELATED is None:
        from dumpmask.detect import related_categories

        _RELATED = related_categories()
    return _RELATED


def _expand(cats) -> list[str]:
    """The categories with those detect relates to the first one (a column recorded as "GDPR
    date of birth" is listed under HIPAA #3 too)."""
    out = [str(c) for c in cats if c]
    if out:
        for x in sorted(_related_categories().get(out[0], ())):
            if x not in out:
                out.append(x)
    return out


# --------------------------------------------------------------------------------------------
# defensive accessors / formatting


def _dict(v) -> dict:
    return v if isinstance(v, dict) else {}


def _list(v) -> list:
    return v if isinstance(v, list) else []


def _text(v) -> str:
    if v is None or v == "":
        return NA
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v)


def _int(v) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return None


def _count(v) -> str:
    """An integer with thousands separators, anything else as _text gives it."""
    i = _int(v)
    return f"{i:,}" if i is not None else _text(v)


def _bytes(v) -> str:
    i = _int(v)
    if i is None:
        return _text(v)
    units = ["B", "KiB", "MiB", "GiB", "TiB"]
    x, u = float(i), 0
    while x >= 1024 and u < len(units) - 1:
        x /= 1024
        u += 1
    return f"{i:,} bytes" + (f" ({x:.1f} {units[u]})" if u else "")


def _timestamp(v) -> str:
    """An ISO timestamp in UTC as "YYYY-MM-DD HH:MM:SS UTC"."""
    if not isinstance(v, str) or not v:
        return _text(v)
    m = re.match(r"^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d(?:\.\d+)?)(Z|[+-]00:?00)?$", v)
    if m:
        return f"{m.group(1)} {m.group(2)} UTC"
    return v


def _duration(v) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return _text(v)
    if v < 60:
        return f"{v:.2f} s"
    m, s = divmod(float(v), 60)
    if m < 60:
        return f"{int(m)} min {s:.1f} s"
    h, m = divmod(int(m), 60)
    return f"{h} h {m} min {s:.0f} s"


def _strategy(v) -> str:
    if not v:
        return NA
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(v)).replace("_", " ").replace("-", " ")
    return " ".join(w[:1].upper() + w[1:] for w in s.split())


def _iter_strings(obj, depth=0):
    if depth > 12:
        return
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield str(k)
            yield from _iter_strings(v, depth + 1)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _iter_strings(v, depth + 1)


# --------------------------------------------------------------------------------------------
# the PDF

_NAVY = (28, 45, 74)
_GREY = (95, 99, 104)
_LIGHT = (242, 244, 247)
_RED = (180, 30, 30)
_RED_BG = (253, 234, 234)
_GREEN = (22, 120, 60)
_GREEN_BG = (230, 245, 235)
_AMBER = (160, 95, 0)
_BAR = (52, 101, 164)


class _Report(FPDF):
    def __init__(self, footer_text: str, header_text: str):
        super().__init__(orientation="P", unit="mm", format="A4")
        self._footer_text = footer_text
        self._header_text = header_text
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(True, margin=18)
        self.family = "helvetica"
        self.unicode = False
        self._covered: set[int] = set()
        self._setup_fonts()

    # fonts ---------------------------------------------------------------------------------
    def _setup_fonts(self) -> None:
        found = find_main_fonts()
        if found:
            try:
                reg, bold = found
                self.add_font(_FAMILY, "", reg)
                self.add_font(_FAMILY, "B", bold or reg)
                self.family = _FAMILY
                self.unicode = True
                self._covered = set(self.fonts[_FAMILY].cmap)
            except Exception:
                self.family, self.unicode = "helvetica", False
        if not self.unicode:
            self._covered = set(range(0x20, 0x7F)) | set(range(0xA0, 0x100))

    def add_fallbacks_for(self, strings) -> None:
        """Add fallback fonts covering characters of `strings` that the main font lacks."""
        if not self.unicode:
            return
        missing = {ord(c) for s in strings for c in s if c.isprintable()} - self._covered
        if not missing:
            return
        names = []
        for i, path in enumerate(fallback_font_paths()):
            if not missing:
                break
            name = f"fallback{i}"
            try:
                self.add_font(name, "", path)
            except Exception:
                continue
            cmap = set(self.fonts[name].cmap)
            if not (missing & cmap):
                continue  # added but useless: not registered as a fallback, never embedded
            names.append(name)
            self._covered |= cmap
            missing -= cmap
        if names:
            self.set_fallback_fonts(names, exact_match=False)

    def t(self, v) -> str:
        """Text made safe for the fonts: unknown characters become {U+XXXX}."""
        s = _text(v) if not isinstance(v, str) else (v or NA)
        out, run = [], []
        for ch in s:
            cp = ord(ch)
            if cp in self._covered and (ch.isprintable() or ch == " "):
                if run:
                    out.append("{" + " ".join(run) + "}")
                    run = []
                out.append(ch)
            else:
                run.append(f"U+{cp:04X}")
        if run:
            out.append("{" + " ".join(run) + "}")
        return "".join(out)

    # page furniture ------------------------------------------------------------------------
    def header(self):
        if self.page_no() == 1:
            return
        self.set_font(self.family, "", 7.5)
        self.set_text_color(*_GREY)
        self.set_xy(self.l_margin, 7)
        self.cell(0, 4, fit_middle(self, self.t(self._header_text), self.epw), align="L")
        self.set_draw_color(200, 204, 210)
        self.line(self.l_margin, 12, self.w - self.r_margin, 12)
        self.set_xy(self.l_margin, 15)
        self.set_text_color(0)

    def footer(self):
        self.set_y(-13)
        self.set_draw_color(200, 204, 210)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.set_font(self.family, "", 7.5)
        self.set_text_color(*_GREY)
        self.cell(0, 6, self.t(self._footer_text), align="L")
        self.set_x(self.l_margin)
        self.cell(0, 6, f"Page {self.page_no()} of {{nb}}", align="R")
        self.set_text_color(0)

    # building blocks -----------------------------------------------------------------------
    @property
    def epw_(self) -> float:
        return self.w - self.l_margin - self.r_margin

    def need(self, h: float) -> None:
        if self.get_y() + h > self.page_break_trigger:
            self.add_page()

    def section(self, title: str, number: int | None = None) -> None:
        self.need(22)
        self.ln(3)
        self.set_font(self.family, "B", 12.5)
        self.set_text_color(*_NAVY)
        label = f"{number}. {title}" if number else title
        self.cell(0, 7, self.t(label), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_draw_color(*_NAVY)
        self.set_line_width(0.5)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.set_line_width(0.2)
        self.ln(2.5)
        self.set_text_color(0)

    def subsection(self, title: str) -> None:
        self.need(16)
        self.ln(1.5)
        self.set_font(self.family, "B", 10)
        self.set_text_color(*_NAVY)
        self.cell(0, 6, self.t(title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0)

    def para(self, text: str, size: float = 8.5, color=(0, 0, 0), bold=False) -> None:
        self.set_font(self.family, "B" if bold else "", size)
        self.set_text_color(*color)
        self.multi_cell(0, size * 0.5, self.t(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0)

    def grid(self, headings, rows, widths, align=None, size=8.0, styles=None, kv=False):
        """A table that breaks across pages and repeats its heading row."""
        self.set_font(self.family, "", size)
        heading_style = FontFace(emphasis="BOLD", color=(255, 255, 255), fill_color=_NAVY)
        kwargs = dict(
            col_widths=widths,
            width=self.epw_,
            line_height=size * 0.52,
            text_align=align or "LEFT",
            borders_layout="HORIZONTAL_LINES" if not kv else "NONE",
            cell_fill_color=_LIGHT,
            cell_fill_mode="ROWS",
            padding=(0.9, 1.2),
            v_align="TOP",
            repeat_headings=1,
        )
        if headings:
            kwargs["headings_style"] = heading_style
        else:
            kwargs["first_row_as_headings"] = False
        self.set_draw_color(190, 195, 202)
        self.set_fill_color(255, 255, 255)  # the table's initial style inherits the current fill
        with self.table(**kwargs) as table:
            if headings:
                r = table.row()
                for h in headings:
                    r.cell(self.t(h))
            for i, row in enumerate(rows):
                r = table.row()
                rs = styles[i] if styles else None
                for j, val in enumerate(row):
                    st = rs[j] if isinstance(rs, (list, tuple)) else rs
                    if kv and j == 0:
                        st = FontFace(emphasis="BOLD", color=_NAVY)
                    r.cell(self.t(val), style=st)
        self.ln(1.5)


def _sig_status(audit: dict, check) -> tuple[str, tuple]:
    if check is not None:
        ok, reason = check
        return (f"VERIFIED - {reason}", _GREEN) if ok else (f"VERIFICATION FAILED - {reason}", _RED)
    sig = audit.get("signature")
    if not isinstance(sig, dict) or not sig.get("value"):
        return "UNSIGNED - the audit carries no signature", _RED
    alg = sig.get("alg") or "HMAC-SHA256"
    if sig.get("verifiable") is False:
        return (f"signed ({alg}) with an ephemeral key: cannot be verified", _AMBER)
    return (f"signed ({alg}, key fingerprint {_text(sig.get('key_fingerprint'))}); "
            "verifiable by the holder of the masking key", (0, 0, 0))


def render(audit: dict, out_path: str, audit_sha256: str | None = None, *,
           signature_check: tuple[bool, str] | None = None) -> None:
    """Write the PDF report for `audit` to `out_path`.

    audit_sha256: SHA-256 of the audit sidecar file (printed on page 1 and in every footer).
    signature_check: optional (ok, reason) from signing.verify(), printed instead of the
    unverified signature description.
    """
    audit = _dict(audit)
    opts = _dict(audit.get("options"))
    remap_opt = _dict(opts.get("identifierRemapping"))
    transfer = _dict(opts.get("transfer"))
    tables = _dict(audit.get("tables"))
    remapped = _dict(audit.get("remapped"))
    status = str(audit.get("status") or "").lower()
    failed = status not in ("ok", "")

    pdf = _new_report(audit, audit_sha256)
    _title_band(pdf, audit)
    _status_box(pdf, audit, status, failed)
    _run_summary(pdf, audit, status, failed, audit_sha256, signature_check)     # 1.
    _compliance(pdf, audit, tables, remap_opt, transfer, remapped)              # 2. compliance status
    _protection_section(pdf, audit, tables)                                     #    protection classes
    _checklists(pdf, audit, tables, remap_opt, remapped)                        # 3. checklists
    _credentials(pdf, audit, tables)                                            # 4. credentials
    _tables_section(pdf, tables, remapped, audit)                               # 5. per table
    _row_rules(pdf, audit, tables)                                              # 6. rules that follow the data
    _residual_risk(pdf, audit, tables)                                          #    residual risk
    _warnings(pdf, audit)                                                       # 7. warnings
    from dumpmask.atomic import write_atomically

    write_atomically(out_path, bytes(pdf.output()), "report")   # under its name only when complete


def _tool_version(audit: dict) -> tuple[str, str]:
    """(tool, version) of the run the audit records."""
    return audit.get("tool") or "dumpmask", audit.get("version") or NA


def _new_report(audit: dict, audit_sha256: str | None) -> _Report:
    """The document with its header, footer, metadata and fonts, on its first page."""
    tool, ver = _tool_version(audit)
    inp = _dict(audit.get("input"))
    sha_short = (audit_sha256 or "")[:16]
    footer = f"{tool} {ver} masking audit"
    footer += f"  |  audit sha256 {sha_short}..." if sha_short else "  |  audit sha256 n/a"
    header = f"{tool} masking audit report  |  {_text(inp.get('name'))}  |  {_timestamp(audit.get('started_at'))}"
    pdf = _Report(footer, header)
    pdf.set_title(f"{tool} masking audit report")
    pdf.set_author(f"{tool} {ver}")
    pdf.set_creator(f"dumpmask {_TOOL_VERSION} (fpdf2)")
    pdf.add_fallbacks_for(_iter_strings(audit))
    pdf.add_page()
    return pdf


def _title_band(pdf: _Report, audit: dict) -> None:
    tool, ver = _tool_version(audit)
    inp = _dict(audit.get("input"))
    pdf.set_fill_color(*_NAVY)
    pdf.rect(0, 0, pdf.w, 30, style="F")
    pdf.set_xy(15, 8)
    pdf.set_text_color(255, 255, 255)
    pdf.set_font(pdf.family, "B", 18)
    pdf.cell(0, 9, "Data masking audit report", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(pdf.family, "", 9.5)
    pdf.cell(0, 5, fit_middle(pdf, pdf.t(f"{tool} {ver}  -  {_text(audit.get('dialect'))} dump  -  "
                                         f"{_text(inp.get('name'))}  -  {_timestamp(audit.get('started_at'))}"),
                              pdf.w - 30))
    pdf.set_text_color(0)
    pdf.set_y(35)


def _status_box(pdf: _Report, audit: dict, status: str, failed: bool) -> None:
    """RUN FAILED (with the error) in red, or the run status."""
    if failed:
        err = audit.get("error") or "no error message recorded"
        pdf.set_font(pdf.family, "", 9)
        lines = pdf.multi_cell(pdf.epw_ - 8, 4.5, pdf.t(f"Error: {err}"), dry_run=True, output="LINES")
        h = 20 + 4.5 * len(lines)
        y = pdf.get_y()
        pdf.set_fill_color(*_RED_BG)
        pdf.set_draw_color(*_RED)
        pdf.set_line_width(0.8)
        pdf.rect(15, y, pdf.epw_, h, style="DF")
        pdf.set_line_width(0.2)
        pdf.set_xy(19, y + 3)
        pdf.set_text_color(*_RED)
        pdf.set_font(pdf.family, "B", 13)
        pdf.cell(0, 7, "RUN FAILED", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_x(19)
        pdf.set_font(pdf.family, "B", 9)
        pdf.cell(0, 5, "The output of this run is incomplete and must not be used or shared.",
                 new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_x(19)
        pdf.set_font(pdf.family, "", 9)
        pdf.multi_cell(pdf.epw_ - 8, 4.5, pdf.t(f"Error: {err}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_text_color(0)
        pdf.set_y(y + h + 3)
    else:
        y = pdf.get_y()
        ok = status == "ok"
        pdf.set_fill_color(*(_GREEN_BG if ok else _LIGHT))
        pdf.set_draw_color(*(_GREEN if ok else _GREY))
        pdf.rect(15, y, pdf.epw_, 10, style="DF")
        pdf.set_xy(19, y + 2)
        pdf.set_text_color(*(_GREEN if ok else _GREY))
        pdf.set_font(pdf.family, "B", 11)
        pdf.cell(0, 6, "RUN STATUS: OK - completed without error" if ok else "RUN STATUS: n/a (not recorded)")
        pdf.set_text_color(0)
        pdf.set_y(y + 13)


def _compressed(side: dict) -> str:
    """"  -  gzip, 1.2 MB of SQL" for a compressed input / output (audit's compression), else ""."""
    comp = side.get("compression")
    if not isinstance(comp, dict):
        return ""
    if comp.get("of") == "archive data":   # a pg_dump archive's own compression (no SQL size)
        return f"  -  {_text(comp.get('format'))}-compressed archive data"
    return f"  -  {_text(comp.get('format'))}, {_bytes(comp.get('sql_bytes'))} of SQL"


def _run_summary(pdf: _Report, audit: dict, status: str, failed: bool, audit_sha256: str | None,
                 signature_check) -> None:
    """Section 1: what ran on what, with which rules and key, and the audit's signature."""
    tool, ver = _tool_version(audit)
    inp, outp = _dict(audit.get("input")), _dict(audit.get("output"))
    key, rules, opts = _dict(audit.get("key")), _dict(audit.get("rules")), _dict(audit.get("options"))
    pdf.section("Run summary", 1)
    sig_text, _sig_color = _sig_status(audit, signature_check)
    ephemeral = key.get("ephemeral")
    if ephemeral is True:
        repro = "EPHEMERAL key (random, per run): not reproducible; keys cannot be re-derived"
    elif ephemeral is False:
        repro = "fixed key: reproducible (same key + same input -> same output)"
    else:
        repro = NA
    template = opts.get("template")
    kv = [
        ("Tool", f"{tool} {ver}"),
        ("Run status", "FAILED" if failed else (status.upper() or NA)),
        ("Started (UTC)", _timestamp(audit.get("started_at"))),
        ("Finished (UTC)", _timestamp(audit.get("finished_at"))),
        ("Duration", _duration(audit.get("duration_s"))),
        ("Dialect", _text(audit.get("dialect"))),
        ("Input", f"{_text(inp.get('name'))}  -  {_bytes(inp.get('bytes'))}{_compressed(inp)}"),
        ("Input SHA-256", _text(inp.get("sha256"))),
        ("Output", f"{_text(outp.get('name'))}  -  {_bytes(outp.get('bytes'))}{_compressed(outp)}"),
        ("Output SHA-256", _text(outp.get("sha256"))),
        ("Rules", f"{_text(rules.get('file'))}  -  template: {template or 'none'}"
                  f"  -  strict: {_text(opts.get('strict'))}"),
        ("Rules SHA-256", _text(rules.get("sha256"))),
        ("Key fingerprint", _text(key.get("fingerprint"))),
        *([("Key label", _text(key.get("label")))] if key.get("label") else []),
        *([("Key source", _text(key.get("source")))] if key.get("source") else []),
        *([("Weak key", "WARNING: a weak key was accepted (--weak-key-ok): the fakes and remapped ids can be "
                        "recovered by brute force; not for real data")] if key.get("weak_key_ok") is True else []),
        ("Reproducibility", repro),
        ("Audit SHA-256", audit_sha256 or "n/a (audit file hash not supplied)"),
        ("Signature", sig_text),
    ]
    styles = []
    for label, _ in kv:
        if label == "Run status" and failed:
            styles.append((None, FontFace(emphasis="BOLD", color=_RED)))
        elif label == "Reproducibility" and ephemeral is True:
            styles.append((None, FontFace(color=_AMBER)))
        elif label == "Weak key":
            styles.append((None, FontFace(emphasis="BOLD", color=_RED)))
        elif label == "Signature":
            styles.append((None, FontFace(color=_sig_color)))
        else:
            styles.append(None)
    pdf.grid(None, kv, (30, 120), size=8, styles=styles, kv=True)


def _masked_columns(tables: dict):
    """(table, column, coldict) for every masked column."""
    for tname, t in tables.items():
        for cname, col in _dict(_dict(t).get("columns")).items():
            yield str(tname), str(cname), _dict(col)


# --------------------------------------------------------------------------------------------
# what the run did: every fact below comes from the audit's records of the run (counters,
# `remapped`, `columns_detected`, per-table transfer), never from the options it was given.

_STATUS_ORDER = ("NOT masked", "kept", "remapped", "masked", "no rows")


def _norm_status(v) -> str:
    s = str(v or "").strip()
    if s.lower().startswith("kept"):
        return "kept"
    if s.lower() == "remapped":
        return "remapped"
    if s.lower() == "masked":
        return "masked"
    if s.lower() == "no rows":
        return "no rows"
    return "NOT masked"


def _column_facts(audit: dict, tables: dict) -> tuple[list[dict], bool, list[str]]:
    """(columns, inventory recorded, tables not classified). Each column: name ("table.col"),
    cats (categories with detect's related ones), status ("masked", "remapped", "kept", "NOT
    masked"), detail (the audit's status text), mutation, strategy. An audit without
    `columns_detected` (dumpmask 0.2.0) gives the masked columns and the detected_uncovered
    ones only: then nothing can be said about columns it does not list."""
    inv = audit.get("columns_detected")
    have_inv = isinstance(inv, dict)
    items: dict[tuple[str, str], dict] = {}
    if have_inv:
        for t, cols in inv.items():
            for c, e in _dict(cols).items():
                e = _dict(e)
                cats = [e["category"]] if isinstance(e.get("category"), str) and e.get("category") else []
                cats += [str(x) for x in _list(e.get("also")) if x]
                items[(str(t), str(c))] = {"name": f"{t}.{c}", "cats": _expand(cats),
                                           "status": _norm_status(e.get("status")),
                                           "detail": _text(e.get("status")), "mutation": e.get("mutation"),
                                           "strategy": e.get("strategy"), "evidence": e.get("evidence")}
    for t, c, col in _masked_columns(tables):
        if (t, c) in items:
            continue
        mut = col.get("mutation")
        st = "remapped" if mut == "key" else ("kept" if mut == "keep" else "masked")
        items[(t, c)] = {"name": f"{t}.{c}", "cats": _expand(_categories_of(c, col, t)), "status": st,
                         "detail": "kept (rule)" if st == "kept" else st, "mutation": mut,
                         "strategy": col.get("strategy"), "evidence": "rule"}
    if not have_inv:
        for d in map(_dict, _list(audit.get("detected_uncovered"))):
            t, c = _text(d.get("table")), _text(d.get("column"))
            if (t, c) in items:
                continue
            cat = d.get("category")
            cats = [cat] if isinstance(cat, str) and cat else infer_categories(c, t)
            keep = d.get("decision") == "keep"
            items[(t, c)] = {"name": f"{t}.{c}", "cats": _expand(cats), "status": "kept" if keep else "NOT masked",
                             "detail": "kept (rule)" if keep else "NOT masked", "mutation": "keep" if keep else None,
                             "strategy": None, "evidence": d.get("evidence")}
    for x in map(_dict, _list(audit.get("not_remapped"))):  # identifiers the remapping left in clear
        t, _, c = str(x.get("column") or "").rpartition(".")
        it = items.get((t, c))
        if t and (it is None or it["status"] == "NOT masked"):
            cats = _expand((it["cats"] if it else []) + ["HIPAA-18 unique identifier"])
            tt = _dict(tables.get(t))
            empty = tt and not (_int(tt.get("rows_written")) or _int(tt.get("rows")))
            items[(t, c)] = {"name": f"{t}.{c}", "cats": cats, "status": "no rows" if empty else "NOT masked",
                             "detail": "not remapped",
                             "mutation": None, "strategy": None,
                             "evidence": (it or {}).get("evidence") or "key"}
    uncl = [str(x) for x in _list(audit.get("columns_unclassified"))]
    return list(items.values()), have_inv, uncl


def _remap_facts(audit: dict) -> dict:
    """Remapping as it happened: the columns of `remapped`, by the strategy each one used."""
    cols = {str(k): _dict(r) for k, r in _dict(audit.get("remapped")).items()}
    for t, c, col in _masked_columns(_dict(audit.get("tables"))):  # the counters of key columns
        if col.get("mutation") == "key" and f"{t}.{c}" not in cols:
            cols[f"{t}.{c}"] = col
    by: dict[str, int] = {}
    domains = set()
    for r in cols.values():
        st = str(r.get("strategy") or "unknown")
        by[st] = by.get(st, 0) + 1
        domains.add(str(r.get("domain")))
    remapped = cols
    rec = audit.get("remapping")
    requested = _dict(rec).get("requested") if isinstance(rec, dict) else None
    return {"columns": len(remapped), "by_strategy": by, "domains": len(domains), "requested": requested,
            "recorded": isinstance(rec, dict), "not_remapped": len(_list(audit.get("not_remapped")))}


def _by_strategy_text(by: dict) -> str:
    return ", ".join(f"{_strategy(k)}: {v}" for k, v in sorted(by.items(), key=lambda kv: (-kv[1], kv[0])))


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _names(cols: list[str], limit: int = 6) -> str:
    return ", ".join(cols[:limit]) + (f" ... (+{len(cols) - limit} more)" if len(cols) > limit else "")


def _treatment(item: dict) -> str:
    st, mut = item["status"], str(item.get("mutation") or "")
    if st == "NOT masked":
        return "LEFT IN CLEAR (no rule)"
    if st == "kept":
        return "LEFT IN CLEAR (keep rule)"
    if st == "remapped":
        return f"remapped ({_strategy(item.get('strategy'))})"
    if st == "no rows":
        return "no rows written"
    return {"hash": "hashed", "redact": "redacted", "null": "nulled", "static": "replaced by a constant"}.get(
        mut.split(":", 1)[0], f"replaced ({mut or 'masked'})")


def _is_credential(item: dict) -> bool:
    return any(str(c).lower().startswith("credential") for c in item["cats"])


def _transfer_fact(audit: dict, tables: dict, transfer: dict) -> tuple[str, str]:
    """The Partial Transfer line from what each table's rows went through."""
    modes: dict[str, list[str]] = {}
    cut = []
    for tname, t in tables.items():
        t = _dict(t)
        tm = t.get("transfer")
        if isinstance(tm, dict):
            tm = f"{tm.get('mode')} {tm.get('rows') if tm.get('rows') is not None else ''}".strip()
        tm = str(tm or "full")
        modes.setdefault(tm, []).append(str(tname))
        r, w = _int(t.get("rows_read")), _int(t.get("rows_written"))
        chosen = _dict(_dict(_dict(audit.get("subjects")).get("tables")).get(tname))   # --erase, --only, drop rules
        if chosen and r is not None and w is not None and (r - w == _int(chosen.get("removed"))
                                                          or w == _int(chosen.get("kept"))):
            continue   # rows the run was asked to remove (the subjects section lists them)
        if tm == "full" and r is not None and w is not None and w < r:
            cut.append(f"{tname}: {w:,} of {r:,}")
    if not modes:
        return "info", "no table data recorded"
    main = max(modes, key=lambda m: (len(modes[m]), m == "full"))
    parts = main.split()
    m = parts[0].lower()
    n = parts[1] if len(parts) > 1 else None
    if n is None and m in ("first", "last") and str(transfer.get("mode") or "").lower() == m:
        n = transfer.get("rows")  # audits of 0.2.0 name the mode per table, the row count once
    if m == "first":
        text, tone = f"First {_count(n) if n is not None else 'N'} rows per table", "info"
    elif m == "last":
        text, tone = f"Last {_count(n) if n is not None else 'N'} rows per table", "info"
    elif m == "full":
        text, tone = "Full Transfer (no limit)", "ok"
    else:
        text, tone = main, "info"
    others = [f"{t}: {k}" for k, table_names in modes.items() if k != main for t in table_names]
    if others:
        text += " (per-table overrides: " + ", ".join(others[:8]) + (" ..." if len(others) > 8 else "") + ")"
    if cut and set(modes) == {"full"}:  # no table was cut, yet rows are missing
        text += "; rows NOT all written: " + ", ".join(cut[:6])
        tone = "bad"
    elif cut:
        text += "; rows cut to keep references valid: " + ", ".join(cut[:6]) + (" ..." if len(cut) > 6 else "")
    if m in ("first", "last") and transfer.get("referentialIntegrity") is not None:
        text += "; referential integrity " + ("kept" if transfer.get("referentialIntegrity") else "NOT kept")
    return tone, text


def _compliance(pdf: _Report, audit, tables, remap_opt, transfer, remapped) -> None:
    """Section 2: one line per measure (label, value, tone), in a box with the legal note."""
    pdf.section(COMPLIANCE_TITLE, 2)
    remap = _remap_facts(audit)
    items, have_inv, uncl = _column_facts(audit, tables)
    lines: list[tuple[str, str, str]] = []   # (label, value, tone: ok / warn / bad / info)
    outcome = _outcome_line(audit)
    if outcome is not None:
        lines.append(outcome)
    lines.append(_remapping_line(audit, remap, remap_opt, items))
    lines.append(_masked_line(items))
    lines.append(_in_clear_line(items, have_inv, uncl))
    lines.append(_credentials_line(items, have_inv))
    lines.append(("Mapping table:", "None created (keyed permutation)" if remap["columns"]
                  else "None created (keyed pseudonymisation, nothing stored)", "ok"))
    tone, part = _transfer_fact(audit, tables, transfer)
    lines.append(("Partial Transfer:", part, tone))
    pcls = [p for *_x, p in _protection_of(audit, tables)]
    if "pseudonymised" in pcls or "reversible" in pcls:
        lines.append(("Protection:", "PSEUDONYMISED, not anonymised: personal data (GDPR Recital 26, HIPAA "
                      "164.514(c)); keep the key apart", "warn"))
    elif pcls and all(p in ("removed", "anonymised") for p in pcls):
        lines.append(("Protection:", "every recorded column removed or anonymised", "ok"))
    _compliance_box(pdf, lines)


def _outcome_line(audit) -> tuple[str, str, str] | None:
    status = str(audit.get("status") or "").lower()
    if status == "ok":
        return None
    if status == "failed":
        return ("Run outcome:", "FAILED - this run did not complete: the measures below cover only the "
                                "part of the dump read before the error; the output must not be used", "bad")
    return ("Run outcome:", f"NOT COMPLETED - the audit records status {_text(audit.get('status'))!s}, "
                            "not ok: the output must not be used", "bad")


def _remapping_line(audit, remap: dict, remap_opt: dict, items: list[dict]) -> tuple[str, str, str]:
    """Identifier remapping: active iff columns were remapped."""
    n = remap["columns"]
    requested = remap["requested"]
    if requested is None and not remap["recorded"]:  # 0.2.0: only the configuration is known
        requested = bool(remap_opt.get("enabled")) or str(_dict(audit.get("options")).get("template")) == "hipaa"
    if n:
        v = (f"Active - {_plural(n, 'column')} remapped in {_plural(remap['domains'], 'key domain')} "
             f"({_by_strategy_text(remap['by_strategy'])})")
        tone = "ok"
        if remap["not_remapped"]:
            v += f"; {_plural(remap['not_remapped'], 'identifier column')} NOT remapped (see Warnings)"
            tone = "warn"
    elif requested:
        v, tone = ("NOT ACTIVE - remapping was requested but no column was remapped: identifiers are "
                   "in the output unchanged"), "bad"
    else:
        v, tone = "Inactive - not requested; no column was remapped", "warn"
    keys_clear = [i for i in items if i["status"] == "NOT masked" and i.get("evidence") == "key"]
    if keys_clear and not (n and remap["not_remapped"]):
        v += f"; {_plural(len(keys_clear), 'key column')} in clear"
    return ("Identifier Remapping:", v, tone)


def _masked_line(items: list[dict]) -> tuple[str, str, str]:
    masked = [i for i in items if i["status"] == "masked"]
    labels: dict[str, int] = {}
    for i in masked:
        lab = short_label(i["cats"][0]) if i["cats"] else i["name"].rsplit(".", 1)[-1]
        labels[lab] = labels.get(lab, 0) + 1
    top = sorted(labels, key=lambda k: (-labels[k], k))
    shown = ", ".join(top[:6]) + (" ..." if len(top) > 6 else "")
    return ("PII Fields Masked:", f"{_plural(len(masked), 'field')}" + (f" ({shown})" if shown else ""),
            "ok" if masked else "info")


def _in_clear_line(items: list[dict], have_inv: bool, uncl: list) -> tuple[str, str, str]:
    clear = [i for i in items if i["status"] == "NOT masked" and i["cats"] and i.get("evidence") != "key"]
    kept = [i for i in items if i["status"] == "kept" and i["cats"] and i.get("evidence") != "key"]
    if clear:
        v = (f"{_plural(len(clear), 'column')} detected and NOT masked: "
             + _names([f"{i['name']} ({short_label(i['cats'][0])})" for i in clear]))
        tone = "bad"
    elif have_inv:
        v, tone = "none: every column detected as personal data was masked, remapped or kept by a rule", "ok"
    else:
        v, tone = "not recorded (this audit has no column inventory: dumpmask 0.2.0)", "warn"
    if kept:
        v += f"; {_plural(len(kept), 'column')} kept in clear by a rule: " + _names([i["name"] for i in kept], 4)
        tone = "bad" if tone == "bad" else "warn"
    if have_inv and uncl:
        v += f"; {_plural(len(uncl), 'table')} NOT classified (no CREATE TABLE seen): " + _names(uncl, 4)
        tone = "bad" if tone == "bad" else "warn"
    return ("PII Left in Clear:", v, tone)


def _credentials_line(items: list[dict], have_inv: bool) -> tuple[str, str, str]:
    creds = [i for i in items if _is_credential(i)]
    in_clear = [i for i in creds if i["status"] in ("NOT masked", "kept")]
    if in_clear:
        v, tone = (f"{len(in_clear)} of {_plural(len(creds), 'credential column')} LEFT IN CLEAR: "
                   + _names([i["name"] for i in in_clear])), "bad"
    elif creds:
        treatments: dict[str, int] = {}
        for i in creds:
            k = _treatment(i)
            treatments[k] = treatments.get(k, 0) + 1
        v, tone = (f"{_plural(len(creds), 'column')}, none in clear ("
                   + ", ".join(f"{k}: {c}" for k, c in sorted(treatments.items())) + ")"), "ok"
    elif have_inv:
        v, tone = "none detected", "info"
    else:
        v, tone = "not recorded (this audit has no column inventory: dumpmask 0.2.0)", "warn"
    return ("Credentials:", v, tone)


def _compliance_box(pdf: _Report, lines: list[tuple[str, str, str]]) -> None:
    """The compliance lines in a framed box, the legal note under them."""
    x0, w, lw = pdf.l_margin, pdf.epw_, 46
    heights = []
    for _, v, tone in lines:
        pdf.set_font(pdf.family, "B" if tone == "bad" else "", 9.5)
        heights.append(max(1, len(pdf.multi_cell(w - lw - 8, 5.2, pdf.t(v), dry_run=True, output="LINES",
                                                 align="L"))) * 5.2)
    pdf.set_font(pdf.family, "", 7.5)
    note_lines = len(pdf.multi_cell(w - 10, 3.8, pdf.t(LEGAL_NOTE), dry_run=True, output="LINES"))
    total = sum(heights) + 3 + 2 + note_lines * 3.8 + 3
    pdf.need(total + 2)
    y0 = pdf.get_y()
    pdf.set_fill_color(247, 249, 252)
    pdf.set_draw_color(*_NAVY)
    pdf.set_line_width(0.4)
    pdf.rect(x0, y0, w, total, style="DF")
    pdf.set_fill_color(*_NAVY)
    pdf.rect(x0, y0, 1.6, total, style="F")
    pdf.set_line_width(0.2)
    y = y0 + 3
    colors = {"ok": _GREEN, "warn": _AMBER, "bad": _RED, "info": (0, 0, 0)}
    for (label, value, tone), h in zip(lines, heights, strict=True):
        pdf.set_xy(x0 + 5, y)
        pdf.set_font(pdf.family, "B", 9.5)
        pdf.set_text_color(*_NAVY)
        pdf.cell(lw, 5.2, label)
        pdf.set_font(pdf.family, "B" if tone == "bad" else "", 9.5)
        pdf.set_text_color(*colors[tone])
        pdf.set_xy(x0 + 5 + lw, y)
        pdf.multi_cell(w - lw - 8, 5.2, pdf.t(value), align="L")
        y += h
    pdf.set_text_color(*_GREY)
    pdf.set_font(pdf.family, "", 7.5)
    pdf.set_xy(x0 + 5, y + 2)
    pdf.multi_cell(w - 10, 3.8, pdf.t(LEGAL_NOTE))
    pdf.set_text_color(0)
    pdf.set_y(y0 + total + 3)


def _checklist_groups(audit: dict, tables: dict):
    """(hipaa {1..18: [column facts]}, pci {element: [column facts]}, inventory recorded,
    tables not classified): each column under every item its categories name."""
    items, have_inv, uncl = _column_facts(audit, tables)
    hipaa: dict[int, list[dict]] = {i: [] for i in range(1, 19)}
    pci: dict[str, list[dict]] = {k: [] for k, _ in PCI_ELEMENTS}
    for it in items:
        for cat in it["cats"]:
            n = hipaa_item(cat)
            if n and it not in hipaa[n]:
                hipaa[n].append(it)
            p = pci_element(cat)
            if p and it not in pci[p]:
                pci[p].append(it)
    return hipaa, pci, have_inv, uncl


def _checklist_status(found: list[dict], have_inv: bool, uncl: list, manual: bool = False) -> tuple[str, str]:
    """(text, tone) of one checklist item from what happened to its columns: a column in
    clear wins over everything, "not found" only when every table was classified."""
    by = {k: [i["name"] for i in found if i["status"] == k] for k in _STATUS_ORDER}
    note = "; manual verification required" if manual else ""
    if by["NOT masked"]:
        return "present, NOT masked" + note, "bad"
    if by["kept"]:
        return "present, kept by a rule" + note, "warn"
    if by["masked"] or by["remapped"]:
        return " and ".join(k for k in ("masked", "remapped") if by[k]) + note, "ok"
    if manual:
        return "manual verification required", "warn"
    if by["no rows"]:
        return "in the schema, no rows written", "info"
    if not have_inv:
        return "not recorded (audit without a column inventory)", "info"
    if uncl:
        return f"not found ({_plural(len(uncl), 'table')} not classified)", "warn"
    return "not found in this dump", "info"


def _checklists(pdf: _Report, audit, tables, remap_opt, remapped) -> None:
    hipaa, pci, have_inv, uncl = _checklist_groups(audit, tables)
    faces = {"bad": FontFace(emphasis="BOLD", color=_RED), "warn": FontFace(emphasis="BOLD", color=_AMBER),
             "ok": FontFace(emphasis="BOLD", color=_GREEN), "info": FontFace(color=_GREY)}

    def status(found, manual=False):
        text, tone = _checklist_status(found, have_inv, uncl, manual)
        if tone == "warn" and not found:
            return text, FontFace(color=_AMBER)
        return text, faces[tone]

    def cols_text(found, limit=12):
        parts = []
        for k, label in (("masked", ""), ("remapped", "remapped: "), ("kept", "kept in clear by a rule: "),
                         ("NOT masked", "NOT masked: "), ("no rows", "no rows written: ")):
            names = [i["name"] for i in found if i["status"] == k]
            if names:
                parts.append(label + ", ".join(names[:limit])
                             + (f" ... (+{len(names) - limit} more)" if len(names) > limit else ""))
        return "; ".join(parts) or "-"

    def cols_style(found):
        return FontFace(color=_RED) if any(i["status"] == "NOT masked" for i in found) else None

    pdf.need(90)  # keep the checklist's start with its first rows
    pdf.section("HIPAA Safe Harbor checklist", 3)
    pdf.para("The 18 identifiers of 45 CFR 164.514(b)(2), for every column of the dump: what this run did to "
             "each column of that category (masked, remapped, kept in clear by a rule, or present and NOT "
             "masked). Categories come from the run's detection by column name (and content, where sampled) "
             "and from each rule's category. Items 16 and 17 (biometrics, photographs) can hide in free text "
             "and binary columns and always need a human check.", size=7.5, color=_GREY)
    pdf.ln(1)
    rows, styles = [], []
    for i, label in enumerate(HIPAA_IDENTIFIERS, 1):
        st, ff = status(hipaa[i], manual=i in HIPAA_MANUAL_ITEMS)
        rows.append((str(i), label, st, cols_text(hipaa[i])))
        styles.append((None, None, ff, cols_style(hipaa[i])))
    pdf.grid(("#", "Identifier", "Status", "Columns"), rows, (6, 64, 42, 68), size=7.2, styles=styles)

    pdf.subsection("PCI DSS checklist")
    rows, styles = [], []
    for k, label in PCI_ELEMENTS:
        st, ff = status(pci[k])
        rows.append((label, st, cols_text(pci[k])))
        styles.append((None, ff, cols_style(pci[k])))
    pdf.grid(("Element", "Status", "Columns"), rows, (68, 44, 68), size=7.5, styles=styles)
    pdf.para("PCI DSS 3.3: sensitive authentication data (CVV, PIN) must not be stored after authorisation "
             "at all; finding it in a dump is a finding in itself, masked or not.", size=7.5, color=_GREY)


def _credentials(pdf: _Report, audit, tables) -> None:
    items, have_inv, uncl = _column_facts(audit, tables)
    creds = [i for i in items if _is_credential(i)]
    pdf.section("Credentials", 4)
    pdf.para("Passwords, password digests, tokens, API keys, private keys and other secrets open the "
             "application the dump comes from. Each credential column of the dump and what this run did "
             "to it; one left in clear is a finding.", size=7.5, color=_GREY)
    if not creds:
        if have_inv:
            msg = "No credential column was detected in this dump."
            if uncl:
                msg += f" {_plural(len(uncl), 'table')} could not be classified (no CREATE TABLE seen)."
            pdf.para(msg, color=_GREY)
        else:
            pdf.para("Not recorded: this audit has no column inventory (dumpmask 0.2.0); credential columns "
                     "it does not list as masked may be present in clear.", color=_AMBER)
        return
    rows, styles = [], []
    for i in sorted(creds, key=lambda x: (x["status"] not in ("NOT masked", "kept"), x["name"])):
        cat = next((c for c in i["cats"] if str(c).lower().startswith("credential")), "credential")
        tr = _treatment(i)
        rows.append((i["name"], cat, tr, _text(i.get("evidence"))))
        bad = tr.startswith("LEFT IN CLEAR")
        styles.append((None, None, FontFace(emphasis="BOLD", color=_RED if bad else _GREEN), None))
    pdf.grid(("Column", "Category", "Treatment", "Evidence"), rows, (70, 40, 45, 25), size=7.5, styles=styles)


def _tables_section(pdf: _Report, tables, remapped, audit) -> None:
    pdf.section("Tables", 5)
    if not tables:
        pdf.para("No table data was recorded in this audit.", color=_GREY)
        return
    summary, totals = [], []
    tr = tw = tc = 0
    for tname, t in tables.items():
        t = _dict(t)
        cols = _dict(t.get("columns"))
        changed = sum(_int(_dict(c).get("changed")) or 0 for c in cols.values())
        read = t.get("rows_read", t.get("rows"))
        written = t.get("rows_written", t.get("rows"))
        tm = t.get("transfer")
        if isinstance(tm, dict):
            tm = f"{tm.get('mode')} {tm.get('rows') or ''}".strip()
        summary.append((tname, _text(tm), _count(read), _count(written), str(len(cols)), f"{changed:,}"))
        totals.append((str(tname), changed))
        tr += _int(read) or 0
        tw += _int(written) or 0
        tc += changed
    summary.append(("TOTAL", " ", f"{tr:,}", f"{tw:,}", str(sum(int(r[4]) for r in summary)), f"{tc:,}"))
    styles = [None] * (len(summary) - 1) + [FontFace(emphasis="BOLD")]
    pdf.subsection(f"Rows per table ({len(tables)} tables)")
    pdf.grid(("Table", "Transfer", "Rows read", "Rows written", "Masked cols", "Values changed"), summary,
             (62, 20, 24, 24, 20, 30), align=("LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
             size=7.5, styles=styles)

    _bar_chart(pdf, [x for x in totals if x[1] > 0])

    pdf.subsection("Masked columns")
    rows = []
    for tname, t in tables.items():
        cols = _dict(_dict(t).get("columns"))
        if not cols:
            rows.append((tname, "(none masked)", "-", "-", "-", "-"))
            continue
        for cname, col in cols.items():
            col = _dict(col)
            mut = _text(col.get("mutation"))
            if col.get("mutation") == "key":
                mut = f"key ({_strategy(col.get('strategy'))})"
            ent = _dict(_dict(_dict(audit.get("columns_detected")).get(tname)).get(cname))
            if not col.get("category") and ent.get("category"):  # the run's own detection
                cats = [ent["category"]]
                cat = ent["category"] + " (detected)"
            else:
                cats = _categories_of(cname, col, str(tname))
                cat = ", ".join(cats) if cats else "-"
                if cats and not col.get("category"):
                    cat += " (inferred)"
            rows.append((tname, cname, mut, cat, _count(col.get("changed")), _count(col.get("nulls"))))
    pdf.grid(("Table", "Column", "Mutation", "Category", "Changed", "Nulls"), rows,
             (42, 32, 34, 42, 16, 14), align=("LEFT", "LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT"), size=7)

    if remapped:
        rf = _remap_facts(audit)
        pdf.subsection(f"Identifier remapping ({_plural(rf['columns'], 'column')} remapped, "
                       f"{_plural(rf['domains'], 'key domain')})")
        pdf.para("Strategy used, by the columns' types: " + _by_strategy_text(rf["by_strategy"]) + ".", size=7.5)
        rows = []
        for col, r in remapped.items():
            r = _dict(r)
            rng = r.get("range")
            rng = f"{_count(rng[0])} .. {_count(rng[1])}" if isinstance(rng, list) and len(rng) == 2 else _text(rng)
            rows.append((col, _strategy(r.get("strategy")), _text(r.get("domain")), rng, _count(r.get("values"))))
        pdf.grid(("Remapped column", "Strategy used", "Key domain", "Range", "Values"), rows,
                 (62, 26, 40, 34, 18), align=("LEFT", "LEFT", "LEFT", "LEFT", "RIGHT"), size=7)
    seqs = _list(audit.get("sequences"))
    if seqs:
        pdf.subsection("Sequences reset")
        rows = [(_text(_dict(s).get("sequence")), _text(_dict(s).get("column")), _count(_dict(s).get("value"))) for s in seqs]
        pdf.grid(("Sequence", "Column", "New value"), rows, (75, 75, 30),
                 align=("LEFT", "LEFT", "RIGHT"), size=7)


def _bar_chart(pdf: _Report, data: list[tuple[str, int]]) -> None:
    pdf.subsection("Masked values per table")
    if not data:
        pdf.para("No values were masked.", color=_GREY)
        return
    data = sorted(data, key=lambda x: -x[1])
    vmax = max(v for _, v in data) or 1
    label_w, value_w = 55, 22
    bar_w = pdf.epw_ - label_w - value_w - 2
    bh, gap = 4.2, 1.3
    pdf.set_font(pdf.family, "", 7)
    pdf.ln(1)
    for name, v in data:
        pdf.need(bh + gap + 1)
        y = pdf.get_y()
        label = pdf.t(name)
        if pdf.get_string_width(label) > label_w - 2:
            while label and pdf.get_string_width(label + "...") > label_w - 2:
                label = label[:-1]
            label += "..."
        pdf.set_xy(pdf.l_margin, y)
        pdf.set_text_color(0)
        pdf.cell(label_w - 2, bh, label, align="R")
        x = pdf.l_margin + label_w
        pdf.set_fill_color(232, 236, 241)
        pdf.rect(x, y, bar_w, bh, style="F")
        pdf.set_fill_color(*_BAR)
        pdf.rect(x, y, max(0.4, bar_w * v / vmax), bh, style="F")
        pdf.set_xy(x + bar_w + 1, y)
        pdf.set_text_color(*_GREY)
        pdf.cell(value_w, bh, f"{v:,}")
        pdf.set_y(y + bh + gap)
    pdf.set_text_color(0)
    pdf.ln(2)


def _row_rules(pdf: _Report, audit, tables) -> None:
    """The complete-schema policy, row conditions and k-anonymity: what each did in this run."""
    pdf.section("Rules that follow the data", 6)
    any_ = False
    unlisted = _dict(audit.get("unlisted"))
    if unlisted:
        any_ = True
        cols = [_dict(c) for c in _list(unlisted.get("columns"))]
        pdf.subsection(f"Columns the rules do not name: policy {_text(unlisted.get('policy'))}")
        if unlisted.get("policy") == "fail":
            pdf.para("Every column of every table with data had to be named in the rules (or remapped as a "
                     "key); a run with an unnamed column stops before that table's data.", size=7.5)
        if cols:
            pdf.grid(("Table", "Column", "Type", "Default applied", "Why"),
                     [(_text(c.get("table")), _text(c.get("column")), _text(c.get("type")), _text(c.get("mutation")),
                       _text(c.get("why"))) for c in cols], (40, 30, 30, 30, 50), size=7.5)
        elif unlisted.get("policy") == "mask":
            pdf.para("Every column was named in the rules: no default was applied.", size=7.5, color=_GREY)
    conditional = [(t, c, _dict(e)) for t, tv in sorted(tables.items())
                   for c, e in sorted(_dict(_dict(tv).get("columns")).items()) if _dict(e).get("where")]
    if conditional:
        any_ = True
        pdf.subsection(f"Row conditions ({len(conditional)})")
        pdf.para("These rules applied only to the rows their condition held for (the original values); the "
                 "other rows of the column were written unchanged.", size=7.5)
        pdf.grid(("Table", "Column", "Mutation", "Condition", "Rows matched", "Changed"),
                 [(t, c, _text(e.get("mutation")), _text(e.get("where")), _count(e.get("rows_matched")),
                   _count(e.get("changed"))) for t, c, e in conditional],
                 (35, 25, 25, 60, 18, 17), align=("LEFT", "LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT"), size=7.5)
    kanon = _dict(audit.get("kAnonymity"))
    if kanon:
        any_ = True
        k = _int(kanon.get("k"))
        pdf.subsection(f"k-anonymity (k = {_text(kanon.get('k'))}, action {_text(kanon.get('action'))})")
        rows, styles = [], []
        for t, e in sorted(_dict(kanon.get("tables")).items()):
            e = _dict(e)
            achieved = _int(e.get("achieved_k"))
            after = "suppressed" if kanon.get("action") == "suppress" and _int(e.get("rows_below_k")) else ""
            rows.append((t, ", ".join(map(str, _list(e.get("quasiIdentifiers")))), _count(e.get("rows")),
                         _count(e.get("classes")), _text(achieved), _count(e.get("rows_below_k")) + (f" ({after})" if after else ""),
                         _text(e.get("generalize_next"))))
            ok = achieved is not None and k is not None and (achieved >= k or after)
            styles.append((None, None, None, None, FontFace(emphasis="BOLD", color=_GREEN if ok else _RED), None, None))
        if rows:
            pdf.grid(("Table", "Quasi-identifiers", "Rows", "Classes", "Achieved k", "Rows below k", "Next"),
                     rows, (35, 45, 18, 18, 18, 28, 18), size=7.5, styles=styles)
        else:
            pdf.para("No quasi-identifier table had data.", color=_GREY)
        if kanon.get("action") == "report" and kanon.get("requested_action") != "report":
            pdf.para(f"Reported only (--k-report-only): the rules ask for {_text(kanon.get('requested_action'))}, "
                     "which this run did not enforce.", size=7.5, color=_AMBER)
    from dumpmask import report_rules   # drop rules, --erase/--only, parents added, topcode caps (report_rules.py)
    any_ = (report_rules.subjects(pdf, audit) | report_rules.closure(pdf, audit, tables)
            | report_rules.topcode_caps(pdf, tables) | any_)
    if not any_:
        pdf.para("No complete-schema policy, row condition or k-anonymity requirement was set for this run.",
                 color=_GREY)


def _warnings(pdf: _Report, audit) -> None:
    pdf.section("Warnings", 7)
    any_ = False
    un = _list(audit.get("unmatched_rules"))
    if un:
        any_ = True
        pdf.subsection(f"Unmatched rules ({len(un)})")
        rows = [(_text(_dict(u).get("table")), _text(_dict(u).get("column")) if _dict(u).get("column") else "-",
                 _text(_dict(u).get("message"))) for u in un]
        pdf.grid(("Table", "Column", "Message"), rows, (45, 35, 100), size=7.5)
    det = _list(audit.get("detected_uncovered"))
    if isinstance(audit.get("columns_detected"), dict):  # the run's inventory: every column in clear
        det = [{"table": t, "column": c, "category": _dict(e).get("category"),
                "decision": "keep" if _norm_status(_dict(e).get("status")) == "kept" else "uncovered"}
               for t, cols in audit["columns_detected"].items() for c, e in _dict(cols).items()
               if _norm_status(_dict(e).get("status")) in ("NOT masked", "kept") and _dict(e).get("category")
               and _dict(e).get("evidence") != "key"]  # keys in clear: see "Identifier columns not remapped" / #18
    if det:
        any_ = True
        pdf.subsection(f"Detected personal data NOT masked ({len(det)})")
        rows = []
        for d in map(_dict, det):
            cat = d.get("category") or ", ".join(infer_categories(str(d.get("column") or ""), str(d.get("table")))) or NA
            rows.append((_text(d.get("table")), _text(d.get("column")), cat, _text(d.get("decision"))))
        pdf.grid(("Table", "Column", "Category", "Decision"), rows, (50, 40, 60, 30), size=7.5,
                 styles=[(None, None, None, FontFace(emphasis="BOLD", color=_AMBER))] * len(rows))
    nr = _list(audit.get("not_remapped"))
    if nr:
        any_ = True
        pdf.subsection(f"Identifier columns not remapped ({len(nr)})")
        rows = [(_text(_dict(x).get("column")), _text(_dict(x).get("reason"))) for x in nr]
        pdf.grid(("Column", "Reason"), rows, (65, 115), size=7.5)
    pt = _dict(audit.get("passthrough"))
    if pt:
        any_ = True
        pdf.subsection("Statements passed through unchanged")
        rows = [(k, _count(v)) for k, v in sorted(pt.items(), key=lambda kv: (-(_int(kv[1]) or 0), str(kv[0])))]
        pdf.grid(("Statement kind", "Count"), rows, (140, 40), align=("LEFT", "RIGHT"), size=7.5)
    other = _list(audit.get("warnings"))
    if other:
        any_ = True
        pdf.subsection(f"Other warnings ({len(other)})")
        pdf.grid(("#", "Warning"), [(str(i), _text(w)) for i, w in enumerate(other, 1)], (8, 172), size=7.5)
    if not any_:
        pdf.para("No warnings were recorded for this run.", color=_GREEN)


# ------------------------------------------------------------------ protection classes (#18)

_CLASSES = ("removed", "anonymised", "pseudonymised", "reversible", "kept")
_CLASS_TEXT = {"removed": "removed", "anonymised": "anonymised", "pseudonymised": "pseudonymised",
               "reversible": "reversible with the key", "kept": "kept"}
HIPAA_QUOTE = ('HIPAA, 45 CFR 164.514(c) (re-identification): a covered entity may assign a code to allow '
               'de-identified information to be re-identified provided that "the code or other means of record '
               'identification is not derived from or related to information about the individual and is not '
               'otherwise capable of being translated so as to identify the individual" and that it does not '
               '"disclose the mechanism (e.g., the key) for re-identification". Source: 45 CFR 164.514(c)(1)-(2); '
               'Safe Harbor, 164.514(b)(2)(i)(R), removes "any other unique identifying number, characteristic, '
               'or code, except as permitted by paragraph (c)".')
GDPR_QUOTE = ('GDPR Recital 26: "Personal data which have undergone pseudonymisation, which could be attributed to a '
              'natural person by the use of additional information should be considered to be information on an '
              'identifiable natural person." Source: Regulation (EU) 2016/679, Recital 26.')


def _protection_of(audit: dict, tables: dict) -> list[tuple[str, str, str]]:
    """(table, column, class) for every column the audit records: tables[T].columns, then the
    inventory's other columns (kept). An older audit without `protection` gives "n/a"."""
    out: dict[tuple[str, str], str] = {}
    for t, c, col in _masked_columns(tables):
        p = col.get("protection")
        out[(t, c)] = p if p in _CLASSES else NA
    for t, cols in _dict(audit.get("columns_detected")).items():
        for c, e in _dict(cols).items():
            if (str(t), str(c)) not in out:
                p = _dict(e).get("protection")
                out[(str(t), str(c))] = p if p in _CLASSES else ("kept" if _norm_status(_dict(e).get("status")) in
                                                                ("kept", "NOT masked") else NA)
    return [(t, c, p) for (t, c), p in out.items()]


def _protection_section(pdf: _Report, audit: dict, tables: dict) -> None:
    pdf.section("Protection classes")
    cols = _protection_of(audit, tables)
    if not any(p in _CLASSES for _t, _c, p in cols):
        pdf.para("This audit records no protection classes (written before dumpmask recorded them).", color=_GREY)
        return
    counts = {k: sum(1 for *_x, p in cols if p == k) for k in _CLASSES}
    pdf.para("Columns by protection class: " + "; ".join(f"{_CLASS_TEXT[k]}: {counts[k]}" for k in _CLASSES) + ".",
             bold=True)
    pdf.para("removed: nothing of the value is left (null). anonymised: static, redact, generalize.*: not linkable, "
             "not reversible. pseudonymised: keyed deterministic fakes, hashes, noise, partial: not reversible without "
             "brute force over the input space, but linkable across every dump made with the same key. reversible "
             "with the key: remapped identifiers (a keyed permutation). kept: in clear.", size=7.5, color=_GREY)
    if counts["pseudonymised"] or counts["reversible"]:
        pdf.subsection("The output is pseudonymised, not anonymised")
        pdf.para("Some columns are pseudonymised or reversible with the key: this output is pseudonymised data, "
                 "still personal data. Whoever holds the key can undo the remapped identifiers and recompute "
                 "every fake from a guessed original value; keep the key apart from the data, never with the "
                 "copies, and use a new key per environment or release to break linkage between copies.",
                 color=_AMBER, bold=True)
        pdf.para(HIPAA_QUOTE, size=7.5)
        pdf.para(GDPR_QUOTE, size=7.5)
    notes, leaks = _protection_notes(tables)
    if leaks:
        pdf.subsection(f"Templates that repeat a column kept in clear ({len(leaks)})")
        pdf.para("These columns are built by a template from other columns of their row, and at least one of "
                 "those is kept in clear (no rule masked it, or a where condition left rows unmasked): the "
                 "template writes that value into the output again, so the column is kept, not masked.",
                 color=_RED, bold=True)
        pdf.grid(("Table", "Column", "Reads, kept in clear"), leaks, (60, 45, 75), size=7.5,
                 styles=[(None, None, FontFace(emphasis="BOLD", color=_RED))] * len(leaks))
    rows = sorted(cols, key=lambda r: (_CLASSES.index(r[2]) if r[2] in _CLASSES else 9, r[0], r[1]), reverse=True)
    pdf.subsection(f"Protection per column ({len(rows)})")
    pdf.grid(("Table", "Column", "Protection", "Derived from"),
             [(t, c, _CLASS_TEXT.get(p, p), notes.get((t, c), "-")) for t, c, p in rows],
             (55, 45, 35, 45), size=7.5)


def _protection_notes(tables: dict) -> tuple[dict, list]:
    """What a column's class was derived from, for the per-column table ({(table, column):
    text}: a template's columns read, with their classes after masking; a where condition that
    left rows in clear), and the templates that read a column kept in clear [(table, column,
    columns)]."""
    notes: dict = {}
    leaks: list = []
    for t, c, col in _masked_columns(tables):
        parts = []
        if "where" in col and isinstance(col.get("rows_matched"), int) and isinstance(
                _dict(tables.get(t)).get("rows_read"), int) and col["rows_matched"] < tables[t]["rows_read"]:
            parts.append(f"where: {_count(col['rows_matched'])} of {_count(tables[t]['rows_read'])} rows masked")
        reads = _dict(col.get("reads"))
        if reads:
            parts.append("template reads " + ", ".join(f"{_text(k)} ({_CLASS_TEXT.get(v, _text(v))})"
                                                      for k, v in reads.items()))
            kept = [str(k) for k, v in reads.items() if v == "kept"]
            if kept:
                leaks.append((t, c, ", ".join(kept)))
        if parts:
            notes[(t, c)] = "; ".join(parts)
    return notes, leaks


def _residual_risk(pdf: _Report, audit: dict, tables: dict) -> None:
    pdf.section("Residual risk")
    v = audit.get("verification")
    pdf.subsection("Leak check (--verify)")
    if isinstance(v, dict):
        leaks = [_dict(x) for x in _list(v.get("leaks"))]
        pdf.grid(None, [("Mode", _text(v.get("mode"))), ("Values checked", _count(v.get("values_checked"))),
                        ("Columns checked", _count(v.get("columns_checked"))),
                        ("Leaks found", "0" if not leaks else
                         "; ".join(f"{_text(x.get('table'))}.{_text(x.get('column'))} ({_count(x.get('values'))})"
                                   for x in leaks)),
                        ("Low-risk repeats", _count(v.get("low_risk_repeats"))),
                        ("Result", _text(v.get("result")))], (40, 140), size=8, kv=True,
                 styles=[None, None, None, (None, FontFace(emphasis="BOLD", color=_RED if leaks else _GREEN)),
                         None, None])
    else:
        pdf.para("Verification was not run (no --verify): no leak check of the output is recorded.",
                 color=_AMBER, bold=True)
    ka = audit.get("kAnonymity")
    if isinstance(ka, dict):
        pdf.subsection(f"k-anonymity (k = {_text(ka.get('k'))}, action {_text(ka.get('action'))})")
        rows = []
        for t, e in _dict(ka.get("tables")).items():
            e = _dict(e)
            rows.append((str(t), ", ".join(map(str, _list(e.get("quasiIdentifiers")))), _count(e.get("achieved_k")),
                         _count(e.get("classes_below_k")), _count(e.get("rows_below_k")),
                         _count(e.get("rows_suppressed")) if "rows_suppressed" in e else "-"))
        pdf.grid(("Table", "Quasi-identifiers", "Achieved k", "Classes < k", "Rows < k", "Suppressed"), rows,
                 (40, 55, 22, 22, 20, 21), size=7.5)
    pdf.subsection("Detection findings not covered by a rule")
    kept, uncovered = [], []
    for t, cols in _dict(audit.get("columns_detected")).items():
        for c, e in _dict(cols).items():
            e = _dict(e)
            st = _norm_status(e.get("status"))
            if not e.get("category") or e.get("evidence") in ("key", "rule"):
                continue
            if st == "kept":
                kept.append((str(t), str(c), _text(e.get("category")), "KEPT IN CLEAR (rule says keep)"))
            elif st == "NOT masked":
                uncovered.append((str(t), str(c), _text(e.get("category")), "not masked (no rule)"))
    if not isinstance(audit.get("columns_detected"), dict):
        for d in map(_dict, _list(audit.get("detected_uncovered"))):
            row = (_text(d.get("table")), _text(d.get("column")), _text(d.get("category")), _text(d.get("decision")))
            (kept if d.get("decision") == "keep" else uncovered).append(row)
    rows = kept + uncovered   # flagged columns kept in clear first, never buried
    if rows:
        pdf.grid(("Table", "Column", "Category", "Finding"), rows, (45, 40, 50, 45), size=7.5,
                 styles=[(None, None, None, FontFace(emphasis="BOLD", color=_RED))] * len(kept)
                 + [(None, None, None, FontFace(color=_AMBER))] * len(uncovered))
    else:
        pdf.para("Every column detection flagged is covered by a rule.", color=_GREEN)


def fit_middle(pdf, text: str, width: float) -> str:
    """`text` shortened in the middle with an ellipsis until it fits `width` (never cut at an end)."""
    if pdf.get_string_width(text) <= width:
        return text
    lo, hi = 0, len(text)
    best = text[:1] + "\u2026" + text[-1:]
    while lo <= hi:
        m = (lo + hi) // 2
        cand = text[:(m + 1) // 2] + "\u2026" + text[len(text) - m // 2:]
        if pdf.get_string_width(cand) <= width:
            best, lo = cand, m + 1
        else:
            hi = m - 1
    return best
