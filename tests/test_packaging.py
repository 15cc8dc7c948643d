"""What a user gets from `pip install .` and from the commands that only list or describe.

- Every third-party package that zoo/ and export/ import is declared in pyproject.toml's dependencies (found by
  parsing every import, then mapping it to its distribution with importlib.metadata), so `pip install .` works
  without requirements.txt. .ci/clean_install proves it end to end in a fresh virtual environment.
- `zoo --help`, `zoo list`, `zoo info NAME`, `python -m export --help` and `import zoo` import no TensorFlow (a
  fresh process reports which heavy modules are loaded afterwards). bench/cli_speed.py times them.
- A family that fails to import is named, and the others still work.
"""

import ast
import json
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from conftest import ROOT, run_zoo, user_lines, zoo_env

HEAVY = ("tensorflow", "keras", "tensorflow_probability", "matplotlib", "scipy", "sklearn", "gymnasium")


def _requirement_name(spec):
    return re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0].strip().lower().replace("_", "-")


def third_party_imports(folders):
    """{top-level module: [files]} of every absolute import outside the standard library and the repo."""
    found = {}
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    local = (path.parent / f"{top}.py").is_file()   # a script's sibling (export/examples)
                    if top not in sys.stdlib_module_names and top not in ("zoo", "export", "__future__") and not local:
                        found.setdefault(top, []).append(str(path.relative_to(ROOT)))
    return found


def test_every_imported_package_is_declared_in_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_requirement_name(s) for s in project["dependencies"]}
    optional = {_requirement_name(s) for specs in project.get("optional-dependencies", {}).values() for s in specs}
    distributions = metadata.packages_distributions()
    imports = third_party_imports(["zoo", "export"])
    assert {"tensorflow", "keras", "numpy", "scipy", "sklearn", "gymnasium"} <= set(imports)   # the parse sees them
    missing = {}
    for top, files in imports.items():
        names = {d.lower().replace("_", "-") for d in distributions.get(top, [top])}
        if not names & (declared | optional):
            missing[top] = (sorted(names), files[:3])
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"
    # and what only an extra provides is imported by no module at its top (pip install . alone must import)
    for path in [p for p in (ROOT / "zoo").rglob("*.py")]:
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                name = (node.names[0].name if isinstance(node, ast.Import) else node.module or "").split(".")[0]
                dists = {d.lower() for d in distributions.get(name, [])}
                assert not (dists & optional) or dists & declared, f"{path}: imports {name}, only an extra"


