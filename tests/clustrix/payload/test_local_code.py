"""Which modules a payload needs, which of them are the user's own, and their archives."""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import zipfile

import pytest
from shiplab_copy import shiplab_on_path

from clustrix.errors import ConfigError, PreflightError
from clustrix.payload.code_archive import build_archive, build_archives
from clustrix.payload.codec import Call, dump_array, dump_call
from clustrix.payload.local_code import LocalModule, is_installed_path, local_module, local_modules
from clustrix.payload.pickle_refs import code_imports, refs_of_payload

KEY = b"k" * 32


@pytest.fixture
def shiplab(tmp_path):
    with shiplab_on_path(tmp_path / "client") as src:
        yield src


def test_a_by_reference_function_records_its_module_and_its_body_imports(shiplab):
    from shiplab.analysis import fit

    refs = refs_of_payload(dump_call(Call(fit, (1,)), KEY))
    assert refs is not None and not refs.by_value
    assert {"shiplab.analysis", "shiplab.util"} <= refs.modules  # util: imported inside fit's body


def test_by_value_code_is_flagged_with_the_modules_it_uses(shiplab):
    from shiplab.analysis import Point

    def local(p):
        import xml.dom  # noqa: F401 - recorded from the bytecode

        return json.dumps(p.x)

    refs = refs_of_payload(dump_array(local, [[((Point(1),), {})]], KEY))
    assert refs is not None and refs.by_value
    assert {"json", "xml.dom", "shiplab.analysis"} <= refs.modules  # a global, a body import, an argument's class


def test_a_function_decorated_in_its_module_travels_by_reference_to_the_original(shiplab):
    from shiplab.jobs import decorated

    blob = dump_call(Call(decorated.__wrapped__, (1,)), KEY)
    refs = refs_of_payload(blob)
    assert refs is not None and not refs.by_value and "shiplab.jobs" in refs.modules
    from clustrix.payload.codec import load_call

    assert load_call(blob, KEY).fn is decorated.__wrapped__  # loaded by name, then unwrapped


def test_recording_changes_nothing_in_the_pickle(shiplab):
    import collections
    import decimal

    import cloudpickle
    from shiplab.analysis import Point, fit

    from clustrix.payload.pickle_refs import PickleRefs, dumps_recording

    def local(x):
        return fit(x)

    objects = [[Point(i) for i in range(50)], {"fit": fit, "f": local, "cls": Point},
               (decimal.Decimal("1.5"), collections.OrderedDict(a=1), json, len, b"x" * 10)]
    for obj in objects:
        assert dumps_recording(obj, PickleRefs(), -1) == cloudpickle.dumps(obj, protocol=-1)


def test_payloads_of_other_makers_record_nothing():
    assert refs_of_payload(b"\x00payload") is None
    assert refs_of_payload(b"") is None


def test_relative_imports_resolve_against_the_package():
    code = compile("from . import util\nfrom .sub import x\nimport os.path\n", "<t>", "exec")
    assert code_imports(code, package="mylab") == {"mylab", "mylab.sub", "os.path"}
    assert code_imports(code) == {"os.path"}  # no package known: relative ones are skipped


def test_discovery_keeps_the_users_top_levels_and_follows_their_imports(shiplab):
    from shiplab.analysis import fit

    refs = refs_of_payload(dump_call(Call(fit, (1,)), KEY))
    found = local_modules(refs.modules)
    # shiphelpers is imported at the top of shiplab/analysis.py: found through the loaded module.
    assert [m.name for m in found] == ["shiphelpers", "shiplab"]
    assert found[1] == LocalModule("shiplab", (str(shiplab / "shiplab"),), True)
    assert found[0].paths == (str(shiplab / "shiphelpers.py"),) and not found[0].is_package


def test_installed_and_standard_modules_are_never_local():
    import yaml

    for name in ("json", "os", "sys", "yaml", "cloudpickle", "clustrix", "clustrix_sim", "pytest_clustrix",
                 "__main__", "no_such_module_anywhere"):
        assert local_module(name) is None, name
    assert is_installed_path(yaml.__file__)
    assert is_installed_path("/somewhere/lib/python3.11/site-packages/pkg/__init__.py")


