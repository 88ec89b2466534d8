"""One reader of the MyST the chapters are written in, shared by tools/slides.py and tools/colab_edition.py.

It is built on the pinned markdown-it-py and mdit_py_plugins, configured with the syntax MyST adds to CommonMark:
backtick fences whose info is `{name} argument` (core fence tokens), colon fences (colon_fence), roles
(myst_role), targets `(label)=`, `+++` breaks and `%` comments (myst_blocks), dollar math (dollarmath, so that
`$...$` is never read as a role) and front matter. Nothing here is a regular expression over the raw text: the
parser decides what is code, math, a role or a directive, and this module maps what it found back onto the
source's lines so that the tools can rewrite the MyST and copy everything else byte for byte.

- `blocks(source)`: the top-level blocks of a Markdown cell, text runs and directives, with their line ranges;
  a directive has its name, argument, options (`:key: value` lines and a YAML `---` block at its start) and body.
- `walk(source)`: every directive, nested ones (a directive in an exercise's body) included.
- `pieces(source)`: the source cut into consecutive pieces (text, code, math, role, target, comment, break,
  front matter) whose texts join back into the source; `roles(source)` lists the roles alone.
- `outline(source)`: the block-level events (heading, target, comment, math label, anything else) in order.
"""

import dataclasses

from markdown_it import MarkdownIt
from markdown_it.rules_inline.backticks import backtick
from mdit_py_plugins.colon_fence import colon_fence_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.dollarmath.index import math_inline_dollar
from mdit_py_plugins.front_matter import front_matter_plugin
from mdit_py_plugins.myst_blocks import myst_block_plugin
from mdit_py_plugins.myst_role import myst_role_plugin
from mdit_py_plugins.myst_role.index import myst_role

NAME_CHARACTERS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:.-")
LINE_KINDS = {
    "fence": "code", "code_block": "code", "colon_fence": "code", "math_block": "math",
    "math_block_label": "math", "myst_target": "target", "myst_line_comment": "comment",
    "myst_block_break": "break", "front_matter": "front_matter",
}
INLINE_KINDS = {"myst_role": "role", "code_inline": "code", "math_inline": "math", "math_inline_double": "math"}


def _spanned(rule):
    """An inline rule that also notes, on the token it pushes, the range of the inline source it consumed."""

    def wrapped(state, silent):
        start, count = state.pos, len(state.tokens)
        found = rule(state, silent)
        if found and not silent and len(state.tokens) > count:
            token = state.tokens[-1]
            token.meta = {**(token.meta or {}), "span": (start, state.pos)}
        return found

    return wrapped


def make_parser():
    """markdown-it with MyST's block and inline syntax."""
    md = (
        MarkdownIt("commonmark")
        .use(front_matter_plugin)
        .use(myst_block_plugin)
        .use(colon_fence_plugin)
        .use(dollarmath_plugin)
        .use(myst_role_plugin)
    )
    # The inline rules whose source range the reader records, each the plugin's own rule (dollarmath's with its
    # default settings, as dollarmath_plugin() above installs it), wrapped.
    md.inline.ruler.at("myst_role", _spanned(myst_role))
    md.inline.ruler.at("backticks", _spanned(backtick))
    md.inline.ruler.at("math_inline", _spanned(math_inline_dollar(True, True, False)))
    return md


PARSER = make_parser()


@dataclasses.dataclass
class Block:
    """A run of lines of a Markdown source: text (name None) or one directive."""

    start: int  # first line (0-based) in the source
    end: int  # line after the block
    lines: list
    name: str = None
    argument: str = ""
    options: dict = dataclasses.field(default_factory=dict)
    body: list = dataclasses.field(default_factory=list)
    closed: bool = True

    @property
    def text(self):
        return "\n".join(self.lines)


@dataclasses.dataclass
class Piece:
    """A stretch of a source: kind text, code, math, role, target, comment, break or front_matter."""

    kind: str
    text: str
    name: str = None  # a role's name
    content: str = None  # a role's content, a math block's label


def split_name(info):
    """A fence's info `{name} argument` as (name, argument), or None when it names no directive."""
    info = info.strip()
    close = info.find("}")
    if not info.startswith("{") or close < 2 or not set(info[1:close]) <= NAME_CHARACTERS:
        return None
    return info[1:close], info[close + 1 :].strip()


def split_options(body):
    """A directive's body lines as (options, body): a YAML `---` block, then `:key: value` lines, go to options."""
    options = {}
    if body and body[0].strip() == "---":
        stop = next((i for i in range(1, len(body)) if body[i].strip() == "---"), None)
        if stop is not None:
            for line in body[1:stop]:
                key, _, value = line.partition(":")
                options[key.strip()] = value.strip()
            body = body[stop + 1 :]
    while body and body[0].startswith(":"):
        key, colon, value = body[0][1:].partition(":")
        if not colon or not key or not set(key) <= NAME_CHARACTERS - {":", "."}:
            break
        options[key] = value.strip()
        body = body[1:]
    while body and not body[0].strip():
        body = body[1:]
    return options, body


