"""What chapter 9 and the benchmark rely on in xentbook.accuracy: the ulp counter, the references, the log1p form.

The bounds for the other methods come from measurements with torch 2.13 on CPU (seed 0): on ordinary logits every
method stays under 3.3 ulps at 100 classes; shifted by 1e4, x - logsumexp loses 584 ulps on average and 7387 at
worst while the max-shifted forms stay under 1.6; with one logit about 30 above the rest, every log(sum) form returns 0
for the dominant log-probability (8.4 to 16.8 million ulps). log_softmax_log1p computes from the shift on in float64
and rounds once; chapter 9 proves that its error on float32 logits is at most log1p_ulp_bound(C) =
0.5 + (C + 800) 2^-28 ulps, and these tests check that bound against 40-digit decimal arithmetic on rows drawn at
random (widths, scales, shifts, dominant gaps and seeds that nobody picked).
"""

import decimal
import math

import pytest
import torch
import torch.nn.functional as F

from xentbook.accuracy import (
    LOG1P_ULP_BOUND,
    exact_log_softmax,
    input_families,
    log1p_ulp_bound,
    log_softmax_log1p,
    reference_log_softmax,
    ulp,
    ulp_bucket,
    ulp_error,
    ulp_report,
    ulp_table,
)
from xentbook.example import running_example

RUNNING_EXAMPLE, _ = running_example()


@pytest.fixture(scope="module")
def report():
    """The default ulp_report, computed once for the module."""
    return ulp_report()


@pytest.fixture(scope="module")
def families():
    """The default input families."""
    return input_families()


def dominant_entries(errors, x):
    """The errors at each row's largest logit."""
    return errors.gather(-1, x.argmax(dim=-1, keepdim=True))


def test_ulp_of_one_is_float32_epsilon():
    assert ulp(torch.tensor(1.0, dtype=torch.float64)).item() == torch.finfo(torch.float32).eps


def test_ulp_error_counts_float32_steps():
    computed = torch.tensor([0.75, -3.0, 1e-12, 1e4])
    reference = computed.to(torch.float64)  # exactly representable in float32
    for steps in range(4):
        torch.testing.assert_close(ulp_error(computed, reference), torch.full((4,), float(steps), dtype=torch.float64))
        computed = torch.nextafter(computed, torch.full_like(computed, float("inf")) * computed.sign())


def test_correctly_rounded_value_is_within_half_an_ulp():
    reference = torch.linspace(-20, 20, 1001, dtype=torch.float64) / 3
    assert ulp_error(reference.to(torch.float32), reference).max() <= 0.5


def test_log_softmax_log1p_matches_f_log_softmax_on_ordinary_logits(families):
    torch.testing.assert_close(log_softmax_log1p(RUNNING_EXAMPLE), F.log_softmax(RUNNING_EXAMPLE, dim=-1))
    torch.testing.assert_close(log_softmax_log1p(families["ordinary"]), F.log_softmax(families["ordinary"], dim=-1))


def test_log_softmax_log1p_works_on_1d_3d_and_tied_rows():
    for x in [RUNNING_EXAMPLE[0], RUNNING_EXAMPLE.reshape(1, 5, 3), torch.tensor([[5.0, 5.0, 0.0], [2.0, 2.0, 2.0]])]:
        torch.testing.assert_close(log_softmax_log1p(x), F.log_softmax(x, dim=-1))


def test_log_softmax_log1p_keeps_dominant_entry_as_float64_minus_log1p_of_the_others():
    x = torch.tensor([[40.0, 1.0, 2.0, 3.0]])
    s = torch.exp(x[0, 1:].double() - 40.0).sum()
    assert log_softmax_log1p(x)[0, 0] == (-torch.log1p(s)).float()
    assert log_softmax_log1p(x)[0, 0] < 0


def test_log_softmax_log1p_is_the_float64_reference_rounded_once(families):
    """So the float64 reference cannot judge it: the bound below is checked against decimal arithmetic."""
    for family, x in families.items():
        assert torch.equal(log_softmax_log1p(x), reference_log_softmax(x).float()), family


def random_rows(seed, count):
    """Rows nobody chose: random width (2 to 3000), scale (1e-3 to 300), shift (0 to 1e5) and dominant gap (0 to 60)."""
    generator = torch.Generator().manual_seed(seed)
    uniform = lambda low, high: low + (high - low) * torch.rand((), generator=generator).item()  # noqa: E731
    rows = []
    for _ in range(count):
        classes = int(10 ** uniform(math.log10(2), math.log10(3000)))
        row = torch.randn(classes, generator=generator) * 10 ** uniform(-3, 2.5)
        if torch.rand((), generator=generator) < 0.5:  # one dominant class, a random gap above the rest
            row[torch.randint(classes, (), generator=generator)] = row.max() + uniform(0, 60)
        if torch.rand((), generator=generator) < 0.3:  # a common shift, rounded into the float32 logits
            row = row + 10 ** uniform(0, 5)
        rows.append(row)
    return rows


