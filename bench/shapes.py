"""Per-value CPU cost of json, regex and template (issue #15), beside json.loads of the same
document (the machine's yardstick: on a shared machine absolute figures move, the ratio less).

    .venv/bin/python bench/shapes.py            # CPU microseconds per value (process time)

json: a 300-byte profile document, 3 paths ($.email faker.email, $.ssn null,
$.address.street faker.address), every value distinct (no memo).
"""
from __future__ import annotations

import json
import time

from dumpmask.crypto import Key
from dumpmask.schema import classify
from dumpmask.transformers import REGISTRY

N = 20_000


def build(name, options, type_text):
    c = classify(type_text)
    c.name = "c"
    t = REGISTRY[name](Key(bytes(range(32))), options, c)
    t.bind_dialect("postgres")
    return t


def per_value(fn, values) -> float:
    t0 = time.process_time()
    for v in values:
        fn(v)
    return (time.process_time() - t0) / len(values) * 1e6


def main() -> None:
    docs = [json.dumps({"ssn": f"123-45-{i % 10000:04d}", "email": f"anna.smith{i}@corp.example",
                        "notes": "called on monday about the invoice", "phones": ["555-1234", "555-9999"],
                        "salary": 5000 + i, "address": {"zip": "12345", "street": f"{i} Main St", "city": "Springfield",
                                                        "country": "US"}, "tags": ["a", "b", "c"], "active": True})
            for i in range(N)]
    size = sum(map(len, docs)) / len(docs)
    j = build("json", {"paths": {"$.email": "faker.email", "$.ssn": "null", "$.address.street": "faker.address"}},
              "jsonb")
    texts = [f"call 555-{i % 10000:04d} or 555-9876 about order {i}" for i in range(N)]
    rx = build("regex", {"pattern": r"\d{3}-\d{4}", "mutation": "faker.phone"}, "text")
    rr = build("regex", {"pattern": r"\d{3}-\d{4}", "replace": "###-####"}, "text")
    tp = build("template", {"template": "{first_name}.{last_name}@example.com", "lower": True, "unique": True}, "text")
    rows = [(f"u{i}@corp.example", {"first_name": "Mary", "last_name": f"Smith{i % 500}"}) for i in range(N)]
    print(f"json.loads, {size:.0f}-byte document       {per_value(json.loads, docs):6.2f} us")
    print(f"json, {size:.0f}-byte document, 3 paths     {per_value(j, docs):6.2f} us")
    print(f"regex, mutation faker.phone, 2 matches {per_value(rx, texts):6.2f} us")
    print(f"regex, replace, 2 matches              {per_value(rr, texts):6.2f} us")
    print(f"template, 2 columns, unique            {per_value(lambda r: tp.render(*r), rows):6.2f} us")


if __name__ == "__main__":
    main()
