"""Every command block in README.md and docs/*.md works as written (issue #30).

The rule, in full in docs/developing.md ("Command blocks in the docs"):

- Every fenced block names its language. sh/bash/shell/console blocks hold commands (console: the lines after
  `$ `); python blocks hold Python; text/json/... blocks hold neither and are not run.
- Each command runs as written, offline, in a temporary working folder (with `export/`, `bench/`, `web/` and
  `saved_models/` linked in, since the docs are read from a checkout), unless the marker on the line right above
  the fence says otherwise. A marker is `<!-- test: CLAUSE; CLAUSE -->`; a clause is one of
    run                       as written (the default)
    smoke FLAGS [small-data]  FLAGS appended (flags the command already has: --epochs, --limit, -n, ...);
                              small-data: ZOO_DATA_DIR holds the first 1,000/100 MNIST images only
    parse (REASON)            checked against the command's real argparse parser, not run
    skip (REASON)             neither run nor parsed (`pip`, a test run inside the tests)
    fragment (REASON)         python only: compiled, not run (the block uses names the reader already has)
    where WORD=VALUE ...      real values for the placeholders of a synopsis (NAME, N, ENCODER)
  and may start with a command prefix in backticks (`` `zoo train`: parse (minutes) ``), the longest matching
  prefix winning over the block's own clause.
- Synopsis notation is read as a user reads it: a word starting with `[` opens an optional part (tried both with
  and without), `a|b` offers alternatives (each tried).
- The quick test parses every command of every block (so a typo'd flag fails even in a parse-only block) and
  checks the markers; the slow test runs what is marked to run. A block the test cannot run and whose marker does
  not say why (a `make` target, `pip`, a placeholder, a python fragment) fails, and so does a marker that is not
  directly above a fence. A command that would replace shipped weights (--publish, --write-card) is never run.
- In python blocks, a statement followed by `# ZooError: MESSAGE` (on its line or the comment lines after it)
  must raise zoo.ZooError with that message.
"""

import argparse
import ast
import builtins
import contextlib
import io
import itertools
import os
import re
import runpy
import shlex
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from conftest import has_mnist, run_zoo_here

ROOT = Path(__file__).resolve().parent.parent
SHELL, PYTHON = {"sh", "bash", "shell", "console"}, {"python", "py"}
NOT_COMMANDS = {"text", "json", "toml", "yaml", "ini", "html", "js", "javascript", "csv", "diff"}
ACTIONS = ("run", "smoke", "parse", "skip", "fragment", "where")
NEEDS_REASON = {"parse", "skip", "fragment"}
# What a command block may read from the checkout, linked into the temporary working folder.
LINKED = ("export", "bench", "web", "saved_models")
# Commands that train: never run as written (a recipe takes minutes to hours); parse them, or smoke --epochs 1.
TRAINING = ("zoo train", "zoo finetune")
# Flags that write into saved_models/: such a command is parsed, never run by the tests.
SHIPPED_WRITERS = ("--publish", "--write-card")
PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_]*$")
FENCE = re.compile(r"^\s*(```|~~~)\s*([\w+-]*)")
MARKER = re.compile(r"^\s*<!--\s*test:\s*(.*?)\s*-->\s*$")


def doc_pages():
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


# -- reading blocks and markers -----------------------------------------------------------------------------------
@dataclass
class Rule:
    action: str
    flags: list = field(default_factory=list)
    reason: str = ""
    small_data: bool = False


@dataclass
class Block:
    where: str                       # "docs/gan.md:41", the opening fence
    lang: str
    text: str
    rules: dict = field(default_factory=dict)     # command prefix ("" for the block) -> Rule
    values: dict = field(default_factory=dict)    # placeholder -> value
    problems: list = field(default_factory=list)  # what is wrong with the block's marker

    def rule(self, command):
        """The rule for one command line: the longest matching prefix's, else the block's, else run."""
        best = max((p for p in self.rules if command == p or command.startswith(p + " ") or not p),
                   key=len, default=None)
        return self.rules[best] if best is not None else Rule("run")


