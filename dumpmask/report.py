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

try:  # the package __init__ may not define it (or may not exist yet)
    from dumpmask import __version__ as _TOOL_VERSION
except Exception:  # pragma: no cover - defensive
    try:
        from importlib.metadata import version as _v

        _TOOL_VERSION = _v("dumpmask")
    except Exception:
        _TOOL_VERSION = "unknown"

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
# categories: HIPAA Safe Harbor identifiers and PCI DSS elements

HIPAA_IDENTIFIERS = [
    "Names",
    "Geographic subdivisions smaller than a state",
    "All elements of dates (except year)",
    "Telephone numbers",
    "Fax numbers",
    "Email addresses",
    "Social Security numbers",
    "Medical record numbers",
    "Health plan beneficiary numbers",
    "Account numbers",
    "Certificate / license numbers",
    "Vehicle identifiers and serial numbers",
    "Device identifiers and serial numbers",
    "Web URLs",
    "IP addresses",
    "Biometric identifiers",
    "Full-face photographs and comparable images",
    "Any other unique identifying number, characteristic or code",
]
PCI_ELEMENTS = [
    ("PAN", "Primary account number (PAN)"),
    ("CVV", "Card verification code (CVV/CVC)"),
    ("EXPIRY", "Expiration date"),
    ("CARDHOLDER", "Cardholder name"),
    ("PIN", "PIN / PIN block"),
]
_MANUAL_ALWAYS = {16, 17}