@pytest.mark.parametrize("seed", range(6))
def test_log_softmax_log1p_meets_its_proven_bound_on_rows_nobody_chose(seed):
    for row in random_rows(seed, 12):
        errors = ulp_error(log_softmax_log1p(row), exact_log_softmax(row, digits=40))
        assert errors.max() <= log1p_ulp_bound(row.numel()), (row.numel(), errors.max().item())


def test_log_softmax_log1p_meets_its_proven_bound_on_a_dominant_row_of_32000_classes():
    row = input_families(seed=3, rows=1, cols=32000)["dominant"][0]
    errors = ulp_error(log_softmax_log1p(row), exact_log_softmax(row, digits=30))
    assert errors.max() <= log1p_ulp_bound(32000)


def test_log1p_ulp_bound_is_below_0_51_ulps_up_to_a_million_classes():
    assert log1p_ulp_bound(2) > 0.5
    assert log1p_ulp_bound(2**20) <= LOG1P_ULP_BOUND < 0.52


def log1p_float32(x):
    """The log1p form computed in float32 from start to end, with the rounding of x - max made up for (TwoSum)."""
    max_values, argmax = x.max(dim=-1, keepdim=True)
    shifted = x - max_values
    back = shifted + max_values
    lost = ((x - back) - (max_values + (shifted - back))).nan_to_num(nan=0.0)
    others = torch.exp(shifted).scatter(-1, argmax, 0.0)
    others_sum = others.sum(dim=-1, keepdim=True) + (others * lost).sum(dim=-1, keepdim=True)
    return shifted - torch.log1p(others_sum)


def test_a_float32_tail_misses_the_bound_where_the_float64_one_meets_it():
    x = input_families(seed=0, rows=1000, cols=10)["dominant"]
    reference = reference_log_softmax(x)
    assert ulp_error(log1p_float32(x), reference).max() > 1
    assert ulp_error(log_softmax_log1p(x), reference).max() <= 0.5


def log1p_without_twosum(x):
    """The log1p form in float32 without the correction of x - max: chapter 9's first version."""
    max_values, argmax = x.max(dim=-1, keepdim=True)
    shifted = x - max_values
    others = torch.exp(shifted).scatter(-1, argmax, 0.0)
    return shifted - torch.log1p(others.sum(dim=-1, keepdim=True))


def test_without_the_twosum_correction_the_float32_form_loses_4_ulps_at_10_and_100_classes():
    for classes in (10, 100):
        x = input_families(seed=0, rows=1000, cols=classes)["dominant"]
        assert ulp_error(log1p_without_twosum(x), reference_log_softmax(x)).max() > 4, classes


def test_a_float64_sum_of_the_float32_terms_does_not_meet_the_bound():
    x = input_families(seed=0, rows=1000, cols=100)["dominant"]
    max_values, argmax = x.max(dim=-1, keepdim=True)
    shifted = x - max_values
    others = torch.exp(shifted).scatter(-1, argmax, 0.0).double()
    wide_sum = shifted - torch.log1p(others.sum(dim=-1, keepdim=True)).float()
    assert ulp_error(wide_sum, reference_log_softmax(x)).max() > 4


def test_twosum_recovers_the_rounding_of_x_minus_max_exactly(families):
    for family, x in families.items():
        top = x.max(dim=-1, keepdim=True).values
        shifted = x - top
        back = shifted + top
        lost = (x - back) - (top + (shifted - back))
        assert torch.equal(x.double() - top.double(), shifted.double() + lost.double()), family
        assert (lost.abs() <= ulp(shifted.double()) / 2).all(), family


