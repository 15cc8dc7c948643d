"""The documentation holds together: README.md is a short front page, every page in docs/ is linked from it, and
every relative link and #anchor in README.md and docs/*.md points at a file that exists and a heading it has.

Anchors are GitHub's: a heading's text, lowercased, with everything but letters, digits, '_', '-' and spaces
dropped, and spaces turned into '-'; a repeated heading gets -1, -2, ... External (http, https, mailto) links are
not fetched. Headings and links inside fenced code blocks and inline code do not count.
"""

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
MAX_README_LINES = 300

FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
# [text](target) or ![alt](target), with an optional "title"; the text may hold one level of brackets.
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^\s()<>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
INLINE_CODE = re.compile(r"(`+).*?\1")
EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")  # http:, https:, mailto:, ...


def doc_pages():
    return [README, *sorted(DOCS.glob("*.md"))]


def prose_lines(text):
    """(line number, line) outside fenced code blocks."""
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


def slug(heading):
    """GitHub's anchor for a heading's Markdown text."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading keeps its text
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(text):
    seen, out = {}, set()
    for _, line in prose_lines(text):
        m = HEADING.match(line)
        if not m:
            continue
        base = slug(m.group(2))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def links(text):
    """(line number, target) of every Markdown link and image outside code."""
    for number, line in prose_lines(text):
        for m in LINK.finditer(INLINE_CODE.sub("", line)):
            yield number, m.group(1)


def check(pages, root):
    """Every problem with the relative links of `pages` (paths under `root`), as 'page:line: message' strings."""
    root = Path(root).resolve()
    anchor_cache = {}

    def anchors_of(path):
        if path not in anchor_cache:
            anchor_cache[path] = anchors(path.read_text(encoding="utf-8"))
        return anchor_cache[path]

    problems = []
    for page in pages:
        page = Path(page).resolve()
        where = page.relative_to(root).as_posix()
        for number, target in links(page.read_text(encoding="utf-8")):
            if EXTERNAL.match(target):
                continue
            path_part, _, anchor = target.partition("#")
            path = (page.parent / unquote(path_part)).resolve() if path_part else page
            if path != root and root not in path.parents:
                problems.append(f"{where}:{number}: {target} points outside the repository")
                continue
            if not path.exists():
                problems.append(f"{where}:{number}: {target}: {path.relative_to(root).as_posix()} does not exist")
                continue
            if anchor and path.suffix == ".md" and path.is_file() and unquote(anchor) not in anchors_of(path):
                problems.append(f"{where}:{number}: {target}: no heading in {path.relative_to(root).as_posix()} "
                                f"has the anchor #{anchor}")
    return problems


def linked_files(page):
    """The files a page's relative links point at (anchors dropped)."""
    out = set()
    for _, target in links(page.read_text(encoding="utf-8")):
        path_part = target.partition("#")[0]
        if path_part and not EXTERNAL.match(target):
            out.add((page.parent / unquote(path_part)).resolve())
    return out


# -- the documentation itself -------------------------------------------------------------------------------------
def test_every_relative_link_and_anchor_resolves():
    problems = check(doc_pages(), ROOT)
    assert not problems, "\n".join(problems)


def test_the_readme_is_a_short_front_page():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines; move detail to a page in docs/"


def test_every_file_in_docs_is_linked_from_the_readme():
    linked = linked_files(README)
    orphans = [p.relative_to(ROOT).as_posix() for p in sorted(DOCS.rglob("*")) if p.is_file()
               and p.resolve() not in linked]
    assert not orphans, f"not linked from README.md: {orphans}"


@pytest.mark.parametrize("page", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_every_page_has_a_title_a_summary_and_a_way_back(page):
    lines = page.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# "), f"{page.name} does not start with a '# Title'"
    summary = next((line for line in lines[1:] if line.strip()), "")
    assert summary and not summary.startswith("#"), f"{page.name} has no summary under its title"
    assert README.resolve() in linked_files(page), f"{page.name} does not link back to the README"


# -- the checker catches what it should ---------------------------------------------------------------------------
@pytest.mark.parametrize("heading, anchor", [
    ("The int8 models in a web page (LiteRT.js)", "the-int8-models-in-a-web-page-litertjs"),
    ("Compression: the int8 autoencoder as a codec, against JPEG and WebP",
     "compression-the-int8-autoencoder-as-a-codec-against-jpeg-and-webp"),
    ("runs/, resume and --publish", "runs-resume-and---publish"),
    ("GANs (`zoo/families/gan.py`)", "gans-zoofamiliesganpy"),
    ("Deep belief net: RBM pretraining", "deep-belief-net-rbm-pretraining"),
    ("mnist_classifier, 98.88 %", "mnist_classifier-9888-"),
    ("See [the page](web.md)", "see-the-page"),
])
def test_slugs_are_githubs(heading, anchor):
    assert slug(heading) == anchor


def test_the_checker_finds_broken_links_and_anchors(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text(
        "# Page\n\nSummary.\n\n## Speed (ms)\n\n## Notes\n\n## Notes\n\n```sh\n# not a heading\n```\n",
        encoding="utf-8")
    (tmp_path / "figure.png").write_bytes(b"\x89PNG")
    (tmp_path / "README.md").write_text("\n".join([
        "# Top",                                                  # 1
        "[fine](docs/page.md) [fine](docs/page.md#speed-ms)",     # 2
        "[fine](#top) ![fine](figure.png) [fine](docs/page.md#notes-1) [web](https://example.com/x#y)",  # 3
        "[gone](docs/missing.md)",                                # 4
        "[bad anchor](docs/page.md#speed)",                       # 5
        "[bad anchor here](#bottom)",                             # 6
        "[code heading](docs/page.md#not-a-heading)",             # 7
        "![gone](figures/none.png)",                              # 8
        "`[in inline code](nowhere.md)`",                         # 9
        "```",                                                    # 10
        "[in a code block](nowhere.md)",                          # 11
        "```",                                                    # 12
        "[outside](../elsewhere.md)",                             # 13
        "[duplicate too far](docs/page.md#notes-2)",              # 14
    ]) + "\n", encoding="utf-8")
    problems = check([tmp_path / "README.md", tmp_path / "docs" / "page.md"], tmp_path)
    assert [p.split(":")[1] for p in problems] == ["4", "5", "6", "7", "8", "13", "14"], problems
    assert "docs/missing.md does not exist" in problems[0]
    assert "no heading in docs/page.md has the anchor #speed" in problems[1]
    assert "points outside the repository" in problems[5]
    assert linked_files(tmp_path / "README.md") >= {(tmp_path / "docs" / "page.md").resolve()}