# (keyword as "_"-joined tokens, categories). Matched against the column name's tokens; first hit
# in each list wins, PCI and HIPAA are both searched.
_KEYWORDS: list[tuple[str, tuple[str, ...]]] = [
    ("cardholder", ("PCI cardholder name", "HIPAA-1 name")),
    ("card_holder", ("PCI cardholder name", "HIPAA-1 name")),
    ("name_on_card", ("PCI cardholder name", "HIPAA-1 name")),
    ("cvv", ("PCI CVV",)), ("cvv2", ("PCI CVV",)), ("cvc", ("PCI CVV",)), ("security_code", ("PCI CVV",)),
    ("expiry", ("PCI expiry date",)), ("exp_date", ("PCI expiry date",)), ("expiration", ("PCI expiry date",)),
    ("card_exp", ("PCI expiry date",)),
    ("card_number", ("PCI PAN",)), ("cardnumber", ("PCI PAN",)), ("cc_number", ("PCI PAN",)),
    ("credit_card", ("PCI PAN",)), ("pan", ("PCI PAN",)), ("card", ("PCI PAN",)),
    ("pin", ("PCI PIN",)), ("pin_block", ("PCI PIN",)),
    ("first_name", ("HIPAA-1 name",)), ("last_name", ("HIPAA-1 name",)), ("full_name", ("HIPAA-1 name",)),
    ("firstname", ("HIPAA-1 name",)), ("lastname", ("HIPAA-1 name",)), ("fullname", ("HIPAA-1 name",)),
    ("middle_name", ("HIPAA-1 name",)), ("given_name", ("HIPAA-1 name",)), ("surname", ("HIPAA-1 name",)),
    ("maiden_name", ("HIPAA-1 name",)), ("family_name", ("HIPAA-1 name",)),
    ("email", ("HIPAA-6 email",)), ("e_mail", ("HIPAA-6 email",)), ("mail", ("HIPAA-6 email",)),
    ("fax", ("HIPAA-5 fax",)),
    ("phone", ("HIPAA-4 phone",)), ("telephone", ("HIPAA-4 phone",)), ("tel", ("HIPAA-4 phone",)),
    ("mobile", ("HIPAA-4 phone",)), ("cell", ("HIPAA-4 phone",)), ("phone_number", ("HIPAA-4 phone",)),
    ("address", ("HIPAA-2 geographic",)), ("address2", ("HIPAA-2 geographic",)),
    ("street", ("HIPAA-2 geographic",)), ("postal_code", ("HIPAA-2 geographic",)),
    ("postcode", ("HIPAA-2 geographic",)), ("zip", ("HIPAA-2 geographic",)),
    ("zipcode", ("HIPAA-2 geographic",)), ("zip_code", ("HIPAA-2 geographic",)),
    ("city", ("HIPAA-2 geographic",)), ("district", ("HIPAA-2 geographic",)),
    ("county", ("HIPAA-2 geographic",)), ("latitude", ("HIPAA-2 geographic",)),
    ("longitude", ("HIPAA-2 geographic",)), ("geo", ("HIPAA-2 geographic",)),
    ("dob", ("HIPAA-3 date",)), ("birth_date", ("HIPAA-3 date",)), ("birthdate", ("HIPAA-3 date",)),
    ("date_of_birth", ("HIPAA-3 date",)), ("birthday", ("HIPAA-3 date",)),
    ("admission_date", ("HIPAA-3 date",)), ("discharge_date", ("HIPAA-3 date",)),
    ("death_date", ("HIPAA-3 date",)), ("date_of_death", ("HIPAA-3 date",)),
    ("ssn", ("HIPAA-7 SSN",)), ("social_security", ("HIPAA-7 SSN",)),
    ("mrn", ("HIPAA-8 medical record number",)), ("medical_record", ("HIPAA-8 medical record number",)),
    ("health_plan", ("HIPAA-9 health plan number",)), ("beneficiary", ("HIPAA-9 health plan number",)),
    ("insurance_id", ("HIPAA-9 health plan number",)), ("member_id", ("HIPAA-9 health plan number",)),
    ("account_number", ("HIPAA-10 account number",)), ("iban", ("HIPAA-10 account number",)),
    ("account_no", ("HIPAA-10 account number",)), ("acct", ("HIPAA-10 account number",)),
    ("license_plate", ("HIPAA-12 vehicle identifier",)), ("vin", ("HIPAA-12 vehicle identifier",)),
    ("license", ("HIPAA-11 license number",)), ("licence", ("HIPAA-11 license number",)),
    ("certificate", ("HIPAA-11 license number",)),
    ("imei", ("HIPAA-13 device identifier",)), ("device_id", ("HIPAA-13 device identifier",)),
    ("serial_number", ("HIPAA-13 device identifier",)), ("mac_address", ("HIPAA-13 device identifier",)),
    ("url", ("HIPAA-14 URL",)), ("website", ("HIPAA-14 URL",)), ("homepage", ("HIPAA-14 URL",)),
    ("ip", ("HIPAA-15 IP address",)), ("ip_address", ("HIPAA-15 IP address",)),
    ("ipaddr", ("HIPAA-15 IP address",)),
    ("fingerprint", ("HIPAA-16 biometric",)), ("biometric", ("HIPAA-16 biometric",)),
    ("voiceprint", ("HIPAA-16 biometric",)),
    ("photo", ("HIPAA-17 photo",)), ("picture", ("HIPAA-17 photo",)), ("avatar", ("HIPAA-17 photo",)),
    ("portrait", ("HIPAA-17 photo",)),
]
_EXACT_NAME = {"name", "nom", "nombre", "имя", "фамилия"}


def _tokens(column: str) -> list[str]:
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(column))
    return [t for t in re.split(r"[^\w]+|_", s.lower()) if t]


def infer_categories(column: str) -> list[str]:
    """Best-effort categories from a column name (used when the audit gives none)."""
    toks = _tokens(column)
    if not toks:
        return []
    joined = "_" + "_".join(toks) + "_"
    glued = "".join(toks)
    cats: list[str] = []
    if "_".join(toks) in _EXACT_NAME or glued in _EXACT_NAME:
        cats.append("HIPAA-1 name")
    for kw, kcats in _KEYWORDS:
        if f"_{kw}_" in joined or (kw.replace("_", "") == glued and len(glued) > 3):
            for c in kcats:
                if c not in cats and not (c.startswith("PCI") and any(x.startswith("PCI") for x in cats)):
                    if c.startswith("HIPAA") and any(x.startswith("HIPAA") for x in cats):
                        continue
                    cats.append(c)
    return cats