def test_log_softmax_log1p_handles_masked_logits_and_has_f_log_softmax_gradient():
    x = torch.randn(6, 50, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x[0, 3], x[1, :5], x[2, 7] = -torch.inf, -torch.inf, x[2].max() + 40
    x.requires_grad_()
    target = torch.tensor([1, 7, 7, 4, 5, 6])
    torch.testing.assert_close(log_softmax_log1p(x), F.log_softmax(x, dim=-1))
    ours, = torch.autograd.grad(F.nll_loss(log_softmax_log1p(x), target), x)
    theirs, = torch.autograd.grad(F.nll_loss(F.log_softmax(x, dim=-1), target), x)
    torch.testing.assert_close(ours, theirs)
    assert not ours.isnan().any()
    assert torch.autograd.gradcheck(log_softmax_log1p, (torch.randn(3, 5, dtype=torch.float64, requires_grad=True),))


def test_log_softmax_log1p_keeps_float16_and_bfloat16_close_to_f_log_softmax():
    x = torch.randn(8, 30, generator=torch.Generator().manual_seed(0))
    for dtype in (torch.float16, torch.bfloat16):
        result = log_softmax_log1p(x.to(dtype))
        assert result.dtype == dtype
        torch.testing.assert_close(result.float(), F.log_softmax(x.to(dtype).float(), dim=-1),
                                   atol=0.05, rtol=0.01)


def test_f_log_softmax_returns_zero_for_the_dominant_log_prob(families):
    x = families["dominant"]
    assert (dominant_entries(F.log_softmax(x, dim=-1), x) == 0).all()
    errors = dominant_entries(ulp_error(F.log_softmax(x, dim=-1), reference_log_softmax(x)), x)
    assert errors.min() > 2**23 - 1


def test_x_minus_logsumexp_loses_hundreds_of_ulps_when_shifted_by_1e4(report):
    largest, mean = report["shifted"]["x - logsumexp"]
    assert mean > 200 and largest > 2000
    for method in ["max-shifted", "F.log_softmax", "log_softmax_log1p"]:
        assert report["shifted"][method][0] < 4, method


def test_every_method_is_within_a_few_ulps_on_ordinary_logits(report):
    for method, (largest, mean) in report["ordinary"].items():
        assert largest < 8 and mean < 0.6, method


def test_ulp_report_has_three_families_and_four_methods(report):
    assert list(report) == ["ordinary", "shifted", "dominant"]
    for methods in report.values():
        assert list(methods) == ["x - logsumexp", "max-shifted", "F.log_softmax", "log_softmax_log1p"]
        for largest, mean in methods.values():
            assert 0 <= mean <= largest
    assert report["dominant"]["log_softmax_log1p"][0] <= LOG1P_ULP_BOUND
    assert report["dominant"]["F.log_softmax"][0] > 2**23


def test_ulp_report_is_deterministic_for_a_seed():
    assert ulp_report(seed=1, rows=50, cols=20) == ulp_report(seed=1, rows=50, cols=20)


def test_ulp_table_has_a_header_and_one_line_per_family_and_method(report):
    lines = ulp_table(report).splitlines()
    assert len(lines) == 1 + 3 * 4
    assert lines[0].split() == ["family", "method", "max", "ulps", "mean", "ulps"]


def test_ulp_bucket_bounds_small_counts_and_brackets_large_ones_between_powers_of_2():
    assert [ulp_bucket(v) for v in (0.0, 0.49, 0.5, 3.99)] == ["< 0.5", "< 0.5", "< 4", "< 4"]
    large = [ulp_bucket(v) for v in (4.0, 6.6, 584.3, 7387.5)]
    assert large == ["2^2 to 2^3", "2^2 to 2^3", "2^9 to 2^10", "2^12 to 2^13"]
    assert ulp_bucket(torch.tensor(16768920.8, dtype=torch.float64)) == "2^23 to 2^24"


def test_ulp_table_prints_buckets_not_digits(report):
    rows = {tuple(line.split()[:2]): line for line in ulp_table(report).splitlines()[1:]}
    assert rows[("ordinary", "F.log_softmax")].split()[2:] == ["<", "4", "<", "0.5"]
    assert rows[("dominant", "F.log_softmax")].split()[2:] == ["2^23", "to", "2^24", "2^16", "to", "2^17"]


def test_reference_matches_exact_decimal_log_softmax_where_float64_f_log_softmax_does_not(families):
    rows = families["dominant"][:10]
    exact = torch.stack([exact_log_softmax(row) for row in rows])
    assert ulp_error(reference_log_softmax(rows), exact).max() < 1e-3
    naive64 = dominant_entries(ulp_error(F.log_softmax(rows.double(), dim=-1), exact), rows)
    assert naive64.max() > 100


def test_exact_log_softmax_carries_its_digits_whatever_the_default_decimal_context(families):
    """Every operation, the sum of the terms included, runs in the function's own context of `digits` digits."""
    row = families["dominant"][0]
    expected = exact_log_softmax(row)
    with decimal.localcontext() as default:
        default.prec = 6
        assert torch.equal(exact_log_softmax(row), expected)
