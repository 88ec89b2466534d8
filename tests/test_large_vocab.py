"""Chapter 10's code: the chunked cross entropy in every option of F.cross_entropy, and the vocabulary-parallel loss
on real processes (torchrun, gloo), loss and gradient."""

import itertools
import math
import os
import warnings
import re
import subprocess
import sys
import time

import pytest
import torch
import torch.nn.functional as F

from xentbook import vocab_parallel
from helpers import free_port
from xentbook.chunked import chunked_cross_entropy
from xentbook.measuring import memory_timeline, peak_memory
from xentbook.example import running_example
from xentbook.vocab_parallel import CASES, DEFAULTS, case_options, class_range, make_logits, vocab_parallel_cross_entropy



def batch(rows, classes, seed, scale=1.0, dtype=torch.float32):
    generator = torch.Generator().manual_seed(seed)
    logits = (scale * torch.randn(rows, classes, generator=generator, dtype=torch.float64)).to(dtype)
    target = torch.randint(0, classes, (rows,), generator=generator)
    return logits, target


def loss_and_grad(loss_fn, logits, target, **options):
    leaf = logits.clone().requires_grad_()
    loss = loss_fn(leaf, target, **options)
    loss.backward()
    return loss.detach(), leaf.grad


@pytest.mark.parametrize(
    "rows, classes, chunk_rows",
    [(512, 8000, 100), (37, 1000, 5), (1, 5, 7), (300, 32003, 64), (1000, 50, 999), (10, 3, 1)],
)
@pytest.mark.parametrize("scale", [1.0, 100.0])
def test_chunked_loss_and_gradient_match_f_cross_entropy(rows, classes, chunk_rows, scale):
    logits, target = batch(rows, classes, seed=rows + classes, scale=scale)
    loss, grad = loss_and_grad(chunked_cross_entropy, logits, target, chunk_rows=chunk_rows)
    expected_loss, expected_grad = loss_and_grad(F.cross_entropy, logits, target)
    torch.testing.assert_close(loss, expected_loss, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(grad, expected_grad, rtol=0, atol=1e-5)


def test_chunked_loss_matches_f_cross_entropy_in_float64():
    logits, target = batch(200, 3000, seed=1, scale=5.0, dtype=torch.float64)
    loss, grad = loss_and_grad(chunked_cross_entropy, logits, target, chunk_rows=33)
    expected_loss, expected_grad = loss_and_grad(F.cross_entropy, logits, target)
    torch.testing.assert_close(loss, expected_loss, rtol=1e-13, atol=0)
    torch.testing.assert_close(grad, expected_grad, rtol=0, atol=1e-14)


def test_chunked_loss_of_the_running_example_is_1_3577():
    logits, target = running_example()
    for chunk_rows in (1, 2, 5, 64):
        assert f"{chunked_cross_entropy(logits, target, chunk_rows=chunk_rows).item():.4f}" == "1.3577"


def test_chunked_backward_scales_the_gradient_by_grad_output():
    logits, target = batch(96, 500, seed=3)
    leaf = logits.clone().requires_grad_()
    (2.5 * chunked_cross_entropy(leaf, target, chunk_rows=10)).backward()
    _, expected_grad = loss_and_grad(F.cross_entropy, logits, target)
    torch.testing.assert_close(leaf.grad, 2.5 * expected_grad, rtol=0, atol=1e-5)


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_chunked_loss_holds_nothing_of_length_c_besides_its_gradient(label_smoothing):
    """Without weight, cross_entropy_rows makes no vector of C ones: beyond its one m x C buffer, a forward and
    backward pass holds the same bytes whatever the vocabulary."""
    beyond = {}
    for classes in (2000, 20000):
        logits, target = batch(128, classes, seed=classes)
        leaf = logits.requires_grad_()
        step = lambda: chunked_cross_entropy(leaf, target, label_smoothing=label_smoothing, chunk_rows=64).backward()
        beyond[classes] = max(memory_timeline(step)) - 128 * classes * 4
    assert 0 < beyond[2000] == beyond[20000] < 128 * 2000 * 4 / 100


def test_chunked_loss_adds_into_an_existing_gradient():
    logits, target = batch(64, 300, seed=4)
    leaf = logits.clone().requires_grad_()
    chunked_cross_entropy(leaf, target, chunk_rows=16).backward()
    chunked_cross_entropy(leaf, target, chunk_rows=16).backward()
    _, expected_grad = loss_and_grad(F.cross_entropy, logits, target)
    torch.testing.assert_close(leaf.grad, 2 * expected_grad, rtol=0, atol=1e-5)


def test_chunked_forward_backward_holds_one_logits_sized_buffer_and_f_cross_entropy_three():
    logits, target = batch(512, 8000, seed=0)
    buffer = logits.numel() * logits.element_size()
    leaf = logits.clone().requires_grad_()
    chunked_peak = peak_memory(lambda: chunked_cross_entropy(leaf, target, chunk_rows=64).backward())
    leaf.grad = None
    baseline_peak = peak_memory(lambda: F.cross_entropy(leaf, target).backward())
    assert buffer <= chunked_peak < 1.01 * buffer
    assert baseline_peak == pytest.approx(3 * buffer, rel=0.01)


def float64_batch(rows=23, classes=13, seed=0, padding=0, ignore_index=-100):
    """Seeded float64 logits of scale 3, targets with every padding-th row set to ignore_index, positive weights."""
    generator = torch.Generator().manual_seed(seed)
    logits = 3 * torch.randn(rows, classes, generator=generator, dtype=torch.float64)
    target = torch.randint(0, classes, (rows,), generator=generator)
    if padding:
        target[::padding] = ignore_index
    weight = 0.1 + torch.rand(classes, generator=generator, dtype=torch.float64)
    return logits, target, weight


def loss_and_grad_with(loss_fn, logits, target, grad_output=None, **options):
    """The loss and logits.grad after backward with grad_output (1 or ones by default)."""
    leaf = logits.clone().requires_grad_()
    loss = loss_fn(leaf, target, **options)
    loss.backward(torch.ones_like(loss) if grad_output is None else grad_output)
    return loss.detach(), leaf.grad


OPTIONS = [dict(reduction=reduction, label_smoothing=smoothing, use_weight=use_weight, ignore_index=ignore_index)
           for reduction, smoothing, use_weight, ignore_index
           in itertools.product(["mean", "sum", "none"], [0.0, 0.25], [False, True], [-100, 4])]


@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_chunked_matches_f_cross_entropy_loss_and_gradient_within_1e_10_in_every_option(option):
    option = dict(option)
    logits, target, weight = float64_batch(padding=3, ignore_index=option["ignore_index"])
    if option.pop("use_weight"):
        option["weight"] = weight
    grad_output = torch.rand(23, dtype=torch.float64) if option["reduction"] == "none" else torch.tensor(0.7,
                                                                                                     dtype=torch.float64)
    ours = loss_and_grad_with(chunked_cross_entropy, logits, target, grad_output, chunk_rows=5, **option)
    theirs = loss_and_grad_with(F.cross_entropy, logits, target, grad_output, **option)
    torch.testing.assert_close(ours[0], theirs[0], rtol=0, atol=1e-10)
    torch.testing.assert_close(ours[1], theirs[1], rtol=0, atol=1e-10)
    assert ours[1][target == option["ignore_index"]].abs().max() == 0  # padding rows get no gradient


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_chunked_gives_what_f_cross_entropy_gives_when_every_row_is_ignored(reduction, label_smoothing):
    logits, target, weight = float64_batch(padding=1)
    for options in (dict(), dict(weight=weight)):
        ours = loss_and_grad_with(chunked_cross_entropy, logits, target, reduction=reduction,
                                  label_smoothing=label_smoothing, **options)
        theirs = loss_and_grad_with(F.cross_entropy, logits, target, reduction=reduction,
                                    label_smoothing=label_smoothing, **options)
        torch.testing.assert_close(ours[0], theirs[0], equal_nan=True)  # the mean is 0 / 0 = nan, as in torch
        assert torch.equal(ours[1], theirs[1])


def test_chunked_takes_one_row_of_logits_as_f_cross_entropy_does():
    logits, target, _ = float64_batch()
    for reduction in ("mean", "none"):
        ours = loss_and_grad_with(chunked_cross_entropy, logits[3], target[3], reduction=reduction)
        theirs = loss_and_grad_with(F.cross_entropy, logits[3], target[3], reduction=reduction)
        assert ours[0].shape == theirs[0].shape == ()
        torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-12)


