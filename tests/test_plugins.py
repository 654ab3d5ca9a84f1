"""Third-party mutations (issue #15): a .py file with --plugin, and an installed package found
through its entry point (a real dist-info on PYTHONPATH, read by importlib.metadata), listed by
`dumpmask transformers` (--json too) and used by a masking run; plugins that fail stop the run
with exit 2 naming the plugin."""
from __future__ import annotations

import json
import textwrap

import pytest

PLUGIN = textwrap.dedent('''
    """A dumpmask plugin: initials."""
    from dumpmask.transformers import Param, Transformer, register


    @register
    class Initials(Transformer):
        """The first letter of each word, each followed by `dot`."""

        name = "initials"
        kinds = ("text",)
        params = {"dot": Param(str, "what follows each letter", ".")}

        def __call__(self, value):
            if value is None:
                return None
            return "".join(w[0] + self.options["dot"] for w in value.split())
''')

DUMP = ("CREATE TABLE public.p (id integer, name text);\n"
        "COPY public.p (id, name) FROM stdin;\n1\tAnna Maria Smith\n2\t\\N\n\\.\n").encode()
RULES = {"tables": [{"tableName": "p", "columnMutations": [
    {"column": "name", "mutation": "initials", "options": {"dot": "_"}}]}]}


def _files(tmp_path, source=PLUGIN, name="initials_plugin.py"):
    (tmp_path / name).write_text(source)
    (tmp_path / "r.json").write_text(json.dumps(RULES))
    return tmp_path / name


def test_a_py_file_given_with_plugin_masks_and_is_listed(tmp_path, dm):
    path = _files(tmp_path)
    r = dm("--plugin", path, "-c", tmp_path / "r.json", input=DUMP)
    assert r.returncode == 0, r.stderr.decode()
    assert b"1\tA_M_S_\n2\t\\N\n" in r.stdout
    listed = dm("transformers", "--plugin", path)
    assert listed.returncode == 0 and b"initials  [plugin " in listed.stdout
    described = json.loads(dm("transformers", "--json", "--plugin", path).stdout)
    mine = next(m for m in described if m["name"] == "initials")
    assert mine["params"][0]["name"] == "dot" and mine["plugin"].startswith("plugin ")
    without = dm("-c", tmp_path / "r.json", input=DUMP)
    assert without.returncode == 2 and "unknown mutation 'initials'" in without.stderr.decode()


def test_a_plugin_with_jobs_and_the_schema_generator(tmp_path, dm):
    import subprocess
    import sys

    from conftest import REPO

    path = _files(tmp_path)
    big = DUMP.replace(b"\\.\n", b"".join(b"%d\tBob Lee\n" % i for i in range(3, 150_000)) + b"\\.\n")
    one = dm("--plugin", path, "-c", tmp_path / "r.json", input=big)
    two = dm("--plugin", path, "-c", tmp_path / "r.json", "-j", "2", input=big)
    assert one.returncode == two.returncode == 0 and one.stdout == two.stdout
    schema = subprocess.run([sys.executable, str(REPO / "scripts" / "rules_schema.py"), "--plugin", str(path)],
                            capture_output=True, cwd=REPO, check=True).stdout
    assert b'"const": "initials"' in schema


@pytest.mark.parametrize("source, says", [
    ("raise ImportError('no libfoo')\n", "cannot load it: ImportError: no libfoo"),
    (PLUGIN.replace('name = "initials"', 'name = "hash"'), "duplicate transformer name 'hash'"),
    (PLUGIN.replace('"""The first letter of each word, each followed by `dot`."""', ""), "no help text"),
    (PLUGIN.replace('Param(str, "what follows each letter", ".")', '"."'), "not declared with Param"),
    ("X = 1\n", "registers no mutation"),
])
def test_a_plugin_that_fails_stops_the_run_naming_it(tmp_path, dm, source, says):
    path = _files(tmp_path, source, "bad_plugin.py")
    r = dm("--plugin", path, "-c", tmp_path / "r.json", input=DUMP)
    err = r.stderr.decode()
    assert r.returncode == 2 and says in err and "bad_plugin.py" in err and "Traceback" not in err, err
    assert b"COPY" not in r.stdout


def _installed(tmp_path, value="initials_ep_mod"):
    """A package as pip installs it: its module and a dist-info with an entry point."""
    site = tmp_path / "site"
    (site / "dumpmask_initials-1.0.dist-info").mkdir(parents=True)
    (site / "initials_ep_mod.py").write_text(PLUGIN)
    info = site / "dumpmask_initials-1.0.dist-info"
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: dumpmask-initials\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[dumpmask.transformers]\ninitials = {value}\n")
    (tmp_path / "r.json").write_text(json.dumps(RULES))
    return site


