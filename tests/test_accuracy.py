"""What chapter 9 and the benchmark rely on in xentbook.accuracy: the ulp counter, the reference, the log1p form.

The bounds come from measurements with torch 2.13 on CPU (seed 0, 1000 rows of 100 classes), with margin:
ordinary logits at most 3.3 ulps for every method; shifted by 1e4, x - logsumexp loses 584 ulps on average and
7387 at worst while the max-shifted forms stay under 1.6; with one logit 30 above the rest, every log(sum) form
returns 0 for the dominant log-probability (8.4 to 16.8 million ulps) and log_softmax_log1p stays under 6.7 ulps
(the tests allow 16; the rounding of x - max to float32, up to delta = 2^-19, alone allows 2 delta / eps = 32).
Those digits come from the AVX-512 kernels; the plain C++ and AVX2 kernels (ATEN_CPU_CAPABILITY=default, =avx2)
round exp and the sums differently, and the counts move (F.log_softmax on shifted logits up to 2.5 ulps,
log_softmax_log1p on the dominant family 5.8) within the same bounds.
"""


import pytest
import torch
import torch.nn.functional as F

from xentbook.accuracy import (
    exact_log_softmax,
    input_families,
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


def test_log_softmax_log1p_keeps_dominant_entry_exactly_minus_log1p_of_the_others():
    x = torch.tensor([[40.0, 1.0, 2.0, 3.0]])
    s = torch.exp(x[0, 1:] - 40.0).sum()
    assert log_softmax_log1p(x)[0, 0] == -torch.log1p(s)
    assert log_softmax_log1p(x)[0, 0] < 0


def test_log_softmax_log1p_keeps_dominant_log_prob_within_16_ulps(families):
    x = families["dominant"]
    errors = dominant_entries(ulp_error(log_softmax_log1p(x), reference_log_softmax(x)), x)
    assert errors.max() < 16
    assert errors.mean() < 4


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
    assert report["dominant"]["log_softmax_log1p"][0] < 16
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