def test_chunked_reads_the_deprecated_size_average_and_reduce_as_f_cross_entropy_does():
    logits, target, _ = float64_batch()
    for legacy, reduction in [(dict(reduce=False), "none"), (dict(size_average=False), "sum"),
                              (dict(size_average=True, reduce=True), "mean")]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ours = chunked_cross_entropy(logits, target, **legacy)
        assert any("deprecated" in str(w.message) for w in caught)
        torch.testing.assert_close(ours, F.cross_entropy(logits, target, reduction=reduction), rtol=0, atol=1e-12)


@pytest.mark.parametrize("call, error, words", [
    (lambda x, t: chunked_cross_entropy(x.reshape(23, 13, 1), t[:, None]), ValueError, "input of 3 dimensions"),
    (lambda x, t: chunked_cross_entropy(x, torch.softmax(x, 1)), ValueError, "probability targets"),
    (lambda x, t: chunked_cross_entropy(x, t[:5]), ValueError, "target of shape"),
    (lambda x, t: chunked_cross_entropy(x, t, weight=torch.ones(3)), RuntimeError, "weight of shape"),
    (lambda x, t: chunked_cross_entropy(x, t, reduction="avg"), ValueError, "reduction='avg'"),
    (lambda x, t: chunked_cross_entropy(x, t, label_smoothing=1.5), RuntimeError, "label_smoothing=1.5"),
    (lambda x, t: chunked_cross_entropy(x, t, label_smoothing=-0.1), ValueError, "label_smoothing=-0.1 is not"),
    (lambda x, t: chunked_cross_entropy(x, t, chunk_rows=-1), ValueError, "chunk_rows=-1 is not supported"),
    (lambda x, t: chunked_cross_entropy(x, t, chunk_rows=0), ValueError, "chunk_rows=0 is not supported"),
    (lambda x, t: chunked_cross_entropy(x, t, chunk_rows=2.5), ValueError, "chunk_rows=2.5 is not supported"),
    (lambda x, t: chunked_cross_entropy(x, t, chunk_rows=True), ValueError, "chunk_rows=True is not supported"),
    (lambda x, t: chunked_cross_entropy(x, torch.full_like(t, 13)), IndexError, "target 13 is out of bounds"),
    (lambda x, t: chunked_cross_entropy(x, torch.full_like(t, -100), ignore_index=0), IndexError, "target -100"),
])
def test_chunked_refuses_what_it_does_not_support_with_an_error_naming_the_option(call, error, words):
    logits, target, _ = float64_batch()
    with pytest.raises(error, match=re.escape(words)):
        call(logits, target)


