"""One vocabulary of personal-data categories (dumpmask.categories): every category detection
can give is in it, the templates and the report's checklists read it."""
from __future__ import annotations

import dumpmask.detect as detect
from dumpmask import categories
from dumpmask.categories import BY_NAME, CATEGORIES, HIPAA_IDENTIFIERS, PCI_ELEMENTS, hipaa_item, pci_element


def _detectable() -> set[str]:
    """Every category detect.py can put on a finding: name rules, their `also`, content patterns."""
    found = set()
    for rule in detect._RULES.values():
        found.add(rule.category)
        found.update(rule.also)
    for category, _suggested in detect._CONTENT.values():
        found.add(category)
    for also in detect._CONTENT_ALSO.values():
        found.update(also)
    for value in ("-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----", "ghp_" + "a1B2" * 9,
                  "$2b$12$" + "a" * 53):
        found.add(detect.secret_category(value))
    found.discard(None)
    return found


def test_every_detectable_category_is_in_the_vocabulary():
    missing = _detectable() - set(BY_NAME)
    assert not missing


def test_every_hipaa_and_pci_category_has_its_checklist_item():
    assert [c.item for c in CATEGORIES if c.framework == "hipaa"] == list(range(1, len(HIPAA_IDENTIFIERS) + 1))
    assert [c.item for c in CATEGORIES if c.framework == "pci"] == [key for key, _ in PCI_ELEMENTS]
    for c in CATEGORIES:
        assert c.framework in categories.FRAMEWORKS
        assert hipaa_item(c.name) == (c.item if c.framework == "hipaa" else None)
        assert pci_element(c.name) == (c.item if c.framework == "pci" else None)


def test_categories_written_in_a_rules_file_find_their_checklist_item():
    assert hipaa_item("HIPAA #3 birth date") == 3 and hipaa_item("hipaa-19 x") is None
    assert pci_element("PCI card verification code") == "CVV" and pci_element("card number") is None
    assert categories.framework("GDPR ethnicity") == "gdpr" and categories.short_label("HIPAA-6 email") == "email"


def test_templates_and_report_read_the_vocabulary():
    from dumpmask import report

    assert detect.CATEGORIES == categories.NAMES
    assert detect.TEMPLATES["hipaa"] == categories.names_of("hipaa", "credential")
    assert detect.TEMPLATES["pci"] == categories.names_of("pci", "credential")
    assert detect.TEMPLATES["gdpr"] == detect.TEMPLATES["all"] == frozenset(categories.NAMES)
    assert report.HIPAA_IDENTIFIERS is HIPAA_IDENTIFIERS and report.PCI_ELEMENTS is PCI_ELEMENTS
    # a finding's framework is the vocabulary's
    assert detect.detect_by_name("email").framework == "hipaa"
    assert detect.detect_by_name("iban").framework == "gdpr"