def test_the_checker_sees_a_missing_declaration(tmp_path, monkeypatch):
    """The check above can fail: a module importing a package pyproject does not name is found."""
    folder = tmp_path / "pkg"
    folder.mkdir()
    (folder / "m.py").write_text("import os\nimport hypothesis.strategies\nfrom zoo import io\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert third_party_imports(["pkg"]) == {"hypothesis": ["pkg/m.py"]}


def heavy_modules_after(code, **env):
    """Run code in a fresh interpreter; the heavy modules it left imported, and its output."""
    probe = (f"{code}\nimport sys, json\n"
             f"print('\\nHEAVY=' + json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))")
    p = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=zoo_env(**env), capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    heavy = json.loads(p.stdout.rsplit("HEAVY=", 1)[1])
    return heavy, p.stdout


@pytest.mark.parametrize("argv", [["list"], ["list", "*vae*"], ["info", "ae_mnist"], ["--help"], ["info", "--help"]])
def test_listing_and_describing_import_no_tensorflow(argv):
    code = ("import zoo.cli\ntry:\n    zoo.cli.main(" + repr(argv) + ")\nexcept SystemExit as e:\n"
            "    assert e.code in (0, None), e.code\n")
    heavy, out = heavy_modules_after(code)
    assert heavy == [], f"zoo {' '.join(argv)} imported {heavy}"
    assert out.strip()   # and it said something


def test_list_and_info_say_what_the_registry_holds():
    """Read without TensorFlow, yet the same as the presets and the shipped card."""
    from zoo import registry

    _, out = heavy_modules_after("import zoo.cli\nzoo.cli.main(['list'])")
    listed = [line.split()[0] for line in out.splitlines() if line.strip() and not line.startswith("HEAVY=")]
    assert listed == registry.list_models()
    _, out = heavy_modules_after("import zoo.cli\nzoo.cli.main(['info', 'vae_mnist'])")
    info = json.loads(out.rsplit("HEAVY=", 1)[0])
    card = json.loads((ROOT / "saved_models" / "vae_mnist" / "card.json").read_text())
    assert info["card"]["metrics"] == card["metrics"] and info["family"] == "vae"


def test_import_zoo_is_cheap_until_a_model_is_touched():
    heavy, _ = heavy_modules_after("import zoo\nassert zoo.list_models('*vae*')\nzoo.model_card('ae_mnist')")
    assert heavy == []


@pytest.mark.slow
def test_touching_a_model_class_imports_tensorflow_then():
    """The probe above can see TensorFlow: the first model class read through `zoo` imports it."""
    heavy, _ = heavy_modules_after("import zoo\nzoo.Autoencoder")
    assert "tensorflow" in heavy and "keras" in heavy


def test_export_help_imports_no_tensorflow():
    code = "import sys\nsys.argv = ['export', '--help']\nimport runpy\ntry:\n    runpy.run_module('export', run_name='__main__')\nexcept SystemExit as e:\n    assert e.code in (0, None)\n"
    heavy, out = heavy_modules_after(code)
    assert heavy == [] and "--quantize" in out


def test_presets_files_import_no_tensorflow():
    heavy, _ = heavy_modules_after("import zoo.families as f\nassert f.LAZY and not f.FAMILIES, (f.LAZY, f.FAMILIES)")
    assert heavy == []


def test_a_family_that_fails_to_import_is_named_and_the_others_still_work():
    code, out, err = run_zoo("list", ZOO_FAMILIES="no_such_family_module")
    assert code == 0 and "ae_mnist" in out
    assert user_lines(err) == [line for line in user_lines(err) if "no_such_family_module" in line] != []


def test_a_lazy_family_that_breaks_on_import_is_one_line(monkeypatch):
    from zoo import families
    from zoo.errors import ZooError

    monkeypatch.setitem(families.LAZY, "phantom", "zoo.families.no_such_module")
    monkeypatch.setitem(families.PRESETS, "phantom_model", {"class": "X", "family": "phantom", "config": {},
                                                            "data": None, "description": ""})
    with pytest.raises(ZooError, match="family phantom: its module zoo.families.no_such_module failed to import"):
        families.resolve(families.PRESETS["phantom_model"])
    monkeypatch.delitem(families.BROKEN, "phantom", raising=False)


FAMILY_TESTS = {"autoencoder": "test_autoencoder.py", "vae": "test_vae.py", "classifier": "test_classifier.py",
                "perceptron": "test_perceptron.py", "wordvec": "test_wordvec.py", "energy": "test_energy.py",
                "recurrent": "test_recurrent.py", "gan": "test_gan.py", "rl": "test_rl.py"}


def quick_tests(path):
    """Names of the test functions in a file that carry no slow marker (read from the source)."""
    names = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            marks = [ast.unparse(d) for d in node.decorator_list]
            if not any("mark.slow" in m for m in marks):
                names.append(node.name)
    return names


def test_the_quick_subset_touches_every_family():
    """`pytest -m "not slow"` keeps tests of every family (each family's own test file), and every family of
    the zoo has one."""
    from zoo import families

    assert set(FAMILY_TESTS) == set(families.LAZY) | set(families.FAMILIES)
    for family, name in FAMILY_TESTS.items():
        assert len(quick_tests(ROOT / "tests" / name)) >= 3, f"{family}: too few quick tests in {name}"