def _categories_of(colname: str, col: dict) -> list[str]:
    cat = col.get("category") if isinstance(col, dict) else None
    if isinstance(cat, str) and cat.strip():
        return [cat.strip()]
    if isinstance(cat, (list, tuple)) and cat:
        return [str(c) for c in cat if c]
    cats = infer_categories(colname)
    if not cats and isinstance(col, dict) and col.get("mutation") == "key":
        cats = ["HIPAA-18 unique identifier"]
    return cats


def _hipaa_number(cat: str) -> int | None:
    m = re.search(r"HIPAA[-\s#]*(\d{1,2})", cat, re.I)
    if m and 1 <= int(m.group(1)) <= 18:
        return int(m.group(1))
    return None


def _pci_element(cat: str) -> str | None:
    c = cat.upper()
    if "PCI" not in c:
        return None
    if "CVV" in c or "CVC" in c or "VERIFICATION" in c:
        return "CVV"
    if "EXP" in c:
        return "EXPIRY"
    if "HOLDER" in c or "NAME" in c:
        return "CARDHOLDER"
    if re.search(r"\bPIN\b", c):
        return "PIN"
    if "PAN" in c or "CARD" in c or "ACCOUNT" in c:
        return "PAN"
    return None


def _short_category(cat: str) -> str:
    s = re.sub(r"^\s*(HIPAA[-\s#]*\d{1,2}|PCI)\s*", "", cat, flags=re.I).strip()
    return s or cat


# --------------------------------------------------------------------------------------------
# defensive accessors / formatting


def _d(v) -> dict:
    return v if isinstance(v, dict) else {}


def _l(v) -> list:
    return v if isinstance(v, list) else []


def _s(v) -> str:
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


def _n(v) -> str:
    i = _int(v)
    return f"{i:,}" if i is not None else _s(v)


def _bytes(v) -> str:
    i = _int(v)
    if i is None:
        return _s(v)
    units = ["B", "KiB", "MiB", "GiB", "TiB"]
    x, u = float(i), 0
    while x >= 1024 and u < len(units) - 1:
        x /= 1024
        u += 1
    return f"{i:,} bytes" + (f" ({x:.1f} {units[u]})" if u else "")


def _ts(v) -> str:
    if not isinstance(v, str) or not v:
        return _s(v)
    m = re.match(r"^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d(?:\.\d+)?)(Z|[+-]00:?00)?$", v)
    if m:
        return f"{m.group(1)} {m.group(2)} UTC"
    return v


def _duration(v) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return _s(v)
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
        s = _s(v) if not isinstance(v, str) else (v or NA)
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
        self.cell(0, 4, self.t(self._header_text), align="L")
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
    return (f"signed ({alg}, key fingerprint {_s(sig.get('key_fingerprint'))}); "
            "verifiable by the holder of the masking key", (0, 0, 0))