def test_an_installed_entry_point_is_found_listed_and_used(tmp_path, dm):
    site = _installed(tmp_path)
    env = {"PYTHONPATH": site}
    r = dm("-c", tmp_path / "r.json", input=DUMP, env=env)
    assert r.returncode == 0, r.stderr.decode()
    assert b"1\tA_M_S_\n" in r.stdout
    listed = dm("transformers", env=env).stdout.decode()
    assert "initials  [entry point initials = initials_ep_mod (package dumpmask-initials)]" in listed
    by_class = _installed(tmp_path / "cls", "initials_ep_mod:Initials")
    assert dm("-c", tmp_path / "cls" / "r.json", input=DUMP, env={"PYTHONPATH": by_class}).returncode == 0


def test_a_broken_entry_point_stops_the_run_naming_it(tmp_path, dm):
    site = _installed(tmp_path, "no_such_module_here")
    r = dm("-c", tmp_path / "r.json", input=DUMP, env={"PYTHONPATH": site})
    err = r.stderr.decode()
    assert r.returncode == 2 and "entry point initials = no_such_module_here" in err and "dumpmask-initials" in err
    # a run naming only built-ins does not read the entry points
    (tmp_path / "ok.json").write_text(json.dumps({"tables": [{"tableName": "p", "columnMutations": [
        {"column": "name", "mutation": "redact"}]}]}))
    assert dm("-c", tmp_path / "ok.json", input=DUMP, env={"PYTHONPATH": site}).returncode == 0


def test_preview_takes_plugin_too(tmp_path, dm):
    path = _files(tmp_path)
    r = dm("preview", "--plugin", path, "-c", tmp_path / "r.json", input=DUMP)
    assert r.returncode == 0, r.stderr.decode()
    assert "A_M_S_" in r.stdout.decode()


RUNTIME_BAD = {
    "raises": ('raise ValueError("cannot handle " + value)', "raised ValueError"),
    "wrong_type": ("return len(value)", "returned int"),
    "bytes": ("return value.encode()", "returned bytes"),
}
MY_DUMP = ("CREATE TABLE `p` (`id` int NOT NULL, `name` text, PRIMARY KEY (`id`));\n"
           "INSERT INTO `p` VALUES (1,'Anna Maria Smith'),(2,NULL);\n").encode()


def _run_plugin_body(tmp_path, dm, body: str, name: str, dump: bytes):
    """Mask `dump` with the example plugin whose mutation's body is `body` (file `name`):
    -> (the completed run, the input's path)."""
    source = PLUGIN.replace('return "".join(w[0] + self.options["dot"] for w in value.split())', body)
    assert source != PLUGIN
    path = _files(tmp_path, source, name)
    src = tmp_path / "in.sql"
    src.write_bytes(dump)
    return dm("--plugin", path, "-c", tmp_path / "r.json", src), src


@pytest.mark.parametrize("dump", [DUMP, MY_DUMP], ids=["pg-copy", "mysql-insert"])
@pytest.mark.parametrize("bad", sorted(RUNTIME_BAD))
def test_a_plugin_failing_at_run_time_exits_1_naming_plugin_column_and_line(tmp_path, dm, bad, dump):
    body, says = RUNTIME_BAD[bad]
    r, src = _run_plugin_body(tmp_path, dm, body, "runtime_plugin.py", dump)
    err = r.stderr.decode()
    assert r.returncode == 1, err                      # not 70 (internal error), not 2
    assert "Traceback" not in err and "internal error" not in err
    assert says in err and "runtime_plugin.py" in err and "'initials'" in err and "'name'" in err
    assert f"{src}:" in err and "p" in err and "row 1" in err
    assert "Anna" not in err and "Smith" not in err   # never the value
    assert r.stdout.rstrip().endswith(b"DUMPMASK_ABORTED_THE_DUMP_IS_INCOMPLETE;")


@pytest.mark.parametrize("dump", [
    ("CREATE TABLE public.p (id integer, name character varying(20));\n"
     "COPY public.p (id, name) FROM stdin;\n1\tAnna Maria Smith\n2\t\\N\n\\.\n").encode(),
    ("CREATE TABLE `p` (`id` int NOT NULL, `name` varchar(20), PRIMARY KEY (`id`));\n"
     "INSERT INTO `p` VALUES (1,'Anna Maria Smith'),(2,NULL);\n").encode()], ids=["pg-copy", "mysql-insert"])
def test_a_plugin_result_longer_than_the_column_stops_the_row(tmp_path, dm, dump):
    # the restore would refuse it (MySQL in non-strict mode would truncate it): never written
    r, src = _run_plugin_body(tmp_path, dm, "return value * 3", "long_plugin.py", dump)
    err = r.stderr.decode()
    assert r.returncode == 1, err
    assert "longer than the column's 20 characters" in err and "long_plugin.py" in err and f"{src}:" in err
    assert "Anna" not in err and b"Anna Maria SmithAnna" not in r.stdout
    assert r.stdout.rstrip().endswith(b"DUMPMASK_ABORTED_THE_DUMP_IS_INCOMPLETE;")
    # a result that fits is written
    ok, _src = _run_plugin_body(tmp_path, dm, "return value[:20]", "fits_plugin.py", dump)
    assert ok.returncode == 0, ok.stderr.decode()