def _clauses(text):
    """The marker's clauses: split at each `;` outside parentheses (a reason may hold one)."""
    out, depth, current = [], 0, ""
    for ch in text + ";":
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == ";" and depth <= 0:
            out.append(current.strip())
            current = ""
        else:
            current += ch
    return [c for c in out if c]


def parse_marker(text, block):
    for clause in _clauses(text):
        m = re.match(r"^(?:`([^`]+)`\s*:?\s*)?(\w[\w-]*)\s*(.*)$", clause)
        if not m or m.group(2) not in ACTIONS:
            block.problems.append(f"marker clause {clause!r}: expected [`PREFIX`:] one of {', '.join(ACTIONS)}")
            continue
        prefix, action, rest = (m.group(1) or "").strip(), m.group(2), m.group(3).strip()
        reason = ""
        r = re.search(r"\(([^()]*)\)\s*$", rest)
        if r:
            reason, rest = r.group(1).strip(), rest[:r.start()].strip()
        if action == "where":
            for pair in rest.split():
                word, sep, value = pair.partition("=")
                if not sep or not word or not value:
                    block.problems.append(f"marker clause {clause!r}: expected where WORD=VALUE ...")
                block.values[word] = value
            continue
        if action in NEEDS_REASON and not reason:
            block.problems.append(f"marker clause {clause!r}: {action} needs a reason in parentheses")
        if action in NEEDS_REASON | {"run"} and rest:
            block.problems.append(f"marker clause {clause!r}: {action} takes no flags")
        flags = shlex.split(rest) if action == "smoke" else []
        small = "small-data" in flags
        flags = [f for f in flags if f != "small-data"]
        if action == "smoke" and not (flags or small):
            block.problems.append(f"marker clause {clause!r}: smoke needs the flags it appends (or small-data)")
        if prefix in block.rules:
            block.problems.append(f"marker clause {clause!r}: a second rule for {prefix or 'the block'}")
        block.rules[prefix] = Rule(action, flags, reason, small)


