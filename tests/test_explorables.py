"""Every explorable in a real headless Chromium, checked the same way (the harness is tests/explorables.py)."""

import json
import statistics

import pytest
import torch

from conftest import SHOTS, Page
from explorables import (
    BAD_INPUT,
    CONTRAST,
    EXPLORABLES,
    LATENCY,
    NARROW,
    WIDTHS,
    controls,
    inputs_of,
    js_compute,
    mismatches,
    named_controls,
    open_explorable,
    press_to_move,
    look,
    record_latency,
    seen_problems,
    set_inputs,
    unnamed_controls,
)
from xentbook.explorables.base import fmt

IDS = [e.name for e in EXPLORABLES]
OVERFLOW = next(e for e in EXPLORABLES if e.name == "ox")


@pytest.mark.parametrize("explorable", EXPLORABLES, ids=IDS)
def test_page_javascript_matches_torch_on_a_grid(page, site_url, explorable):
    browser_page, _ = open_explorable(page, site_url, explorable)
    grid = explorable.grid()
    answers = js_compute(browser_page, explorable, grid)
    problems = [p for inputs, js in zip(grid, answers) for p in mismatches(explorable, inputs, js)]
    assert problems == [], f"{len(problems)} differences on {len(grid)} inputs, first ones:\n" + "\n".join(problems[:8])
    assert page.errors == []


@pytest.mark.parametrize("explorable", EXPLORABLES, ids=IDS)
def test_every_control_moves_by_keyboard_has_a_name_and_refuses_bad_input_clearly(page, site_url, explorable):
    browser_page, root = open_explorable(page, site_url, explorable)
    found = controls(root)
    assert found, "no controls"
    assert unnamed_controls(root) == []
    assert named_controls(root) == len(found), root.aria_snapshot()

    message = root.locator(".xent-message")
    for control in found:  # each control, moved one step by keyboard, changes the inputs; the words follow them
        control = next(c for c in controls(root) if c["id"] == control["id"])
        before = root.get_attribute("data-inputs")
        browser_page.locator(f"#{control['id']}").focus()
        for key in press_to_move(control):
            browser_page.keyboard.press(key)
        assert root.get_attribute("data-inputs") != before, f"{control['id']}: the keyboard did not change the inputs"
        assert message.inner_text() == explorable.widget.compute(inputs_of(root)).message, control["id"]

    for control in [c for c in found if c["type"] == "text"]:
        field = browser_page.locator(f"#{control['id']}")
        valid = field.input_value()
        for typed in BAD_INPUT:
            field.fill(typed)
            expected = explorable.widget.compute(inputs_of(root))
            assert not expected.ok, (control["id"], typed)
            assert message.inner_text() == expected.message  # the browser says what torch's side says
            assert field.get_attribute("aria-invalid") == "true"
            others = root.locator("input[type=text]").evaluate_all(  # only the field that is wrong is marked
                "(fields, id) => fields.filter((f) => f.id !== id && f.getAttribute('aria-invalid') === 'true').map((f) => f.id)",
                control["id"])
            assert others == [], (control["id"], typed, others)
            greyed = root.locator(".xent-figure").evaluate("el => Number(getComputedStyle(el).opacity)")
            assert greyed < 0.5, "a figure that no longer shows the inputs must be greyed out"
        field.fill(valid)
        assert field.get_attribute("aria-invalid") == "false"
        assert root.locator(".xent-figure").evaluate("el => Number(getComputedStyle(el).opacity)") == 1
    assert page.errors == []

    times = root.evaluate(LATENCY)
    median = statistics.median(times)
    record_latency(explorable.name, median)
    assert median < 16, f"median {median:.2f} ms over {len(times)} moves"
    SHOTS.mkdir(parents=True, exist_ok=True)
    root.scroll_into_view_if_needed()
    root.screenshot(path=str(SHOTS / f"explorable-{explorable.name}-after-a-move.png"))