def test_chunked_backward_runs_twice_with_retain_graph_and_passes_gradcheck():
    logits, target, weight = float64_batch(rows=7, classes=5, padding=3)
    leaf = logits.clone().requires_grad_()
    loss = chunked_cross_entropy(leaf, target, chunk_rows=3)
    loss.backward(retain_graph=True)
    first = leaf.grad.clone()
    loss.backward()
    torch.testing.assert_close(leaf.grad, 2 * first, rtol=0, atol=0)
    for reduction in ("mean", "sum", "none"):
        assert torch.autograd.gradcheck(
            lambda x: chunked_cross_entropy(x, target, weight, reduction=reduction, label_smoothing=0.2, chunk_rows=3),
            (logits.clone().requires_grad_(),))


def test_chunked_double_backward_raises_a_clear_error():
    logits, target, _ = float64_batch()
    leaf = logits.clone().requires_grad_()
    with pytest.raises(RuntimeError, match="no double backward"):
        torch.autograd.grad(chunked_cross_entropy(leaf, target), leaf, create_graph=True)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_chunked_in_half_precision_returns_torchs_dtype_and_its_scaled_gradient_does_not_underflow(dtype):
    generator = torch.Generator().manual_seed(5)
    logits = (2 * torch.randn(64, 3000, generator=generator)).to(dtype)
    target = torch.randint(0, 3000, (64,), generator=generator)
    target[::5] = -100
    scale = torch.tensor(2.0**15)  # loss scaling, as torch.amp.GradScaler does
    loss, grad = loss_and_grad_with(chunked_cross_entropy, logits, target, scale.to(dtype), label_smoothing=0.1)
    assert loss.dtype == grad.dtype == F.cross_entropy(logits, target).dtype == dtype
    exact_loss, exact_grad = loss_and_grad_with(F.cross_entropy, logits.double(), target, scale.double(),
                                                label_smoothing=0.1)
    torch.testing.assert_close(loss.double(), exact_loss, rtol=torch.finfo(dtype).eps, atol=0)
    finfo = torch.finfo(dtype)  # rounded once: within one ulp, or one step of the smallest subnormal
    torch.testing.assert_close(grad, exact_grad.to(dtype), rtol=finfo.eps, atol=finfo.tiny * finfo.eps)
    rounded_before_scaling = (exact_grad / scale.double()).to(dtype).double() * scale.double()
    assert (grad == 0).sum() == (exact_grad.to(dtype) == 0).sum()  # the padding rows' zeros, no underflow
    if dtype == torch.float16:  # the test can fail: rounded before scaling, float16 values underflow to 0
        assert (rounded_before_scaling == 0).sum() > (grad == 0).sum()
    with torch.autocast("cpu"):
        assert chunked_cross_entropy(logits, target).dtype == F.cross_entropy(logits, target).dtype == torch.float32