def render(audit: dict, out_path: str, audit_sha256: str | None = None, *,
           signature_check: tuple[bool, str] | None = None) -> None:
    """Write the PDF report for `audit` to `out_path`.

    audit_sha256: SHA-256 of the audit sidecar file (printed on page 1 and in every footer).
    signature_check: optional (ok, reason) from signing.verify(), printed instead of the
    unverified signature description.
    """
    audit = _d(audit)
    inp, outp = _d(audit.get("input")), _d(audit.get("output"))
    key, rules, opts = _d(audit.get("key")), _d(audit.get("rules")), _d(audit.get("options"))
    remap_opt = _d(opts.get("identifierRemapping"))
    transfer = _d(opts.get("transfer"))
    tables = _d(audit.get("tables"))
    remapped = _d(audit.get("remapped"))
    status = str(audit.get("status") or "").lower()
    failed = status not in ("ok", "")
    ver = audit.get("version") or NA
    tool = audit.get("tool") or "dumpmask"
    sha_short = (audit_sha256 or "")[:16]

    footer = f"{tool} {ver} masking audit"
    footer += f"  |  audit sha256 {sha_short}..." if sha_short else "  |  audit sha256 n/a"
    header = f"{tool} masking audit report  |  {_s(inp.get('name'))}  |  {_ts(audit.get('started_at'))}"
    pdf = _Report(footer, header)
    pdf.set_title(f"{tool} masking audit report")
    pdf.set_author(f"{tool} {ver}")
    pdf.set_creator(f"dumpmask {_TOOL_VERSION} (fpdf2)")
    pdf.add_fallbacks_for(_iter_strings(audit))
    pdf.add_page()

    # ---- title band
    pdf.set_fill_color(*_NAVY)
    pdf.rect(0, 0, pdf.w, 30, style="F")
    pdf.set_xy(15, 8)
    pdf.set_text_color(255, 255, 255)
    pdf.set_font(pdf.family, "B", 18)
    pdf.cell(0, 9, "Data masking audit report", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(pdf.family, "", 9.5)
    pdf.cell(0, 5, pdf.t(f"{tool} {ver}  -  {_s(audit.get('dialect'))} dump  -  "
                        f"{_s(inp.get('name'))}  -  {_ts(audit.get('started_at'))}"))
    pdf.set_text_color(0)
    pdf.set_y(35)

    # ---- status box
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

    # ---- 1. run summary
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
        ("Started (UTC)", _ts(audit.get("started_at"))),
        ("Finished (UTC)", _ts(audit.get("finished_at"))),
        ("Duration", _duration(audit.get("duration_s"))),
        ("Dialect", _s(audit.get("dialect"))),
        ("Input", f"{_s(inp.get('name'))}  -  {_bytes(inp.get('bytes'))}"),
        ("Input SHA-256", _s(inp.get("sha256"))),
        ("Output", f"{_s(outp.get('name'))}  -  {_bytes(outp.get('bytes'))}"),
        ("Output SHA-256", _s(outp.get("sha256"))),
        ("Rules", f"{_s(rules.get('file'))}  -  template: {template or 'none'}"
                  f"  -  strict: {_s(opts.get('strict'))}"),
        ("Rules SHA-256", _s(rules.get("sha256"))),
        ("Key fingerprint", _s(key.get("fingerprint"))),
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
        elif label == "Signature":
            styles.append((None, FontFace(color=_sig_color)))
        else:
            styles.append(None)
    pdf.grid(None, kv, (30, 120), size=8, styles=styles, kv=True)

    # ---- 2. compliance status
    _compliance(pdf, audit, tables, remap_opt, transfer, remapped)

    # ---- 3. checklists
    _checklists(pdf, audit, tables, remap_opt, remapped)

    # ---- 4. per table
    _tables_section(pdf, tables, remapped, audit)

    # ---- 5. warnings
    _warnings(pdf, audit)

    pdf.output(out_path)


def _masked_columns(tables: dict):
    """(table, column, coldict) for every masked column."""
    for tname, t in tables.items():
        for cname, col in _d(_d(t).get("columns")).items():
            yield str(tname), str(cname), _d(col)


def _remap_active(remap_opt: dict, remapped: dict) -> bool:
    en = remap_opt.get("enabled")
    return bool(en) if en is not None else bool(remapped)


def _compliance(pdf: _Report, audit, tables, remap_opt, transfer, remapped) -> None:
    pdf.section(COMPLIANCE_TITLE, 2)
    active = _remap_active(remap_opt, remapped)
    cols = list(_masked_columns(tables))
    pii = [(t, c, col) for t, c, col in cols if col.get("mutation") != "key"]
    keys = [(t, c, col) for t, c, col in cols if col.get("mutation") == "key"]
    if active:
        strat = remap_opt.get("strategy") or next((r.get("strategy") for r in map(_d, remapped.values())
                                                   if r.get("strategy")), None)
        remap_line = f"Active ({_strategy(strat)})"
        n = len(remapped) or len(keys)
        if n:
            remap_line += f" - {n} key domain{'s' if n != 1 else ''}"
    else:
        remap_line = "Inactive"
    labels: dict[str, int] = {}
    for _t, c, col in pii:
        cats = _categories_of(c, col)
        lab = _short_category(cats[0]) if cats else c
        labels[lab] = labels.get(lab, 0) + 1
    top = sorted(labels, key=lambda k: (-labels[k], k))
    shown = ", ".join(top[:6]) + (" ..." if len(top) > 6 else "")
    pii_line = f"{len(pii)} field{'s' if len(pii) != 1 else ''}" + (f" ({shown})" if shown else "")
    mapping = ("None created (keyed permutation)" if active
               else "None created (keyed pseudonymisation, nothing stored)")
    mode = str(transfer.get("mode") or "full").lower()
    nrows = transfer.get("rows")
    if mode == "first":
        part = f"First {_n(nrows)} rows per table"
    elif mode == "last":
        part = f"Last {_n(nrows)} rows per table"
    elif mode == "full":
        part = "Full Transfer (no limit)"
    else:
        part = _s(transfer.get("mode"))
    overrides = []
    for tname, t in tables.items():
        t = _d(t)
        tm = t.get("transfer")
        trows = None
        if isinstance(tm, dict):
            tm, trows = tm.get("mode"), tm.get("rows")
        else:
            trows = t.get("transfer_rows")
        if tm and str(tm).lower() != mode or (trows is not None and trows != nrows):
            overrides.append(f"{tname}: {tm}" + (f" {_n(trows)}" if trows is not None else ""))
    if overrides:
        part += " (per-table overrides: " + ", ".join(overrides[:8]) + (" ..." if len(overrides) > 8 else "") + ")"
    if mode in ("first", "last") and transfer.get("referentialIntegrity") is not None:
        part += "; referential integrity " + ("kept" if transfer.get("referentialIntegrity") else "NOT kept")

    lines = [
        ("Identifier Remapping:", remap_line),
        ("PII Fields Masked:", pii_line),
        ("Mapping table:", mapping),
        ("Partial Transfer:", part),
    ]
    # boxed block
    pdf.set_font(pdf.family, "", 9.5)
    x0, w, lw = pdf.l_margin, pdf.epw_, 46
    heights = [max(1, len(pdf.multi_cell(w - lw - 8, 5.2, pdf.t(v), dry_run=True, output="LINES"))) * 5.2
               for _, v in lines]
    if str(audit.get("status") or "ok").lower() != "ok":
        lines.append(("Run outcome:", "FAILED - the measures above were not completed for the whole dump"))
        heights.append(5.2)
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
    for (label, value), h in zip(lines, heights):
        pdf.set_xy(x0 + 5, y)
        pdf.set_font(pdf.family, "B", 9.5)
        pdf.set_text_color(*_NAVY)
        pdf.cell(lw, 5.2, label)
        pdf.set_font(pdf.family, "", 9.5)
        color = _GREEN if value.startswith(("Active", "None created", "Full")) else (0, 0, 0)
        if value == "Inactive":
            color = _AMBER
        elif value.startswith("FAILED"):
            color = _RED
        pdf.set_text_color(*color)
        pdf.set_xy(x0 + 5 + lw, y)
        pdf.multi_cell(w - lw - 8, 5.2, pdf.t(value))
        y += h
    pdf.set_text_color(*_GREY)
    pdf.set_font(pdf.family, "", 7.5)
    pdf.set_xy(x0 + 5, y + 2)
    pdf.multi_cell(w - 10, 3.8, pdf.t(LEGAL_NOTE))
    pdf.set_text_color(0)
    pdf.set_y(y0 + total + 3)


def _checklists(pdf: _Report, audit, tables, remap_opt, remapped) -> None:
    hipaa: dict[int, list[str]] = {i: [] for i in range(1, 19)}
    pci: dict[str, list[str]] = {k: [] for k, _ in PCI_ELEMENTS}
    for t, c, col in _masked_columns(tables):
        for cat in _categories_of(c, col):
            n = _hipaa_number(cat)
            if n and f"{t}.{c}" not in hipaa[n]:
                hipaa[n].append(f"{t}.{c}")
            p = _pci_element(cat)
            if p and f"{t}.{c}" not in pci[p]:
                pci[p].append(f"{t}.{c}")
    kept_h: dict[int, list[str]] = {}
    kept_p: dict[str, list[str]] = {}
    for d in map(_d, _l(audit.get("detected_uncovered"))):
        name = f"{_s(d.get('table'))}.{_s(d.get('column'))}"
        cats = [d["category"]] if isinstance(d.get("category"), str) and d.get("category") else \
            infer_categories(str(d.get("column") or ""))
        for cat in cats:
            n = _hipaa_number(cat)
            if n:
                kept_h.setdefault(n, []).append(name)
            p = _pci_element(cat)
            if p:
                kept_p.setdefault(p, []).append(name)
    active = _remap_active(remap_opt, remapped)
    if active:
        for dom in remapped:
            if str(dom) not in hipaa[18]:
                hipaa[18].append(str(dom))

    def status(masked, kept, manual=False):
        if manual:
            return ("manual verification required", FontFace(color=_AMBER))
        if kept:
            return ("DETECTED, NOT MASKED", FontFace(emphasis="BOLD", color=_RED))
        if masked:
            return ("masked", FontFace(emphasis="BOLD", color=_GREEN))
        return ("not found in this dump", FontFace(color=_GREY))

    def cols_text(cols, kept=None, limit=12):
        text = ", ".join(cols[:limit]) + (f" ... (+{len(cols) - limit} more)" if len(cols) > limit else "")
        if kept:
            text += ("; " if text else "") + "detected, kept unmasked: " + ", ".join(kept)
        return text or "-"

    def cols_style(kept):
        return FontFace(color=_RED) if kept else None

    pdf.need(90)  # keep the checklist's start with its first rows
    pdf.section("HIPAA Safe Harbor checklist", 3)
    pdf.para("The 18 identifiers of 45 CFR 164.514(b)(2). Columns are attributed from each rule's "
             "category, or inferred from the column name where the audit records none. Items 16 and 17 "
             "(biometrics, photographs) can hide in free text and binary columns and always need a human "
             "check.", size=7.5, color=_GREY)
    pdf.ln(1)
    rows, styles = [], []
    for i, label in enumerate(HIPAA_IDENTIFIERS, 1):
        st, ff = status(hipaa[i], kept_h.get(i), manual=i in _MANUAL_ALWAYS)
        cols = cols_text(hipaa[i], kept_h.get(i))
        if i == 18 and active and remapped:
            cols += "  (remapped keys)"
        rows.append((str(i), label, st, cols))
        styles.append((None, None, ff, cols_style(kept_h.get(i))))
    pdf.grid(("#", "Identifier", "Status", "Columns masked"), rows, (6, 64, 42, 68), size=7.2, styles=styles)

    pdf.subsection("PCI DSS checklist")
    rows, styles = [], []
    for k, label in PCI_ELEMENTS:
        st, ff = status(pci[k], kept_p.get(k))
        rows.append((label, st, cols_text(pci[k], kept_p.get(k))))
        styles.append((None, ff, cols_style(kept_p.get(k))))
    pdf.grid(("Element", "Status", "Columns masked"), rows, (68, 44, 68), size=7.5, styles=styles)
    pdf.para("PCI DSS 3.3: sensitive authentication data (CVV, PIN) must not be stored after authorisation "
             "at all; finding it in a dump is a finding in itself, masked or not.", size=7.5, color=_GREY)


def _tables_section(pdf: _Report, tables, remapped, audit) -> None:
    pdf.section("Tables", 4)
    if not tables:
        pdf.para("No table data was recorded in this audit.", color=_GREY)
        return
    summary, totals = [], []
    tr = tw = tc = 0
    for tname, t in tables.items():
        t = _d(t)
        cols = _d(t.get("columns"))
        changed = sum(_int(_d(c).get("changed")) or 0 for c in cols.values())
        read = t.get("rows_read", t.get("rows"))
        written = t.get("rows_written", t.get("rows"))
        tm = t.get("transfer")
        if isinstance(tm, dict):
            tm = f"{tm.get('mode')} {tm.get('rows') or ''}".strip()
        summary.append((tname, _s(tm), _n(read), _n(written), str(len(cols)), f"{changed:,}"))
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
        cols = _d(_d(t).get("columns"))
        if not cols:
            rows.append((tname, "(none masked)", "-", "-", "-", "-"))
            continue
        for cname, col in cols.items():
            col = _d(col)
            mut = _s(col.get("mutation"))
            if col.get("mutation") == "key":
                mut = f"key ({_strategy(col.get('strategy'))})"
            cats = _categories_of(cname, col)
            cat = ", ".join(cats) if cats else "-"
            if cats and not col.get("category"):
                cat += " (inferred)"
            rows.append((tname, cname, mut, cat, _n(col.get("changed")), _n(col.get("nulls"))))
    pdf.grid(("Table", "Column", "Mutation", "Category", "Changed", "Nulls"), rows,
             (42, 32, 34, 42, 16, 14), align=("LEFT", "LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT"), size=7)

    if remapped:
        pdf.subsection("Identifier remapping (key domains)")
        rows = []
        for dom, r in remapped.items():
            r = _d(r)
            rng = r.get("range")
            rng = f"{_n(rng[0])} .. {_n(rng[1])}" if isinstance(rng, list) and len(rng) == 2 else _s(rng)
            rows.append((dom, _strategy(r.get("strategy")), rng, _n(r.get("values")), _n(r.get("collision_bound"))))
        pdf.grid(("Key domain", "Strategy", "Range", "Values", "Collision bound"), rows,
                 (68, 28, 44, 18, 22), align=("LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT"), size=7)
    seqs = _l(audit.get("sequences"))
    if seqs:
        pdf.subsection("Sequences reset")
        rows = [(_s(_d(s).get("sequence")), _s(_d(s).get("column")), _n(_d(s).get("value"))) for s in seqs]
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


def _warnings(pdf: _Report, audit) -> None:
    pdf.section("Warnings", 5)
    any_ = False
    un = _l(audit.get("unmatched_rules"))
    if un:
        any_ = True
        pdf.subsection(f"Unmatched rules ({len(un)})")
        rows = [(_s(_d(u).get("table")), _s(_d(u).get("column")) if _d(u).get("column") else "-",
                 _s(_d(u).get("message"))) for u in un]
        pdf.grid(("Table", "Column", "Message"), rows, (45, 35, 100), size=7.5)
    det = _l(audit.get("detected_uncovered"))
    if det:
        any_ = True
        pdf.subsection(f"Detected personal data NOT masked ({len(det)})")
        rows = []
        for d in map(_d, det):
            cat = d.get("category") or ", ".join(infer_categories(str(d.get("column") or ""))) or NA
            rows.append((_s(d.get("table")), _s(d.get("column")), cat, _s(d.get("decision"))))
        pdf.grid(("Table", "Column", "Category", "Decision"), rows, (50, 40, 60, 30), size=7.5,
                 styles=[(None, None, None, FontFace(emphasis="BOLD", color=_AMBER))] * len(rows))
    nr = _l(audit.get("not_remapped"))
    if nr:
        any_ = True
        pdf.subsection(f"Identifier columns not remapped ({len(nr)})")
        rows = [(_s(_d(x).get("column")), _s(_d(x).get("reason"))) for x in nr]
        pdf.grid(("Column", "Reason"), rows, (65, 115), size=7.5)
    pt = _d(audit.get("passthrough"))
    if pt:
        any_ = True
        pdf.subsection("Statements passed through unchanged")
        rows = [(k, _n(v)) for k, v in sorted(pt.items(), key=lambda kv: (-(_int(kv[1]) or 0), str(kv[0])))]
        pdf.grid(("Statement kind", "Count"), rows, (140, 40), align=("LEFT", "RIGHT"), size=7.5)
    other = _l(audit.get("warnings"))
    if other:
        any_ = True
        pdf.subsection(f"Other warnings ({len(other)})")
        pdf.grid(("#", "Warning"), [(str(i), _s(w)) for i, w in enumerate(other, 1)], (8, 172), size=7.5)
    if not any_:
        pdf.para("No warnings were recorded for this run.", color=_GREEN)
