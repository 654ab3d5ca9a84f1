"""Run golden cases (see cases.py): record a manifest, or compare against one.

    python tests/golden/run.py record            # write tests/golden/manifest.json
    python tests/golden/run.py compare [--keep DIR]  # exit 1 and list the cases that differ
"""
from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))
from cases import GOLDEN_KEY, cases, normalise_audit  # noqa: E402

MANIFEST = HERE / "manifest.json"


def datasets_dir() -> Path:
    sys.path.insert(0, str(HERE.parent))
    from conftest import datasets_dir as find

    d = find()
    if d is None:
        raise SystemExit("golden: datasets not found (set DUMPMASK_DATASETS)")
    return d


def run_case(case, scratch: Path, keep: Path | None = None) -> dict:
    name, args, stdin = case
    work = Path(tempfile.mkdtemp(prefix=f"golden-{name}-", dir=scratch))
    for link, target in (("ds", datasets_dir()), ("g", HERE), ("fx", REPO / "fixtures")):
        (work / link).symlink_to(target)
    masking = args[0] == "mask"
    argv = list(args) + (["-o", "out.sql", "--audit", "audit.json"] if masking else [])
    env = dict(os.environ, DUMPMASK_KEY=GOLDEN_KEY, PYTHONPATH=str(REPO), COLUMNS="100")
    env.pop("DUMPMASK_KEY_FILE", None)
    with open(work / stdin, "rb") if stdin else open(os.devnull, "rb") as fin:
        p = subprocess.run([sys.executable, "-m", "dumpmask", *argv], stdin=fin, cwd=work, env=env,
                           capture_output=True, timeout=900)
    result = {"exit": p.returncode, "stdout": hashlib.sha256(p.stdout).hexdigest()}
    if masking:
        out = work / "out.sql"
        result["output"] = hashlib.sha256(out.read_bytes()).hexdigest() if out.exists() else None
        au = work / "audit.json"
        if au.exists():
            audit = normalise_audit(json.loads(au.read_bytes()))
            result["audit"] = hashlib.sha256(json.dumps(audit, sort_keys=True).encode()).hexdigest()
            if keep is not None:
                (keep / f"{name}.audit.json").write_text(json.dumps(audit, sort_keys=True, indent=1))
        else:
            result["audit"] = None
        if keep is not None and out.exists():
            (keep / f"{name}.out.sql").write_bytes(out.read_bytes())
    if keep is not None:
        (keep / f"{name}.stdout").write_bytes(p.stdout)
        (keep / f"{name}.stderr").write_bytes(p.stderr)
    return result


def run_all(keep: Path | None = None, jobs: int = 2) -> dict:
    with tempfile.TemporaryDirectory(prefix="golden-") as scratch:
        with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
            futs = {c[0]: pool.submit(run_case, c, Path(scratch), keep) for c in cases()}
            return {n: f.result() for n, f in futs.items()}


def differences(expected: dict, got: dict) -> list[str]:
    out = []
    for name in sorted(set(expected) | set(got)):
        e, g = expected.get(name), got.get(name)
        if e != g:
            fields = sorted(k for k in set(e or {}) | set(g or {}) if (e or {}).get(k) != (g or {}).get(k))
            out.append(f"{name}: {', '.join(fields) or 'missing'} differ")
    return out


def main(argv):
    keep = None
    if "--keep" in argv:
        keep = Path(argv[argv.index("--keep") + 1])
        keep.mkdir(parents=True, exist_ok=True)
    got = run_all(keep)
    if argv[:1] == ["record"]:
        MANIFEST.write_text(json.dumps(got, sort_keys=True, indent=1) + "\n")
        print(f"golden: recorded {len(got)} cases in {MANIFEST}")
        return 0
    diff = differences(json.loads(MANIFEST.read_text()), got)
    for d in diff:
        print(d)
    print(f"golden: {len(got)} cases, {len(diff)} differ")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