def test_chunked_peak_is_one_buffer_scaled_or_not_and_two_when_the_graph_is_retained():
    logits, target = batch(512, 8000, seed=0)
    buffer = logits.numel() * logits.element_size()
    leaf = logits.clone().requires_grad_()
    peaks = {}
    for name, step in [("plain", lambda: chunked_cross_entropy(leaf, target).backward()),
                       ("scaled", lambda: (0.5 * chunked_cross_entropy(leaf, target)).backward()),
                       ("retained", lambda: chunked_cross_entropy(leaf, target).backward(retain_graph=True))]:
        leaf.grad = None
        peaks[name] = peak_memory(step)
    assert buffer <= peaks["plain"] < 1.01 * buffer
    assert buffer <= peaks["scaled"] < 1.01 * buffer  # the last backward scales the saved gradient in place
    assert 2 * buffer <= peaks["retained"] < 2.01 * buffer  # the saved gradient stays for the next backward


def test_chunked_in_half_precision_holds_one_half_precision_buffer_and_a_float32_chunk():
    logits = torch.randn(512, 8000).to(torch.bfloat16).requires_grad_()
    target = torch.randint(0, 8000, (512,))
    buffer = logits.numel() * logits.element_size()
    chunk = 64 * 8000 * 4
    peak = peak_memory(lambda: chunked_cross_entropy(logits, target, chunk_rows=64).backward())
    assert buffer <= peak < buffer + 1.1 * chunk


def test_memory_timeline_ignores_frees_of_tensors_made_before_it():
    made_before = [torch.empty(1_000_000)]

    def frees_an_old_tensor_and_makes_a_new_one():
        made_before.clear()
        return torch.empty(250_000)

    assert memory_timeline(frees_an_old_tensor_and_makes_a_new_one) == [0, 1_000_000, 0]