def phone_problems(browser_page, root, explorable):
    """On a 390 px phone: text contrast of at least 4.5 in light and in dark mode, nothing outside the screen or
    scrolling sideways, and the first slider moves by keyboard (a screenshot in dark mode is saved)."""
    problems = []
    for theme in ("light", "dark"):
        browser_page.emulate_media(color_scheme=theme)
        browser_page.evaluate(f"document.documentElement.dataset.theme = '{theme}'")
        worst = root.evaluate(CONTRAST)
        if worst["ratio"] < 4.5:
            problems.append(f"{theme} mode: contrast {worst}")
    narrow = root.evaluate(NARROW)
    if narrow["outside"] or narrow["scrolls"] or narrow["spills"] or narrow["right"] > narrow["width"] + 1:
        problems.append(f"at 390 px: {narrow}")
    slider = root.locator("input[type=range]").first
    before = root.get_attribute("data-inputs")
    slider.focus()
    browser_page.keyboard.press("ArrowLeft" if slider.evaluate("el => Number(el.value) >= Number(el.max)") else "ArrowRight")
    if root.get_attribute("data-inputs") == before:
        problems.append("at 390 px: the first slider did not move by keyboard")
    root.scroll_into_view_if_needed()
    root.screenshot(path=str(SHOTS / f"explorable-{explorable.name}-dark-390px.png"))
    return problems


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("explorable", EXPLORABLES, ids=IDS)
def test_what_it_draws_is_readable_uncut_unoverlapped_and_plots_what_it_prints(browser, site_url, explorable, width):
    """As a reader sees it, on a phone and on a laptop or projector, in its first state and a few more: chart text
    of one readable size, no word or control overlapped by another or by a mark of the chart, nothing cut off or
    scrolling sideways, and every plotted value where the chart's scale puts it and printed in its words. On the
    phone, also readable in light and dark mode and usable by keyboard (phone_problems), on the same page load."""
    screen = Page(browser)
    try:
        screen.page.set_viewport_size({"width": width, "height": 900})
        browser_page, root = open_explorable(screen, site_url, explorable)
        problems = [f"first state: {p}" for p in seen_problems(look(root), fmt)]
        SHOTS.mkdir(parents=True, exist_ok=True)
        root.scroll_into_view_if_needed()
        root.screenshot(path=str(SHOTS / f"explorable-{explorable.name}-{width}px.png"))
        for setting in explorable.looks:
            set_inputs(root, setting)
            assert root.get_attribute("data-ok") == "true", (setting, root.locator(".xent-message").inner_text())
            problems += [f"{setting}: {p}" for p in seen_problems(look(root), fmt)]
        if width == min(WIDTHS):  # the phone
            problems += phone_problems(browser_page, root, explorable)
        assert problems == [], "\n".join(problems[:12])
        assert screen.errors == [] and screen.blocked == []
    finally:
        screen.close()


def test_the_pipeline_prints_whole_on_paper(browser, site_url):
    """Chapter 5's explorable, laid out for print at an A4 page's width: nothing cut off or overlapped."""
    explorable = next(e for e in EXPLORABLES if e.name == "pipeline")
    paper = Page(browser)
    try:
        paper.page.set_viewport_size({"width": 700, "height": 1000})
        paper.page.emulate_media(media="print")
        _, root = open_explorable(paper, site_url, explorable)
        problems = seen_problems(look(root), fmt)
        assert problems == [], "\n".join(problems[:12])
    finally:
        paper.close()


