"""The one vocabulary of personal-data categories: detection, templates, audit, report.

Every category a finding can carry (detect.py), its framework (which regulation's list it is
on) and its item on that regulation's checklist in the PDF report (report.py):

* hipaa: the 18 identifiers of HIPAA Safe Harbor, 45 CFR 164.514(b)(2) (`HIPAA-N ...`,
  checklist item N of HIPAA_IDENTIFIERS);
* pci: PCI DSS cardholder data and sensitive authentication data (`PCI ...`, checklist
  element of PCI_ELEMENTS);
* gdpr: further personal data of GDPR (and CCPA's "personal information"), no checklist of
  its own (the report lists them with the columns; a GDPR category that is also a HIPAA or
  PCI one reaches that checklist through a finding's `also`, see detect.related_categories);
* credential: passwords, usernames, tokens, keys: in every template, no regulation's list.

A rules file may give a column a category of its own words ("HIPAA #3 birth date"): the
readers below (hipaa_item, pci_element) place such a category by its spelling when it is not
one of the vocabulary's.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

#: The HIPAA Safe Harbor checklist: item N is HIPAA_IDENTIFIERS[N - 1].
HIPAA_IDENTIFIERS = (
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
)
#: Safe Harbor items that can hide in free text and binary columns: always a human check.
HIPAA_MANUAL_ITEMS = frozenset({16, 17})

#: The PCI DSS checklist: (element, label).
PCI_ELEMENTS = (
    ("PAN", "Primary account number (PAN)"),
    ("CVV", "Card verification code (CVV/CVC)"),
    ("EXPIRY", "Expiration date"),
    ("CARDHOLDER", "Cardholder name"),
    ("PIN", "PIN / PIN block"),
)

#: framework -> the regulation list it stands for (as the report and the docs name it).
FRAMEWORKS = {
    "hipaa": "HIPAA Safe Harbor identifiers",
    "pci": "PCI DSS cardholder data",
    "gdpr": "GDPR / CCPA personal data",
    "credential": "credentials",
}


@dataclass(frozen=True)
class Category:
    name: str                 # as findings, the audit and the rules files spell it
    framework: str            # a key of FRAMEWORKS
    item: int | str | None    # its checklist item: a Safe Harbor number (hipaa), a PCI element (pci)


CATEGORIES: tuple[Category, ...] = (
    Category("HIPAA-1 name", "hipaa", 1),
    Category("HIPAA-2 geographic", "hipaa", 2),
    Category("HIPAA-3 date", "hipaa", 3),
    Category("HIPAA-4 phone", "hipaa", 4),
    Category("HIPAA-5 fax", "hipaa", 5),
    Category("HIPAA-6 email", "hipaa", 6),
    Category("HIPAA-7 SSN", "hipaa", 7),
    Category("HIPAA-8 medical record number", "hipaa", 8),
    Category("HIPAA-9 health plan beneficiary number", "hipaa", 9),
    Category("HIPAA-10 account number", "hipaa", 10),
    Category("HIPAA-11 certificate/license number", "hipaa", 11),
    Category("HIPAA-12 vehicle identifier", "hipaa", 12),
    Category("HIPAA-13 device identifier", "hipaa", 13),
    Category("HIPAA-14 URL", "hipaa", 14),
    Category("HIPAA-15 IP address", "hipaa", 15),
    Category("HIPAA-16 biometric", "hipaa", 16),
    Category("HIPAA-17 photo", "hipaa", 17),
    Category("HIPAA-18 unique identifier", "hipaa", 18),
    Category("PCI PAN", "pci", "PAN"),
    Category("PCI CVV", "pci", "CVV"),
    Category("PCI expiry", "pci", "EXPIRY"),
    Category("PCI cardholder name", "pci", "CARDHOLDER"),
    Category("PCI PIN", "pci", "PIN"),
    Category("GDPR date of birth", "gdpr", None),
    Category("GDPR gender", "gdpr", None),
    Category("GDPR national id", "gdpr", None),
    Category("GDPR tax id", "gdpr", None),
    Category("GDPR passport", "gdpr", None),
    Category("GDPR IBAN", "gdpr", None),
    Category("GDPR salary", "gdpr", None),
    Category("GDPR geolocation", "gdpr", None),
    Category("credential password", "credential", None),
    Category("credential username", "credential", None),
    Category("credential token", "credential", None),
    Category("credential api key", "credential", None),
    Category("credential private key", "credential", None),
    Category("credential secret", "credential", None),
    Category("credential digest", "credential", None),
)
BY_NAME = {c.name: c for c in CATEGORIES}
NAMES: tuple[str, ...] = tuple(c.name for c in CATEGORIES)


def names_of(*frameworks: str) -> frozenset[str]:
    """The category names of these frameworks."""
    return frozenset(c.name for c in CATEGORIES if c.framework in frameworks)


def framework(name: str) -> str:
    """The framework of a category: the vocabulary's, else read from its prefix."""
    known = BY_NAME.get(name)
    if known is not None:
        return known.framework
    if name.startswith("HIPAA"):
        return "hipaa"
    if name.startswith("PCI"):
        return "pci"
    if name.startswith("GDPR"):
        return "gdpr"
    return "credential"


def hipaa_item(name: str) -> int | None:
    """The Safe Harbor item (1..18) a category belongs to ("HIPAA-6 email", "HIPAA #3 birth
    date"), else None."""
    known = BY_NAME.get(name)
    if known is not None:
        return known.item if known.framework == "hipaa" else None
    m = re.search(r"HIPAA[-\s#]*(\d{1,2})", name, re.I)
    if m and 1 <= int(m.group(1)) <= 18:
        return int(m.group(1))
    return None


def pci_element(name: str) -> str | None:
    """The PCI DSS element (a key of PCI_ELEMENTS) a category belongs to ("PCI PAN", "PCI
    card verification code"), else None."""
    known = BY_NAME.get(name)
    if known is not None:
        return known.item if known.framework == "pci" else None
    upper = name.upper()
    if "PCI" not in upper:
        return None
    if "CVV" in upper or "CVC" in upper or "VERIFICATION" in upper:
        return "CVV"
    if "EXP" in upper:
        return "EXPIRY"
    if "HOLDER" in upper or "NAME" in upper:
        return "CARDHOLDER"
    if re.search(r"\bPIN\b", upper):
        return "PIN"
    if "PAN" in upper or "CARD" in upper or "ACCOUNT" in upper:
        return "PAN"
    return None


def short_label(name: str) -> str:
    """A category without its regulation prefix ("HIPAA-6 email" -> "email")."""
    label = re.sub(r"^\s*(HIPAA[-\s#]*\d{1,2}|PCI|GDPR)\s*", "", name, flags=re.I).strip()
    return label or name