def test_memory_meter_refuses_a_torch_version_it_was_not_checked_with(monkeypatch):
    monkeypatch.setattr(torch, "__version__", "2.14.0+cpu")
    with pytest.raises(RuntimeError, match=r"checked with torch 2\.13; this is torch 2\.14\.0\+cpu"):
        peak_memory(lambda: torch.empty(10))


@pytest.mark.parametrize("classes, world_size", [(50257, 2), (1001, 3), (5, 4), (3, 3)])
def test_class_ranges_are_contiguous_cover_every_class_and_differ_by_at_most_one(classes, world_size):
    ranges = [class_range(classes, rank, world_size) for rank in range(world_size)]
    assert ranges[0][0] == 0 and ranges[-1][1] == classes
    assert all(ranges[r][1] == ranges[r + 1][0] for r in range(world_size - 1))
    sizes = [stop - start for start, stop in ranges]
    assert max(sizes) - min(sizes) <= 1


def torchrun(processes, tmp_path, *args):
    """Run xentbook.vocab_parallel on that many processes (gloo, 127.0.0.1, one thread each); its output lines."""
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(processes),
               "--master_addr", "127.0.0.1", "--master_port", str(free_port()), "-m", "xentbook.vocab_parallel", *args]
    start = time.monotonic()
    run = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=120,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert run.returncode == 0, run.stderr[-4000:]
    assert time.monotonic() - start < 60
    return run.stdout.strip().splitlines()


REPORT = re.compile(rf"{vocab_parallel.CHECK_PREFIX} (.+): loss (\S+), F.cross_entropy (\S+), loss error (\S+), "
                    r"gradient error (\S+), tolerance (\S+)(?:, F.cross_entropy in (\w+) (\S+))?")
NOT_A_NUMBER = {"every row padding", "empty batch, mean"}  # F.cross_entropy's mean of no rows: 0 / 0
INFINITE = {"padded vocabulary + label smoothing"}  # smoothing puts weight on the -inf logits: F.cross_entropy's inf
HALF_OVERFLOW = {"float16, 50257 classes"}  # F.cross_entropy's own float16 smoothing sum overflows to inf on CPU


@pytest.mark.parametrize("processes", [2, 3])
def test_vocab_parallel_loss_and_gradient_on_real_processes_match_f_cross_entropy_in_every_case(processes, tmp_path):
    output = torchrun(processes, tmp_path)
    lines = [line for line in output if line.startswith(vocab_parallel.CHECK_PREFIX)]
    assert len(lines) == len(CASES)
    check_loss_parallel_and_data_parallel_lines(output, processes)
    for line, case in zip(lines, CASES):
        match = REPORT.fullmatch(line)
        assert match and match.group(1) == case["name"], line
        name, loss, reference, loss_error, grad_error, tol, half, native = match.groups()
        assert float(loss_error) <= float(tol) and float(grad_error) <= float(tol), line
        assert tol == f"{vocab_parallel.tolerance(case_options(case)['dtype']):.1e}", line
        assert vocab_parallel.tolerance("float16") == 4 * torch.finfo(torch.float16).eps
        if name in NOT_A_NUMBER:
            assert loss == reference == "nan", line
        elif name in INFINITE:
            assert loss == reference == "inf", line
        else:
            assert math.isfinite(float(loss)) and math.isfinite(float(reference)), line
        assert (half is not None) == (case_options(case)["dtype"] != "float64"), line
        if half is not None:  # F.cross_entropy on the half-precision logits: within the tolerance, or its overflow
            if name in HALF_OVERFLOW:
                assert native == "inf", line
            else:
                assert abs(float(native) - float(loss)) <= float(tol) * max(1.0, abs(float(loss))), line
    names = {case["name"] for case in CASES}
    assert NOT_A_NUMBER | INFINITE | HALF_OVERFLOW <= names
    options = [case_options(case) for case in CASES]
    assert {o["reduction"] for o in options} == {"mean", "sum", "none"}
    assert {o["dtype"] for o in options} == {"float64", "float16", "bfloat16"}
    assert {o["classes"] for o in options} >= {50257, 128256} and min(o["rows"] for o in options) == 0
    assert any(o["vocabulary_padding"] and o["label_smoothing"] for o in options)
    assert any(o["vocabulary_padding"] and not o["label_smoothing"] for o in options)