def read_blocks(page, root=ROOT):
    """Every fenced block of a page, with its marker read, and the markers that sit on no fence."""
    lines = Path(page).read_text(encoding="utf-8").splitlines()
    name = Path(page).resolve().relative_to(Path(root).resolve()).as_posix()
    blocks, stray, i = [], [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if MARKER.match(lines[i]) and not (i + 1 < len(lines) and FENCE.match(lines[i + 1])):
            stray.append(f"{name}:{i + 1}: a test marker must sit on the line right above a fence")
        if not m:
            i += 1
            continue
        start, fence = i, m.group(1)
        body = []
        i += 1
        while i < len(lines) and not re.match(rf"^\s*{re.escape(fence)}\s*$", lines[i]):
            body.append(lines[i])
            i += 1
        block = Block(f"{name}:{start + 1}", m.group(2).lower(), "\n".join(body) + "\n")
        marker = MARKER.match(lines[start - 1]) if start else None
        if marker:
            parse_marker(marker.group(1), block)
        blocks.append(block)
        i += 1
    return blocks, stray


# -- shell commands -----------------------------------------------------------------------------------------------
@dataclass
class Command:
    text: str     # as written, one logical line
    argv: list    # one variant of the synopsis, placeholders filled in
    env: dict


MAX_VARIANTS = 32


def _variants(tokens):
    """Synopsis notation read as a user reads it: each `[...]` part with and without, each `a|b` alternative."""
    items, group = [], None
    for tok in tokens:
        if group is None and tok.startswith("["):
            group, tok = [], tok[1:]
        closes = group is not None and tok.endswith("]") and not re.search(r"=\[[^\]]*\]$", tok)
        tok = tok[:-1] if closes else tok
        if tok:
            choices = [[c] for c in tok.split("|")] if re.fullmatch(r"[\w.-]+(\|[\w.-]+)+", tok) else [[tok]]
            (group if group is not None else items).append(choices)
        if closes:
            items.append([[]] + [sum(p, []) for p in itertools.product(*group)])
            group = None
    if group is not None:
        raise ValueError("a `[` without its `]`")
    variants = [sum(p, []) for p in itertools.product(*items)]
    if len(variants) > MAX_VARIANTS:
        raise ValueError(f"{len(variants)} variants; write it as several lines")
    return variants


def shell_commands(block):
    """The Commands of a shell block: continuation lines joined, comments dropped, split at `&&`/`||`/`;`/`|`,
    leading VAR=value (and `export VAR=value`) taken as the environment, placeholders filled from the marker."""
    text = re.sub(r"\\\n\s*", " ", block.text)
    env, commands = {}, []
    for line in text.splitlines():
        if block.lang == "console":
            if not line.startswith("$ "):
                continue
            line = line[2:]
        lex = shlex.shlex(line, posix=True)
        lex.whitespace_split, lex.commenters = True, "#"
        tokens = [_fill(t, block.values) for t in lex]
        for sep, part in itertools.groupby(tokens, lambda t: t in ("&&", "||", ";", "|")):
            part = list(part)
            if sep:
                continue
            own = {}
            while part and re.match(r"^[A-Za-z_]\w*=", part[0]):
                k, _, v = part.pop(0).partition("=")
                own[k] = v
            if part[:1] == ["export"]:
                env.update(t.partition("=")[::2] for t in part[1:])
                continue
            if part:
                commands += [Command(" ".join(part), argv, {**env, **own}) for argv in _variants(part)]
    return commands


def _fill(token, values):
    for word, value in values.items():
        token = re.sub(rf"(?<![\w]){re.escape(word)}(?![\w])", value, token)
    return token


def placeholders(argv):
    return [p for tok in argv for p in re.split(r"[=,/]", tok) if PLACEHOLDER.match(p)]


def kind(argv):
    """("zoo", args) | ("module", name, args) | ("script", path, args) | ("make", targets) | ("other", argv)."""
    prog = Path(argv[0]).name
    if prog == "zoo":
        return ("zoo", argv[1:])
    if re.fullmatch(r"python(3(\.\d+)?)?", prog):
        if argv[1:2] == ["-m"] and len(argv) > 2:
            return ("zoo", argv[3:]) if argv[2] == "zoo" else ("module", argv[2], argv[3:])
        if len(argv) > 1 and argv[1].endswith(".py"):
            return ("script", argv[1], argv[2:])
    if prog == "make":
        return ("make", argv[1:])
    return ("other", argv)


class _Parsed(Exception):
    """Raised once a parser has accepted a command line: nothing past parsing runs."""


@contextlib.contextmanager
def _quiet():
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        yield err


def check_parses(argv):
    """'' when the command's own parser accepts argv (its --help too), else what it said."""
    what = kind(argv)
    with _quiet() as err:
        try:
            if what[0] == "zoo":
                _parse_zoo(what[1])
            elif what[0] == "make":
                makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
                missing = [t for t in what[1] if not re.search(rf"^{re.escape(t)}\s*:", makefile, re.M)]
                if not what[1] or missing:
                    return f"the Makefile has no target {' '.join(missing) or '(none given)'}"
            elif what[0] in ("module", "script"):
                _parse_python(what)
            else:
                return f"cannot parse or run {argv[0]!r} here; mark it skip (reason)"
        except SystemExit as e:
            if e.code not in (0, None):
                return (err.getvalue().strip().splitlines() or [f"exit {e.code}"])[-1]
    return ""


def _parse_zoo(args):
    from zoo import cli, registry

    parsed = cli.build_parser().parse_args(args)
    if parsed.func is cli.cmd_family:
        # A family command parses the rest of the line with the family's own parser, just before loading.
        load = registry.load
        registry.load = lambda *a, **k: (_ for _ in ()).throw(_Parsed())
        try:
            cli.cmd_family(parsed)
        except _Parsed:
            pass
        finally:
            registry.load = load


@contextlib.contextmanager
def _argv(argv):
    saved = sys.argv
    sys.argv = list(argv)
    try:
        yield
    finally:
        sys.argv = saved


def _run_python(what):
    kind_, target, args = what
    if kind_ == "module":
        with _argv([target, *args]), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # `export.__main__` already imported by other tests
            runpy.run_module(target, run_name="__main__", alter_sys=True)
    else:
        path = ROOT / target if not Path(target).is_absolute() else Path(target)
        with _argv([str(path), *args]):
            runpy.run_path(str(path), run_name="__main__")


def _parse_python(what):
    """Run a script or module only up to its argparse parser: parse_args raises _Parsed once it has accepted."""
    kind_, target, _ = what
    if kind_ == "script":
        source = (ROOT / target).read_text(encoding="utf-8") if (ROOT / target).is_file() else ""
        if not source:
            raise SystemExit(f"{target} does not exist")
        if "parse_args(" not in source:
            raise SystemExit(f"{target} has no argparse parser to check; mark it skip (reason)")
    real = argparse.ArgumentParser.parse_args

    def parse_then_stop(self, args=None, namespace=None):
        real(self, args, namespace)
        raise _Parsed

    argparse.ArgumentParser.parse_args = parse_then_stop
    try:
        _run_python(what)
    except _Parsed:
        return
    finally:
        argparse.ArgumentParser.parse_args = real
    raise SystemExit(f"{target} ran without reaching an argparse parser; mark it skip (reason)")


# -- python blocks ------------------------------------------------------------------------------------------------
def free_names(source):
    """Names a block reads without binding them (nor being builtins): a block with none is self-contained."""
    tree = ast.parse(source)
    bound, read = set(dir(builtins)), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return sorted(read - bound)


def python_source(block):
    return _fill(block.text, block.values)


def expected_errors(source):
    """{statement's first line: the message its `# ZooError: ...` comment gives}."""
    lines = source.splitlines()
    out = {}
    for stmt in ast.parse(source).body:
        span = list(range(stmt.lineno - 1, stmt.end_lineno))
        k = stmt.end_lineno
        while k < len(lines) and lines[k].strip().startswith("#"):
            span.append(k)
            k += 1
        comments = [lines[j].split("#", 1)[1].strip() if "#" in lines[j] else "" for j in span]
        for n, c in enumerate(comments):
            if c.startswith("ZooError:"):
                rest = [c[len("ZooError:"):]] + [x for x in comments[n + 1:] if x and not x.startswith("ZooError")]
                out[stmt.lineno] = " ".join(" ".join(rest).split())
    return out


# -- what every block holds, checked without running anything ------------------------------------------------------
BLOCKS, STRAY = [], []
for _page in doc_pages():
    _blocks, _stray = read_blocks(_page)
    BLOCKS += _blocks
    STRAY += _stray


def static_problems(block):
    """What is wrong with a block before anything runs: its language, its marker, and per command what the rule
    asks that cannot be done. Parsing against the real parsers is check_parses' (in the quick test)."""
    problems = list(block.problems)
    if not block.lang:
        return problems + [f"{block.where}: a fence without a language; say sh, python, or text (not commands)"]
    if block.lang in NOT_COMMANDS:
        return problems + ([f"{block.where}: a {block.lang} block holds no commands: drop its marker"]
                           if block.rules or block.values else [])
    if block.lang not in SHELL | PYTHON:
        return problems + [f"{block.where}: unknown language {block.lang!r}; add it to NOT_COMMANDS if it holds "
                           "no commands"]
    if block.lang in PYTHON:
        rule = block.rules.get("", Rule("run"))
        if set(block.rules) - {""}:
            problems.append(f"{block.where}: a python block takes one rule, for the whole block")
        try:
            free = free_names(python_source(block))
        except SyntaxError as e:
            return problems + [f"{block.where}: not valid Python: {e}"]
        if rule.action in ("run", "smoke") and free:
            problems.append(f"{block.where}: uses {', '.join(free)} without defining them; define them, give "
                            "values with `where NAME=VALUE`, or mark it fragment (reason)")
        if rule.action == "smoke" and rule.flags:
            problems.append(f"{block.where}: a python block takes no flags (smoke small-data only)")
        return problems
    if "fragment" in {r.action for r in block.rules.values()}:
        problems.append(f"{block.where}: fragment is for python blocks")
    commands = shell_commands(block)
    if not commands:
        problems.append(f"{block.where}: a shell block without commands")
    for c in commands:
        rule = block.rule(c.text)
        holes = placeholders(c.argv)
        if holes and rule.action != "skip":
            problems.append(f"{block.where}: `{c.text}`: placeholder {', '.join(sorted(set(holes)))} needs a real "
                            "value: `where WORD=VALUE` in the marker")
        if rule.action in ("run", "smoke"):
            what = kind(c.argv)
            if what[0] in ("make", "other"):
                problems.append(f"{block.where}: `{c.text}` cannot run in the tests; mark it parse (reason) or "
                                "skip (reason)")
            if rule.action == "run" and any(c.text.startswith(t + " ") for t in TRAINING):
                problems.append(f"{block.where}: `{c.text}` trains for minutes; mark it parse (reason) or smoke "
                                "--epochs 1")
            if any(f in c.argv for f in SHIPPED_WRITERS):
                problems.append(f"{block.where}: `{c.text}` writes into saved_models/; mark it parse (reason)")
    used = {p for p in block.rules if p and any(c.text == p or c.text.startswith(p + " ") for c in commands)}
    problems += [f"{block.where}: the marker's `{p}` matches no command" for p in set(block.rules) - used - {""}]
    return list(dict.fromkeys(problems))   # a synopsis' variants repeat its line's problems


def _commands_to(block, actions):
    rule_of = block.rule
    return [(c, rule_of(c.text)) for c in shell_commands(block) if rule_of(c.text).action in actions]


def all_problems(block):
    """What is wrong with a block: its markers and fences, then every command its marker lets run or parse
    against the real parsers."""
    problems = static_problems(block)
    if block.lang in SHELL and not problems:
        for c, rule in _commands_to(block, ("run", "smoke", "parse")):
            said = check_parses(c.argv + rule.flags)
            if said:
                problems.append(f"{block.where}: `{' '.join(c.argv + rule.flags)}`: {said}")
    return problems


def test_the_docs_have_command_blocks_and_no_stray_markers():
    assert not STRAY, "\n".join(STRAY)
    assert sum(b.lang in SHELL for b in BLOCKS) >= 10 and sum(b.lang in PYTHON for b in BLOCKS) >= 5


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.where)
def test_every_command_in_a_block_parses_and_its_marker_says_how_it_is_tested(block):
    problems = all_problems(block)
    assert not problems, "\n".join(problems)