def test_ship_modules_must_name_local_importable_modules(shiplab):
    # Not imported yet here: shiplab alone (its imports are followed through its loaded modules).
    assert [m.name for m in local_modules([], always=["shiplab.util"])] == ["shiplab"]
    import shiplab.analysis  # noqa: F401 - now its module-level import of shiphelpers is known

    assert [m.name for m in local_modules([], always=["shiplab.util"])] == ["shiphelpers", "shiplab"]
    with pytest.raises(ConfigError, match="'nonexistent_mod', which is not importable here"):
        local_modules([], always=["nonexistent_mod"])
    with pytest.raises(ConfigError, match="'yaml', which is not local code"):
        local_modules([], always=["yaml"])


def test_archives_hold_the_package_and_its_data_but_no_secrets_or_caches(shiplab):
    pkg = shiplab / "shiplab"
    (pkg / ".env").write_text("TOKEN=secret\n")
    (pkg / ".git").mkdir()
    (pkg / ".git" / "config").write_text("[remote]\n")
    (pkg / "__pycache__").mkdir()
    (pkg / "__pycache__" / "util.cpython-311.pyc").write_bytes(b"\x00")
    (pkg / "venv").mkdir()
    (pkg / "venv" / "pyvenv.cfg").write_text("home = /usr\n")
    (pkg / "env.py").write_text("X = 1\n")  # a module that merely starts like "env"
    archive = build_archive(local_module("shiplab"))
    names = zipfile.ZipFile(io.BytesIO(archive.data)).namelist()
    assert names == sorted(["shiplab/__init__.py", "shiplab/analysis.py", "shiplab/data/table.csv",
                            "shiplab/env.py", "shiplab/jobs.py", "shiplab/util.py"])
    assert archive.sha256 == hashlib.sha256(archive.data).hexdigest()
    assert archive.dir_name == f"shiplab-{archive.sha256[:24]}"


def test_archives_are_deterministic_and_change_with_the_code(shiplab):
    first = build_archive(local_module("shiplab"))
    again = build_archive(local_module("shiplab"))
    assert again is first  # cached while no file changed
    (shiplab / "shiplab" / "util.py").write_text("def double(x):\n    return x + x\n")
    changed = build_archive(local_module("shiplab"))
    assert changed.sha256 != first.sha256
    os.utime(shiplab / "shiplab" / "util.py", ns=(1, 1))  # touched, same bytes: same content hash
    assert build_archive(local_module("shiplab")).sha256 == changed.sha256


def test_too_much_code_is_refused_naming_the_largest_files(shiplab):
    (shiplab / "shiplab" / "data" / "big.bin").write_bytes(os.urandom(300_000))
    with pytest.raises(PreflightError) as info:
        build_archives([local_module("shiplab")], max_mb=0.25)
    text = str(info.value)
    assert "above the 0.25 MB limit" in text and "shiplab/data/big.bin (0.3 MB)" in text
    assert "ship_local_code: false" in text


def test_the_extract_script_unpacks_atomically_and_checks_the_hash(shiplab, tmp_path):
    import subprocess

    from clustrix.payload.code_archive import EXTRACT_SCRIPT, extract_args

    archives = [build_archive(local_module(name)) for name in ("shiplab", "shiphelpers")]
    root = tmp_path / "remote" / ".clustrix-code"
    targets = [(str(root / a.dir_name), a) for a in archives]

    def run(args, data):
        return subprocess.run([sys.executable, "-c", EXTRACT_SCRIPT, *args], input=data, capture_output=True,
                              timeout=60)

    args, data = extract_args(targets)
    bad = run(args[:1] + ["0" * 64] + args[2:], data)
    assert bad.returncode == 3 and b"damaged in transit" in bad.stderr and not root.exists()
    assert run(args, data).returncode == 0
    assert (root / archives[0].dir_name / "shiplab" / "data" / "table.csv").read_text() == "a\nb\n"
    assert (root / archives[1].dir_name / "shiphelpers.py").exists()
    assert oct((root / archives[0].dir_name / "shiplab" / "util.py").stat().st_mode & 0o777) == "0o600"
    assert run(args, data).returncode == 0  # already there: nothing to do
    assert sorted(os.listdir(root)) == sorted(a.dir_name for a in archives)  # no temporary dir left behind
