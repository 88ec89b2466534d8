"""The MyST reader the slide builder and the Colab edition share (tools/myst_blocks.py), on small sources."""

import textwrap

import myst_blocks as reader  # tools/myst_blocks.py, on the path from conftest


def md(text):
    return textwrap.dedent(text).lstrip("\n")


def test_backtick_directive_has_name_argument_options_body_and_line_range():
    source = md(
        """
        Before.

        ```{exercise} Soft targets (★★)
        :label: ex-soft
        :class: dropdown

        Show that it sums to one.
        ```
        After.
        """
    )
    found = reader.blocks(source)
    assert [block.name for block in found] == [None, "exercise", None]
    text, directive, after = found
    assert (text.start, text.end, text.lines) == (0, 2, ["Before.", ""])
    assert (directive.start, directive.end) == (2, 8)
    assert directive.argument == "Soft targets (★★)"
    assert directive.options == {"label": "ex-soft", "class": "dropdown"}
    assert directive.body == ["Show that it sums to one."]
    assert directive.closed
    assert after.lines == ["After."]
    assert "".join(block.text + "\n" for block in found) == source


def test_colon_fence_directive_and_yaml_options():
    source = md(
        """
        :::{admonition} Learning goals
        ---
        class: tip
        name: goals
        ---
        - one
        :::
        """
    )
    (block,) = reader.blocks(source)
    assert (block.name, block.argument, block.options, block.body) == (
        "admonition", "Learning goals", {"class": "tip", "name": "goals"}, ["- one"],
    )


def test_a_plain_code_fence_is_no_directive_and_a_four_backtick_fence_hides_a_three_backtick_directive():
    source = md(
        """
        ````markdown
        ```{note}
        not a note
        ```
        ````
        ```python
        x = 1
        ```
        """
    )
    found = reader.blocks(source)
    assert [block.name for block in found] == [None]
    assert list(reader.walk(source)) == []
    pieces = reader.pieces(source)
    assert [piece.kind for piece in pieces] == ["code", "code"]
    assert "".join(piece.text for piece in pieces) == source


def test_a_four_backtick_directive_holds_a_three_backtick_one_read_by_recursion():
    source = md(
        """
        ````{exercise} Outer
        :label: ex-outer

        Text.

        ```{hint}
        Inner {ref}`ex-outer`.
        ```
        ````
        """
    )
    (outer,) = reader.blocks(source)
    assert outer.name == "exercise" and outer.options == {"label": "ex-outer"}
    assert [(block.name, block.argument) for block in reader.walk(source)] == [("exercise", "Outer"), ("hint", "")]
    inner = [block for block in reader.blocks("\n".join(outer.body)) if block.name]
    assert inner[0].body == ["Inner {ref}`ex-outer`."]
    assert reader.roles("\n".join(inner[0].body)) == [("ref", "ex-outer")]


def test_a_colon_admonition_inside_a_backtick_exercise_is_found_by_walk():
    source = md(
        """
        ```{exercise} E
        :::{note} N
        body
        :::
        ```
        """
    )
    assert [(block.name, block.argument, block.body) for block in reader.walk(source)] == [
        ("exercise", "E", [":::{note} N", "body", ":::"]),
        ("note", "N", ["body"]),
    ]


def test_an_unclosed_directive_runs_to_the_end_and_says_so():
    source = md(
        """
        Text.
        ```{note} Open
        body
        more
        """
    )
    text, note = reader.blocks(source)
    assert text.lines == ["Text."]
    assert (note.name, note.argument, note.body, note.closed) == ("note", "Open", ["body", "more"], False)
    assert (note.start, note.end) == (1, 4)


def test_roles_outside_code_and_math_only():
    source = md(
        r"""
        See {ref}`ex-one` and {numref}`Figure %s <fig-a>`.
        Written as `{ref}`label`` in the source, the role {ref}`ex-two` is not `{ref}` alone.
        Math $\{ref\}`x`$ and $$a$$ hold no role; neither does \{ref}`escaped`.

        ```python
        print("{ref}`in-code`")
        ```
        """
    )
    assert reader.roles(source) == [("ref", "ex-one"), ("numref", "Figure %s <fig-a>"), ("ref", "ex-two")]
    pieces = reader.pieces(source)
    assert "".join(piece.text for piece in pieces) == source
    kinds = {piece.text: piece.kind for piece in pieces}
    assert kinds["`{ref}`"] == "code" and kinds[r"$\{ref\}`x`$"] == "math"


def test_role_in_a_list_and_a_quote_is_located_in_the_raw_lines():
    source = "- item {ref}`a`\n  more {ref}`b`\n\n> quoted {eq}`c`\n"
    pieces = reader.pieces(source)
    assert [(piece.name, piece.text) for piece in pieces if piece.kind == "role"] == [
        ("ref", "{ref}`a`"), ("ref", "{ref}`b`"), ("eq", "{eq}`c`"),
    ]
    assert "".join(piece.text for piece in pieces) == source


def test_targets_comments_breaks_and_math_labels_are_pieces_of_their_own():
    source = md(
        """
        (sec-a)=
        # Title
        % a comment
        +++
        $$
        x = 1
        $$ (eq-x)
        """
    )
    pieces = reader.pieces(source)
    assert [piece.kind for piece in pieces] == ["target", "text", "comment", "break", "math"]
    assert pieces[-1].content == "eq-x"
    assert "".join(piece.text for piece in pieces) == source
    events = [event for event in reader.outline(source) if event[0] != "other"]
    assert events == [("target", "sec-a"), ("heading", "Title"), ("comment", None), ("math_label", "eq-x")]


def test_outline_reads_directive_bodies():
    source = "```{exercise} E\n(inner)=\n## Inside\n```\n"
    events = [event for event in reader.outline(source) if event[0] != "other"]
    assert events == [("target", "inner"), ("heading", "Inside")]


def test_front_matter_is_a_piece_not_text():
    source = "---\ntitle: x\n---\n# Page\n"
    assert [piece.kind for piece in reader.pieces(source)] == ["front_matter", "text"]


def test_first_directive_and_explicit_titles():
    assert reader.first_directive("\n```{solution-start} ex-a\n```\n").argument == "ex-a"
    assert reader.first_directive("Text\n```{note}\n```\n") is None
    assert reader.split_title_target("the exercise <ex-a>") == ("the exercise", "ex-a")
    assert reader.split_title_target("ex-a") is None
    assert reader.split_name("{code-cell} ipython3") == ("code-cell", "ipython3")
    assert reader.split_name("python") is None