# -- running them -------------------------------------------------------------------------------------------------
def _runnable(block):
    if static_problems(block):
        return False
    if block.lang in PYTHON:
        return block.rules.get("", Rule("run")).action in ("run", "smoke")
    return block.lang in SHELL and bool(_commands_to(block, ("run", "smoke")))


@pytest.fixture(scope="module")
def doc_data(tmp_path_factory):
    """The full offline data, and a small-data copy: the first 1,000 training and 100 test MNIST images."""
    if not has_mnist():
        pytest.skip("needs $ZOO_DATA_DIR/mnist.npz")
    full = Path(os.environ["ZOO_DATA_DIR"])
    small = tmp_path_factory.mktemp("small_data")
    with np.load(full / "mnist.npz", allow_pickle=False) as f:
        np.savez(small / "mnist.npz", x_train=f["x_train"][:1000], y_train=f["y_train"][:1000],
                 x_test=f["x_test"][:100], y_test=f["y_test"][:100])
    for other in full.iterdir():
        if other.name != "mnist.npz":
            (small / other.name).symlink_to(other.resolve())
    return full, small


@pytest.fixture
def doc_workdir(tmp_path, monkeypatch):
    """A temporary working folder that reads the checkout's shipped files, writes runs elsewhere and cannot
    download: the proxies point at a closed local port, so an attempt fails at once instead of waiting."""
    for name in LINKED:
        (tmp_path / name).symlink_to(ROOT / name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ZOO_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("ZOO_MODELS_DIR", str(ROOT / "saved_models"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / ".keras"))
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    return tmp_path


def run_command(argv, env):
    """(exit code, stderr) of one command, in this process."""
    what = kind(argv)
    if what[0] == "zoo":
        code, _, err = run_zoo_here(*what[1], **env)
        return code, err
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        with _quiet() as err:
            try:
                _run_python(what)
            except SystemExit as e:
                return (e.code if isinstance(e.code, int) else (0 if e.code is None else 1)), err.getvalue()
        return 0, err.getvalue()
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)