def check_loss_parallel_and_data_parallel_lines(output, processes):
    """PyTorch's loss_parallel agrees with ours on its own shards; the global-count normalisation gives the one-big-batch
    gradient and the mean of the processes' means does not."""
    dtensor = [line for line in output if line.startswith(vocab_parallel.DTENSOR_PREFIX)]
    assert len(dtensor) == 3, output
    for line, reduction in zip(dtensor, ["mean", "sum", "none"]):
        match = re.fullmatch(rf"{vocab_parallel.DTENSOR_PREFIX} {reduction}: shards of \[([\d, ]+)\] classes, loss (\S+), "
                             r"loss_parallel (\S+), loss error (\S+), gradient error (\S+)", line)
        assert match, line
        sizes = [int(size) for size in match.group(1).split(", ")]
        assert len(sizes) == processes and sum(sizes) == DEFAULTS["classes"] and min(sizes) > 0, line
        assert match.group(2) == match.group(3) and float(match.group(4)) <= 1e-12 and float(match.group(5)) <= 1e-12
    (data_parallel,) = [line for line in output if line.startswith(vocab_parallel.DATA_PARALLEL_PREFIX)]
    match = re.fullmatch(rf"{vocab_parallel.DATA_PARALLEL_PREFIX}: kept rows per process \[([\d, ]+)\], (\d+) in all; "
                         r"sum / global kept rows: gradient error (\S+), mean of per-process means: gradient error (\S+)",
                         data_parallel)
    assert match, data_parallel
    counts = [int(count) for count in match.group(1).split(", ")]
    assert len(set(counts)) == processes and sum(counts) == int(match.group(2)), data_parallel  # uneven padding
    assert float(match.group(3)) <= 1e-12 and float(match.group(4)) > 1e-3, data_parallel


def test_f_cross_entropy_in_float16_with_label_smoothing_overflows_at_gpt2s_vocabulary():
    """The case HALF_OVERFLOW names: F.cross_entropy's own result, and the float32 one the losses give instead."""
    logits, target, _ = vocab_parallel.case_inputs(next(c for c in CASES if c["name"] in HALF_OVERFLOW))
    options = dict(ignore_index=-100, label_smoothing=0.1)
    assert F.cross_entropy(logits, target, **options).isinf()
    exact = F.cross_entropy(logits.double(), target, **options)
    for ours in (chunked_cross_entropy(logits, target, **options), F.cross_entropy(logits.float(), target, **options)):
        assert ours.isfinite() and abs(ours.double() - exact) <= torch.finfo(torch.float16).eps * exact


def test_vocab_parallel_on_one_process_refuses_bad_input_clearly():
    logits, target = make_logits(rows=4, classes=10)
    with pytest.raises(ValueError, match="local_logits"):
        vocab_parallel_cross_entropy(logits[0], target, 0)
    with pytest.raises(ValueError, match="label_smoothing"):
        vocab_parallel_cross_entropy(logits, target, 0, label_smoothing=1.5)
    with pytest.raises(ValueError, match="reduction='avg'"):
        vocab_parallel_cross_entropy(logits, target, 0, reduction="avg")
    with pytest.raises(RuntimeError, match="int64"):
        vocab_parallel_cross_entropy(logits, target.int(), 0)