def test_shared_rounding_and_sum_match_torch(page, site_url):
    """formats.js, tested once: roundTo value by value against torch's conversion (ties, subnormals, overflow,
    signs), and sum on sums of 1 to 7 float32 values (the explorables' rows and batches) against torch.sum."""
    browser_page, _ = open_explorable(page, site_url, OVERFLOW)
    torch.manual_seed(0)
    values = torch.cat([
        torch.randn(300, dtype=torch.float64) * 10.0 ** torch.randint(-45, 39, (300,)).double(),
        torch.tensor([65504.0, 65519.99, 65520.0, 2.0 ** -24, 2.0 ** -25, 1.5 * 2.0 ** -25, 2.0 ** -26, 5.96e-8,
                      1 + 2.0 ** -11, 1 + 3 * 2.0 ** -11, 1 + 2.0 ** -8, 3.3895e38, 3.39e38, 3.4028235e38, 3.41e38,
                      2.0 ** -133, 2.0 ** -150, 1e-40, 1e-45, 0.1, 1 / 3, 88.72283935546875, 11.09375], dtype=torch.float64),
    ])
    values = torch.cat([values, -values])
    got = browser_page.evaluate(
        """async ([widgetId, values]) => {
            const state = JSON.parse(document.querySelector('script[type*=widget-state]').textContent).state;
            const model = Object.values(state).find((m) => m.state._anywidget_id === widgetId).state;
            const m = await import(URL.createObjectURL(new Blob([model._esm], { type: 'text/javascript' })));
            return ['float16', 'bfloat16', 'float32'].map((f) => values.map((v) => { const r = m.roundTo(f, v); return Object.is(r, -0) ? '-0' : String(r); }));
        }""",
        [OVERFLOW.widget_id, values.tolist()],
    )
    for name, answers in zip(["float16", "bfloat16", "float32"], got):
        expected = values.to(getattr(torch, name)).double()
        browser = torch.tensor([-0.0 if a == "-0" else float(a) for a in answers], dtype=torch.float64)
        same = (browser == expected) | (browser.isnan() & expected.isnan())
        same &= torch.signbit(browser) == torch.signbit(expected)
        wrong = [(v, b, e) for v, b, e, s in zip(values.tolist(), browser.tolist(), expected.tolist(), same) if not s]
        assert wrong == [], f"{name}: (value, browser, torch) {wrong[:5]}"

    torch.manual_seed(1)
    rows = [(torch.rand(n) * torch.rand(n) * 10.0 ** torch.randint(-3, 4, (n,))).tolist() for n in range(1, 8) for _ in range(60)]
    sums = browser_page.evaluate(
        """async ([widgetId, rows]) => {
            const state = JSON.parse(document.querySelector('script[type*=widget-state]').textContent).state;
            const model = Object.values(state).find((m) => m.state._anywidget_id === widgetId).state;
            const m = await import(URL.createObjectURL(new Blob([model._esm], { type: 'text/javascript' })));
            return rows.map((r) => m.sum('float32', r.map(Math.fround)));
        }""",
        [OVERFLOW.widget_id, rows],
    )
    wrong = [(row, js, torch.tensor(row).sum().item()) for row, js in zip(rows, sums) if js != torch.tensor(row).sum().item()]
    assert wrong == [], wrong[:3]


def test_overflow_explorer_diagnosis_is_the_outcome_torchs_numbers_imply(page, site_url):
    """On a grid of (format, scale, pushed class, push, target): nan, inf, finite and agreeing, or disagreeing."""
    from xentbook.explorables.overflow import AGREE_ULPS, FAILED_STEP, OUTCOMES, explore, outcome, ulps_apart

    explorable = OVERFLOW
    browser_page, _ = open_explorable(page, site_url, explorable)
    grid = explorable.grid()
    answers = js_compute(browser_page, explorable, grid)
    seen, wrong = set(), []
    for inputs, js in zip(grid, answers):
        result = explore(inputs["scale"], inputs["push"], inputs["push_class"], inputs["dtype"], inputs["target"])
        if not result.ok:
            continue
        implied = outcome(result.naive_loss, result.stable_loss, result.dtype)
        said = OUTCOMES[js["diagnosis"]]
        seen.add(implied)
        borderline = implied in ("agree", "disagree") and abs(
            ulps_apart(result.naive_loss, result.stable_loss, result.dtype) - AGREE_ULPS) <= 1
        if said != implied and not borderline:  # within an ulp of the border, rounding may tip either way
            wrong.append((inputs, js["diagnosis"], implied, result.naive_loss, result.stable_loss))
    assert wrong == [], wrong[:5]
    assert seen == {"nan", "inf", "agree", "disagree"}  # the grid reaches every outcome

    # The row of steps lights the step the message names: the page's table is overflow.py's, and so is what it shows.
    js_steps = browser_page.evaluate(
        """async (widgetId) => {
            const state = JSON.parse(document.querySelector('script[type*=widget-state]').textContent).state;
            const model = Object.values(state).find((m) => m.state._anywidget_id === widgetId).state;
            return (await import(URL.createObjectURL(new Blob([model._esm], { type: 'text/javascript' })))).FAILED_STEP;
        }""",
        explorable.widget_id,
    )
    assert js_steps == FAILED_STEP
    root = browser_page.locator(explorable.selector).first
    for setting in [{"scale": "50"}, {"scale": "45"}, {"scale": "1", "push_class": "2", "push": "-200"},
                    {"scale": "1", "push_class": "2", "push": "-95"}]:
        set_inputs(root, setting)
        shown = json.loads(root.get_attribute("data-inputs"))
        result = explore(shown["scale"], shown["push"], shown["push_class"], shown["dtype"], shown["target"])
        lit = root.locator(".xent-ox-step-failed")
        assert lit.count() == 1 and lit.get_attribute("data-step") == FAILED_STEP[result.diagnosis], (setting, result.message)
        assert root.locator(".xent-ox-message").text_content() == result.message