def run_python_block(block):
    from zoo.errors import ZooError

    source = python_source(block)
    expected = expected_errors(source)
    namespace = {"__name__": "__doc_example__"}
    for stmt in ast.parse(source).body:
        code = compile(ast.Module([stmt], []), f"{block.where} (+{stmt.lineno})", "exec")
        with _quiet():
            if stmt.lineno in expected:
                with pytest.raises(ZooError) as e:
                    exec(code, namespace)
                said = " ".join(str(e.value).split())
                assert expected[stmt.lineno] in said, f"{block.where} (+{stmt.lineno}): the docs say " \
                    f"{expected[stmt.lineno]!r}; it says {said!r}"
            else:
                exec(code, namespace)


@pytest.mark.slow
@pytest.mark.parametrize("block", [b for b in BLOCKS if _runnable(b)], ids=lambda b: b.where)
def test_every_runnable_command_block_runs_offline(block, doc_data, doc_workdir, monkeypatch):
    full, small = doc_data
    if block.lang in PYTHON:
        rule = block.rules.get("", Rule("run"))
        monkeypatch.setenv("ZOO_DATA_DIR", str(small if rule.small_data else full))
        run_python_block(block)
        return
    for c, rule in _commands_to(block, ("run", "smoke")):
        monkeypatch.setenv("ZOO_DATA_DIR", str(small if rule.small_data else full))
        argv = c.argv + rule.flags
        code, err = run_command(argv, c.env)
        assert code == 0, f"{block.where}: `{' '.join(argv)}` exited {code}: {err.strip()[-2000:]}"