def in_place_hook_runs(loss_fn, logits, target, scale, on_input):
    """Two backwards through one graph (retain_graph=True) with a hook that doubles the gradient in place, then two
    torch.autograd.grad calls whose first result is changed in place: every gradient seen."""
    leaf = logits.clone().requires_grad_()
    hooked = leaf * 1 if on_input else leaf  # a hook on the loss's (non-leaf) input, or on the leaf itself
    hooked.register_hook(lambda g: g.mul_(2))
    loss = scale * loss_fn(hooked, target)
    loss.backward(retain_graph=True)
    first = leaf.grad.clone()
    loss.backward()
    leaf = logits.clone().requires_grad_()
    loss = scale * loss_fn(leaf, target)
    (one,) = torch.autograd.grad(loss, leaf, retain_graph=True)
    one_before = one.clone()
    one.mul_(3)
    (two,) = torch.autograd.grad(loss, leaf)
    return first, leaf.grad, one_before, two


@pytest.mark.parametrize("scale", [1.0, 0.5])
@pytest.mark.parametrize("on_input", [False, True])
def test_chunked_second_backward_after_an_in_place_hook_gives_what_f_cross_entropy_gives(scale, on_input):
    logits, target, weight = float64_batch(padding=4)
    ours = in_place_hook_runs(lambda x, t: chunked_cross_entropy(x, t, weight, chunk_rows=5), logits, target, scale,
                              on_input)
    theirs = in_place_hook_runs(lambda x, t: F.cross_entropy(x, t, weight), logits, target, scale, on_input)
    for mine, torchs in zip(ours, theirs):
        torch.testing.assert_close(mine, torchs, rtol=0, atol=1e-12)
    assert ours[0].abs().max() > 0


POSITIONAL = [
    (None, None, 3), (None, None, 3, None, "sum"), (None, None, -100, None, "none", 0.3),
    ("weight", None, 1, None, "mean", 0.2), (None, False), (None, None, -100, False), (None, True, -100, True, "none"),
]


@pytest.mark.parametrize("args", POSITIONAL, ids=str)
def test_chunked_reads_positional_arguments_in_f_cross_entropys_order(args):
    logits, target, weight = float64_batch(padding=3, ignore_index=3)
    args = tuple(weight if a == "weight" else a for a in args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # size_average and reduce warn in both
        ours = chunked_cross_entropy(logits, target, *args)
        theirs = F.cross_entropy(logits, target, *args)
    assert ours.shape == theirs.shape
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-12)


def test_chunked_takes_chunk_rows_only_by_keyword():
    logits, target, _ = float64_batch()
    with pytest.raises(TypeError):
        chunked_cross_entropy(logits, target, None, None, -100, None, "mean", 0.0, 5)


x32, t64 = torch.randn(6, 4, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 1, 2, 3, 0, 1])
BAD_INPUTS = {  # what F.cross_entropy refuses: the chunked loss must refuse it with the same exception type
    "int32 target": (x32, t64.int(), {}),
    "int16 target": (x32, t64.short(), {}),
    "bool target": (x32, t64.bool(), {}),
    "float64 class indices": (x32, t64.double(), {}),
    "2-d target": (x32, t64[:, None], {}),
    "target of another batch size": (x32, t64[:5], {}),
    "target out of bounds": (x32, torch.full_like(t64, 4), {}),
    "negative target": (x32, torch.full_like(t64, -1), {}),
    "float64 weight, float32 logits": (x32, t64, dict(weight=torch.ones(4, dtype=torch.float64))),
    "float16 weight, float32 logits": (x32, t64, dict(weight=torch.ones(4, dtype=torch.float16))),
    "float32 weight, float64 logits": (x32.double(), t64, dict(weight=torch.ones(4))),
    "float32 weight, bfloat16 logits": (x32.bfloat16(), t64, dict(weight=torch.ones(4))),
    "int64 weight": (x32, t64, dict(weight=torch.ones(4, dtype=torch.long))),
    "weight of 3 classes": (x32, t64, dict(weight=torch.ones(3))),
    "weight of shape (1, 4)": (x32, t64, dict(weight=torch.ones(1, 4))),
    "weight that requires grad": (x32, t64, dict(weight=torch.ones(4, requires_grad=True))),
    "label_smoothing 1.5": (x32, t64, dict(label_smoothing=1.5)),
    "reduction 'avg'": (x32, t64, dict(reduction="avg")),
    "reduction None": (x32, t64, dict(reduction=None)),
    "ignore_index 1.0": (x32, t64, dict(ignore_index=1.0)),
    "ignore_index True": (x32, t64, dict(ignore_index=True)),
    "int64 logits": (x32.long(), t64, {}),
    "complex logits": (x32.cfloat(), t64, {}),
    "0-d logits": (torch.tensor(1.0), torch.tensor(0), {}),
    "0 classes": (torch.zeros(6, 0), torch.zeros(6, dtype=torch.long), {}),
}