def _closed(token, lines):
    """Whether a fence's last line closes it (an unclosed fence runs to the end of the source)."""
    start, end = token.map
    if end - start < 2:
        return False
    last = lines[end - 1].strip()
    return len(last) >= len(token.markup) and set(last) == {token.markup[0]}


def blocks(source):
    """The top-level blocks of a Markdown source: text runs between directives, and the directives.

    Only a directive at the top level is one (a fence inside a list item or a quote stays in its text run); a
    directive's body is a source of its own, read again by walk() or by the tools' recursion.
    """
    lines = source.splitlines()
    out, line = [], 0
    for token in PARSER.parse(source):
        if token.level != 0 or token.type not in {"fence", "colon_fence"} or token.map is None:
            continue
        named = split_name(token.info)
        if named is None:
            continue
        start, end = token.map
        if start > line:
            out.append(Block(line, start, lines[line:start]))
        options, body = split_options(token.content.splitlines())
        out.append(Block(start, end, lines[start:end], named[0], named[1], options, body, _closed(token, lines)))
        line = end
    if line < len(lines):
        out.append(Block(line, len(lines), lines[line:]))
    return out


def walk(source):
    """Every directive in a Markdown source, those inside another directive's body included (depth first)."""
    for block in blocks(source):
        if block.name is not None:
            yield block
            yield from walk("\n".join(block.body))


def first_directive(source):
    """The directive a Markdown source opens with (ignoring surrounding blank lines), else None."""
    found = blocks(source.strip())
    return found[0] if found and found[0].name is not None and found[0].start == 0 else None


def _nth(text, literal, count, start=0):
    """Where the count-th (0-based) non-overlapping occurrence of literal starts in text, or -1."""
    position = text.find(literal, start)
    while count > 0 and position >= 0:
        position = text.find(literal, position + len(literal))
        count -= 1
    return position


def pieces(source):
    """The source cut into consecutive Pieces; "".join(piece.text) gives the source back.

    Code, math and role pieces are what the parser found: whole lines for fenced or indented code, math blocks,
    targets, comments, breaks and front matter; code spans, inline math and roles inside a paragraph or heading
    (found in the inline tokens' children, then located in the raw lines the block spans; a code span that runs
    over lines a list or quote indents cannot be located and stays text).
    """
    offsets = [0]
    for line in source.splitlines(keepends=True):
        offsets.append(offsets[-1] + len(line))
    regions = []  # (start, end, Piece)

    def line_range(token):
        return offsets[token.map[0]], offsets[min(token.map[1], len(offsets) - 1)]

    for token in PARSER.parse(source):
        if token.map is None:
            continue
        if token.type in LINE_KINDS:
            start, end = line_range(token)
            label = token.info if token.type == "math_block_label" else None
            regions.append((start, end, Piece(LINE_KINDS[token.type], source[start:end], content=label)))
        elif token.type == "inline":
            low, high = line_range(token)
            raw = source[low:high]
            for child in token.children or []:
                span = (child.meta or {}).get("span")
                if child.type not in INLINE_KINDS or span is None:
                    continue
                literal = token.content[span[0] : span[1]]
                at = _nth(raw, literal, token.content.count(literal, 0, span[0]))
                if at < 0:  # the literal spans lines whose indentation the block stripped: left as text
                    continue
                name = child.meta.get("name")
                piece = Piece(INLINE_KINDS[child.type], literal, name, child.content if name else None)
                regions.append((low + at, low + at + len(literal), piece))
    out, position = [], 0
    for start, end, piece in sorted(regions, key=lambda region: region[0]):
        if start < position:
            continue  # inside a region already taken
        if start > position:
            out.append(Piece("text", source[position:start]))
        out.append(piece)
        position = end
    if position < len(source):
        out.append(Piece("text", source[position:]))
    return out


def roles(source):
    """The roles of a Markdown source (outside code and math): [(name, content)]."""
    return [(piece.name, piece.content) for piece in pieces(source) if piece.kind == "role"]


def split_title_target(content):
    """A reference's `text <target>` as (text, target), or None when it has no explicit target."""
    if not content.endswith(">"):
        return None
    opening = content.rfind("<")
    target = content[opening + 1 : -1]
    if opening < 0 or not target or ">" in target:
        return None
    return content[:opening].rstrip(), target


def outline(source):
    """The block-level events of a source, in order, directive bodies included:

    ('heading', text), ('target', label), ('comment', None), ('math_label', label), ('other', None).
    """
    tokens = PARSER.parse(source)
    skip_to = -1
    for index, token in enumerate(tokens):
        if index < skip_to:
            continue
        named = split_name(token.info) if token.type in {"fence", "colon_fence"} else None
        if named is not None:
            yield ("other", None)
            body = token.content.splitlines()
            yield from outline("\n".join(body))
            if _closed(token, source.splitlines()):
                yield ("other", None)
        elif token.type == "heading_open":
            yield ("heading", tokens[index + 1].content)
            skip_to = index + 3
        elif token.type == "myst_target":
            yield ("target", token.content)
        elif token.type == "myst_line_comment":
            yield ("comment", None)
        elif token.type == "math_block_label":
            yield ("math_label", token.info)
        elif token.nesting >= 0 and token.type != "inline" and token.block and token.map is not None:
            yield ("other", None)