# -- the checker catches what it should ---------------------------------------------------------------------------
def _block_of(tmp_path, text):
    page = tmp_path / "page.md"
    page.write_text(text, encoding="utf-8")
    blocks, stray = read_blocks(page, tmp_path)
    return blocks, stray


@pytest.mark.parametrize("text, expected", [
    ("```\nzoo list\n```\n", "a fence without a language"),
    ("```sh\npip install .\n```\n", "cannot run in the tests"),
    ("```sh\nmake demo\n```\n", "cannot run in the tests"),
    ("<!-- test: parse (slow) -->\n```sh\nmake no-such-target\n```\n", "the Makefile has no target no-such-target"),
    ("<!-- test: parse (slow) -->\n```sh\nzoo sample vae_mnist --nn 4\n```\n", "unrecognized arguments: --nn"),
    ("<!-- test: parse (slow) -->\n```sh\nzoo sampel vae_mnist\n```\n", "invalid choice: 'sampel'"),
    ("<!-- test: parse (slow) -->\n```sh\nzoo generate char_lstm_shakespeare --lenght 5\n```\n",
     "unrecognized arguments: --lenght"),
    ("<!-- test: parse (slow) -->\n```sh\npython -m export vae_mnist --quantize int4\n```\n", "invalid value 'int4'"),
    ("<!-- test: parse (slow) -->\n```sh\npython export/examples/run_decoder.py\n```\n", "the following arguments"),
    ("```sh\nzoo pictures NAME\n```\n", "placeholder NAME needs a real value"),
    ("<!-- test: where NAME=vae_mnist -->\n```sh\nzoo train NAME [--epochs N]\n```\n", "placeholder N needs"),
    ("<!-- test: parse -->\n```sh\nzoo list\n```\n", "parse needs a reason"),
    ("<!-- test: smoke -->\n```sh\nzoo list\n```\n", "smoke needs the flags"),
    ("<!-- test: rnu -->\n```sh\nzoo list\n```\n", "expected [`PREFIX`:] one of"),
    ("<!-- test: `zoo tarin`: parse (slow) -->\n```sh\nzoo train ae_mnist\n```\n", "`zoo tarin` matches no command"),
    ("```sh\nzoo train ae_mnist --publish\n```\n", "writes into saved_models/"),
    ("```sh\nzoo finetune ae_mnist --labels 100\n```\n", "trains for minutes"),
    ("<!-- test: `zoo tarin`: parse (slow; very) -->\n```sh\nzoo train ae_mnist\n```\n", "trains for minutes"),
    ("<!-- test: smoke --limit 5 -->\n```sh\nzoo evaluate ae_mnist --write-card\n```\n", "writes into saved_models/"),
    ("```python\nm = zoo.load('ae_mnist')\nm.encode(x)\n```\n", "uses x, zoo without defining them"),
    ("```python\ndef broken(:\n```\n", "not valid Python"),
    ("```ruby\nputs 1\n```\n", "unknown language"),
], ids=lambda v: v if not v.endswith("```\n") else "")
def test_the_checker_refuses_blocks_it_cannot_vouch_for(tmp_path, text, expected):
    (block,), _ = _block_of(tmp_path, text)
    problems = all_problems(block)
    assert any(expected in p for p in problems), problems