@pytest.mark.parametrize("name", BAD_INPUTS)
def test_chunked_refuses_what_f_cross_entropy_refuses_with_the_same_exception_type(name):
    logits, target, options = BAD_INPUTS[name]
    with pytest.raises(Exception) as theirs:
        F.cross_entropy(logits, target, **options)
    with pytest.raises(Exception) as ours:
        chunked_cross_entropy(logits, target, **options)
    assert type(ours.value) is type(theirs.value), (ours.value, theirs.value)
    assert len(str(ours.value)) > 20  # a message, not a bare exception


def test_chunked_under_autocast_returns_f_cross_entropys_dtype_and_refuses_what_it_refuses():
    generator = torch.Generator().manual_seed(2)
    logits, target = torch.randn(9, 7, generator=generator), torch.randint(0, 7, (9,), generator=generator)
    dtypes = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
    seen = set()
    for autocast_dtype in (torch.bfloat16, torch.float16):
        for dtype, weight_dtype in itertools.product(dtypes, [None, *dtypes]):
            x = logits.to(dtype)
            options = {} if weight_dtype is None else dict(weight=torch.linspace(0.5, 2, 7, dtype=weight_dtype))
            with torch.autocast("cpu", dtype=autocast_dtype):
                try:
                    theirs = F.cross_entropy(x, target, **options)
                except RuntimeError:
                    with pytest.raises(RuntimeError, match="does not match input"):
                        chunked_cross_entropy(x, target, **options)
                    continue
                ours = chunked_cross_entropy(x, target, **options)
            assert ours.dtype == theirs.dtype
            seen.add(str(ours.dtype))
            torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-6)
    assert seen == {"torch.float32", "torch.float64"}  # float64 stays float64 under autocast


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])
def test_chunked_gives_what_f_cross_entropy_gives_on_an_empty_batch(reduction, dtype):
    logits, target = torch.zeros(0, 5, dtype=dtype), torch.zeros(0, dtype=torch.long)
    ours = loss_and_grad_with(chunked_cross_entropy, logits, target, reduction=reduction)
    theirs = loss_and_grad_with(F.cross_entropy, logits, target, reduction=reduction)
    for mine, torchs in zip(ours, theirs):
        assert mine.shape == torchs.shape and mine.dtype == torchs.dtype
        torch.testing.assert_close(mine, torchs, equal_nan=True)


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_chunked_gives_what_f_cross_entropy_gives_on_a_padded_vocabulary_of_minus_inf_logits(label_smoothing):
    logits, target, _ = float64_batch(padding=5)
    logits[:, 10:] = -torch.inf  # classes 10 to 12 are padding of the vocabulary
    target[1] = 11  # a target in the padding: an infinite loss
    for reduction in ("none", "sum"):
        ours = loss_and_grad_with(chunked_cross_entropy, logits, target, reduction=reduction,
                                  label_smoothing=label_smoothing, chunk_rows=4)
        theirs = loss_and_grad_with(F.cross_entropy, logits, target, reduction=reduction,
                                    label_smoothing=label_smoothing)
        torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-12, equal_nan=True)