def test_the_checker_accepts_what_it_should_and_reads_synopses_as_users_do(tmp_path):
    blocks, stray = _block_of(tmp_path, "\n".join([
        "<!-- test: where NAME=vae_mnist N=2; `zoo train`: parse (minutes); `zoo sample`: smoke -n 4 -->",
        "```sh",
        "zoo list ['*vae*']          # a comment, # not a command",
        "zoo train NAME [--epochs N] --strategy mirrored|multiworker",
        "ZOO_X=1 zoo sample NAME && zoo info NAME",
        "```",
        "<!-- test: fragment (x is the reader's) -->",
        "```python",
        "model.encode(x)",
        "```",
        "<!-- test: skip (not a fence below) -->",
        "",
        "```text",
        "zoo/   the package",
        "```",
    ]) + "\n")
    assert stray == ["page.md:11: a test marker must sit on the line right above a fence"]
    sh, py, txt = blocks
    assert [all_problems(b) for b in blocks] == [[], [], []]
    argvs = [c.argv for c in shell_commands(sh)]
    assert argvs == [
        ["zoo", "list"], ["zoo", "list", "*vae*"],
        ["zoo", "train", "vae_mnist", "--strategy", "mirrored"], ["zoo", "train", "vae_mnist", "--strategy", "multiworker"],
        ["zoo", "train", "vae_mnist", "--epochs", "2", "--strategy", "mirrored"],
        ["zoo", "train", "vae_mnist", "--epochs", "2", "--strategy", "multiworker"],
        ["zoo", "sample", "vae_mnist"], ["zoo", "info", "vae_mnist"]], argvs
    assert shell_commands(sh)[-2].env == {"ZOO_X": "1"}
    rules = {c.argv[1]: sh.rule(c.text) for c in shell_commands(sh)}
    assert (rules["train"].action, rules["sample"].action, rules["sample"].flags, rules["list"].action) == \
        ("parse", "smoke", ["-n", "4"], "run")
    assert not _runnable(py) and not _runnable(txt) and _runnable(sh)


def test_expected_errors_are_read_from_the_comment_after_a_statement():
    source = "\n".join([
        "a = 1",
        "f(a)   # ZooError: one line, said",
        "       #           over two",
        "g(a)",
        "# ZooError: the next line",
        "h(a)",
        "# [[ 0 1 ]]   (output, not an error)",
    ])
    assert expected_errors(source) == {2: "one line, said over two", 4: "the next line"}
    assert free_names(source) == ["f", "g", "h"]
