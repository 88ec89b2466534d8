"""Vocabulary-parallel cross entropy (chapter 10): each process holds only a slice of the classes.

Two all-reduces over the processes give every process the loss, although none of them ever holds a whole row of
logits (Megatron-LM's vocabulary-parallel loss uses the same scheme, with three):

1. MAX of the row maxima, the shift of the log-sum-exp trick;
2. SUM, in one call, of each slice's sum of exp(z - max) (the softmax denominator), of the target's shifted logit
   (only the process holding the target class contributes it, the others 0), of the sum of the shifted logits (for
   label smoothing) and of the number of classes.

``dist.all_reduce`` is not differentiable, so the loss is a ``torch.autograd.Function`` whose backward returns this
slice's columns of the gradient, which need no further communication. ``VocabParallelCrossEntropy``,
``check_targets`` and ``vocab_parallel_cross_entropy`` are defined, to the letter, in cells of
``chapters/10_large_vocab.ipynb``. Check them on two processes on one machine with torchrun (the gloo backend
works on CPUs)::

    OMP_NUM_THREADS=1 python -m torch.distributed.run --nproc_per_node 2 \
        --master_addr 127.0.0.1 --master_port 29517 -m xentbook.vocab_parallel

Every process builds the same seeded logits of each case in ``CASES`` with ``case_inputs`` and keeps its own
slice of the columns (in a model, each process would compute only its slice, with its slice of the output layer);
rank 0 prints, per case, the loss (for reduction 'none', the sum of the row losses), ``F.cross_entropy``'s on the
whole logits (for float16 and bfloat16, on their float32 copy, rounded once; see ``check``), the largest relative
loss and gradient errors over the processes, the tolerance of the case's dtype, and for float16 and bfloat16
``F.cross_entropy`` on the half-precision logits themselves.
"""

import argparse

import torch
import torch.distributed as dist
import torch.nn.functional as F

def make_logits(seed=0, rows=64, classes=50257, dtype=torch.float32):
    """The seeded standard-normal logits and random targets that every process, and the notebook, rebuild."""
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(rows, classes, generator=generator, dtype=dtype)
    target = torch.randint(0, classes, (rows,), generator=generator)
    return logits, target


def class_range(classes, rank, world_size):
    """The classes [start, stop) that one process holds: contiguous slices whose sizes differ by at most one."""
    return classes * rank // world_size, classes * (rank + 1) // world_size


class VocabParallelCrossEntropy(torch.autograd.Function):
    """Cross entropy over a slice of the classes, with its gradient (this slice's columns) written by hand."""

    @staticmethod
    def forward(ctx, local_logits, target, class_start, ignore_index, reduction, label_smoothing):
        ctx.dtype, ctx.reduction = local_logits.dtype, reduction
        # float16 and bfloat16 logits are computed in float32 and rounded once at the end, as in chunked_cross_entropy
        local = local_logits if local_logits.dtype == torch.float64 else local_logits.float()
        m, local_classes = len(target), local.shape[1]
        rows, kept = torch.arange(m), target != ignore_index
        local_target = target - class_start
        in_slice = kept & (local_target >= 0) & (local_target < local_classes)
        # 1. MAX: the shift of the log-sum-exp trick, the largest logit of each row over all processes.
        row_max = local.amax(dim=1) if local_classes else torch.full((m,), -torch.inf, dtype=local.dtype)
        dist.all_reduce(row_max, op=dist.ReduceOp.MAX)
        shifted = local - row_max[:, None]
        exp_shifted = torch.exp(shifted)
        # 2. SUM, all in one all-reduce: each slice's sum of exp(z - max), the target's shifted logit (given by
        #    the process that holds the target class, 0 from the others), the sum of the shifted logits
        #    (for label smoothing), and the number of classes.
        picked = shifted[rows, local_target.clamp(0, max(local_classes - 1, 0))] if local_classes else row_max
        sums = torch.cat([exp_shifted.sum(dim=1), torch.where(in_slice, picked, 0.0), shifted.sum(dim=1),
                          torch.tensor([local_classes], dtype=local.dtype)])
        dist.all_reduce(sums, op=dist.ReduceOp.SUM)
        sum_exp, target_logit, shifted_sum, classes = sums[:m], sums[m:2 * m], sums[2 * m:3 * m], int(sums[-1])
        check_targets(target, kept, classes, ignore_index)
        # -log p_y = log(sum exp(z - max)) - (z_y - max); PyTorch's smoothing adds eps/C sum_c -log p_c.
        eps = label_smoothing
        row_losses = torch.log(sum_exp) - (1 - eps) * target_logit
        if eps:  # only then: a padded vocabulary's -inf logits make shifted_sum -inf, and 0 * -inf is nan
            row_losses = row_losses - eps / classes * shifted_sum
        row_losses = torch.where(kept, row_losses, 0.0)
        # The gradient of this slice's columns, p - (1 - eps) onehot - eps/C per row: no communication.
        grad = exp_shifted.div_(sum_exp[:, None])
        if eps:
            grad.sub_(eps / classes)
        grad[in_slice.nonzero()[:, 0], local_target[in_slice]] -= 1 - eps
        if reduction == "mean":
            grad.div_(kept.sum())
        grad[~kept] = 0  # padding rows get no gradient (and no 0/0 when every row is padding)
        ctx.save_for_backward(grad)
        if reduction == "none":
            return row_losses.to(ctx.dtype)
        loss = row_losses.sum()
        return (loss / kept.sum() if reduction == "mean" else loss).to(ctx.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        if torch.is_grad_enabled():
            raise RuntimeError("vocab_parallel_cross_entropy has no double backward (create_graph=True)")
        (grad,) = ctx.saved_tensors
        scale = (grad_output[:, None] if ctx.reduction == "none" else grad_output).to(grad.dtype)
        return (grad * scale).to(ctx.dtype), None, None, None, None, None  # a new tensor: grad stays for a second


def check_targets(target, kept, classes, ignore_index):
    """Raise, on every process alike, for a class index that no process holds (it is not ignore_index)."""
    if classes == 0:
        raise ValueError("no process holds any class: every local_logits has 0 columns")
    bad = kept & ((target < 0) | (target >= classes))
    if bad.any():
        raise IndexError(f"target {target[bad][0].item()} is out of bounds for {classes} classes "
                         f"(and is not ignore_index={ignore_index})")


def vocab_parallel_cross_entropy(local_logits, target, class_start, ignore_index=-100, reduction="mean",
                                 label_smoothing=0.0):
    """F.cross_entropy(logits, target, ignore_index=..., reduction=..., label_smoothing=...) when this process holds
    only the columns class_start, class_start + 1, ... of the (m, C) logits; a process may hold none."""
    if local_logits.dim() != 2 or target.shape != local_logits.shape[:1]:
        raise ValueError(f"give (m, local classes) local_logits and m targets, not {tuple(local_logits.shape)} "
                         f"and {tuple(target.shape)}")
    if not local_logits.is_floating_point() or target.dtype not in (torch.int64, torch.uint8):
        raise RuntimeError(f"give floating-point local_logits and int64 (or uint8) targets, not "
                           f"{local_logits.dtype} and {target.dtype}")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"reduction={reduction!r} is not supported: give 'none', 'mean' or 'sum'")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing={label_smoothing} is not supported: give a number from 0.0 to 1.0")
    return VocabParallelCrossEntropy.apply(local_logits, target.long(), class_start, ignore_index, reduction,
                                           label_smoothing)


CHECK_PREFIX = "vocab-parallel check"
# Every case: its name and, where they differ from DEFAULTS, its rows, classes, ignore_index, label_smoothing,
# padding (every how many rows is padding; 0: none), split (who holds which classes), reduction, dtype and
# vocabulary_padding (how many classes at the end are padding of the vocabulary, with -inf logits).
DEFAULTS = dict(rows=12, classes=101, ignore_index=-100, label_smoothing=0.0, padding=0, split="even",
                reduction="mean", dtype="float64", vocabulary_padding=0)
CASES = [
    dict(name="plain"),
    dict(name="padding rows", padding=3),
    dict(name="label smoothing", label_smoothing=0.1),
    dict(name="padding rows + label smoothing", label_smoothing=0.1, padding=3),
    dict(name="ignore_index=7 + label smoothing", ignore_index=7, label_smoothing=0.2, padding=4),
    dict(name="every row padding", rows=6, classes=31, label_smoothing=0.1, padding=1),
    dict(name="process 0 holds no class", classes=31, label_smoothing=0.1, padding=3, split="first empty"),
    dict(name="reduction sum", label_smoothing=0.1, padding=3, reduction="sum"),
    dict(name="reduction none", label_smoothing=0.1, padding=3, reduction="none"),
    dict(name="empty batch, mean", rows=0),
    dict(name="empty batch, none", rows=0, reduction="none"),
    dict(name="padded vocabulary", classes=128, vocabulary_padding=27, padding=3),
    dict(name="padded vocabulary + label smoothing", classes=128, vocabulary_padding=27, label_smoothing=0.1),
    dict(name="float16, 50257 classes", rows=8, classes=50257, dtype="float16", label_smoothing=0.1, padding=3),
    dict(name="bfloat16, 50257 classes", rows=8, classes=50257, dtype="bfloat16", padding=3),
    dict(name="float16, 128256 classes", rows=8, classes=128256, dtype="float16", padding=3),
    dict(name="bfloat16, 128256 classes", rows=8, classes=128256, dtype="bfloat16", label_smoothing=0.1,
         reduction="sum"),
]


def case_options(case):
    """A case of CASES with every setting of DEFAULTS filled in."""
    return {**DEFAULTS, **case}


def case_range(classes, rank, world_size, split):
    """The classes [start, stop) a process holds: even slices, or none for process 0 and even slices for the rest."""
    if split == "even":
        return class_range(classes, rank, world_size)
    if rank == 0:
        return 0, 0
    return class_range(classes, rank - 1, world_size - 1)


def case_inputs(case, seed=0):
    """The case's seeded logits (in its dtype), targets (padding rows set to ignore_index) and grad_output."""
    c = case_options(case)
    logits, target = make_logits(seed, c["rows"], c["classes"], dtype=torch.float64)
    if c["vocabulary_padding"]:  # the last classes pad the vocabulary: -inf logits, never a target
        real = c["classes"] - c["vocabulary_padding"]
        logits[:, real:] = -torch.inf
        target %= real
    if c["padding"]:
        target[::c["padding"]] = c["ignore_index"]
    dtype = getattr(torch, c["dtype"])
    grad_output = torch.linspace(0.5, 1.5, c["rows"], dtype=dtype) if c["reduction"] == "none" else torch.tensor(
        0.75, dtype=dtype)
    return logits.to(dtype), target, grad_output


def tolerance(dtype):
    """The largest relative error a case of this dtype may show against its reference: 1e-9 in float64 (where both
    are exact to far better), four units of rounding in float16 and bfloat16 (both round a float32 result once)."""
    return 1e-9 if dtype == "float64" else 4 * torch.finfo(getattr(torch, dtype)).eps


def relative_error(ours, theirs):
    """max |ours - theirs| / max(1, max |theirs|); 0 where both are the same inf or nan, and for empty tensors."""
    ours, theirs = ours.double(), theirs.double()
    same = (ours == theirs) | (ours.isnan() & theirs.isnan())
    if same.all():
        return 0.0
    scale = max(1.0, theirs[theirs.isfinite()].abs().max().item() if theirs.isfinite().any() else 1.0)
    return ((ours - theirs).abs()[~same].max() / scale).item()


def check(rank, world_size, seed=0):
    """Every case of CASES on this process's slice; rank 0 prints the worst errors over the processes.

    The reference is F.cross_entropy on the whole logits; for float16 and bfloat16 it runs on a float32 copy and its
    loss and gradient are rounded once to the case's dtype (the way the vocabulary-parallel loss computes, and what
    autocast would run), and F.cross_entropy on the half-precision logits themselves is printed beside it."""
    for case in CASES:
        c = case_options(case)
        logits, target, grad_output = case_inputs(case, seed)
        options = dict(ignore_index=c["ignore_index"], reduction=c["reduction"], label_smoothing=c["label_smoothing"])
        half = logits.dtype in (torch.float16, torch.bfloat16)
        whole = (logits.float() if half else logits).clone().requires_grad_()
        reference = F.cross_entropy(whole, target, **options)
        reference.backward(grad_output.to(whole.dtype))
        reference, reference_grad = reference.detach().to(logits.dtype), whole.grad.to(logits.dtype)
        start, stop = case_range(c["classes"], rank, world_size, c["split"])
        local = logits[:, start:stop].clone().requires_grad_()
        loss = vocab_parallel_cross_entropy(local, target, start, **options)
        loss.backward(grad_output)
        assert loss.dtype == reference.dtype and loss.shape == reference.shape and local.grad.dtype == local.dtype
        gradient_scale = (reference_grad.double().abs().max().item() if reference_grad.numel() else 0.0) or 1.0
        errors = torch.tensor([relative_error(loss, reference),
                               relative_error(local.grad.double() / gradient_scale,
                                              reference_grad[:, start:stop].double() / gradient_scale)])
        dist.all_reduce(errors, op=dist.ReduceOp.MAX)
        if rank == 0:
            native = (f", F.cross_entropy in {c['dtype']} "
                      f"{F.cross_entropy(logits, target, **options).double().sum().item():.6f}" if half else "")
            print(f"{CHECK_PREFIX} {c['name']}: loss {loss.double().sum().item():.6f}, F.cross_entropy "
                  f"{reference.double().sum().item():.6f}, loss error {errors[0].item():.1e}, gradient error "
                  f"{errors[1].item():.1e}, tolerance {tolerance(c['dtype']):.1e}{native}", flush=True)


DTENSOR_PREFIX = "loss_parallel check"
DATA_PARALLEL_PREFIX = "data-parallel check"


def dtensor_check(rank, world_size, seed=0):
    """PyTorch's own vocabulary-parallel loss (loss_parallel, a DTensor sharded on the classes) against ours, on the
    same shards, loss and gradient, for each reduction; rank 0 prints the largest errors over the processes."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import DTensor, Shard, distribute_tensor
    from torch.distributed.tensor.parallel import loss_parallel

    mesh = init_device_mesh("cpu", (world_size,))
    for reduction in ("mean", "sum", "none"):
        case = dict(name=f"loss_parallel, {reduction}", padding=3, reduction=reduction)
        logits, target, grad_output = case_inputs(case, seed)
        sharded = distribute_tensor(logits, mesh, [Shard(1)]).requires_grad_()  # torch.chunk's slices of classes
        with loss_parallel():  # F.cross_entropy on a DTensor sharded on the classes; its backward inside too
            theirs = F.cross_entropy(sharded, target, ignore_index=-100, reduction=reduction)
            theirs.backward(DTensor.from_local(grad_output, mesh, theirs.placements))
        shard = sharded.to_local()
        sizes = [0] * world_size
        dist.all_gather_object(sizes, shard.shape[1])
        start = sum(sizes[:rank])  # where this process's shard starts
        local = shard.detach().clone().requires_grad_()
        ours = vocab_parallel_cross_entropy(local, target, start, ignore_index=-100, reduction=reduction)
        ours.backward(grad_output)
        errors = torch.tensor([(ours - theirs.full_tensor()).abs().max().item(),
                               (local.grad - sharded.grad.to_local()).abs().max().item()])
        dist.all_reduce(errors, op=dist.ReduceOp.MAX)
        if rank == 0:
            print(f"{DTENSOR_PREFIX} {reduction}: shards of {sizes} classes, loss {ours.sum().item():.6f}, "
                  f"loss_parallel {theirs.full_tensor().sum().item():.6f}, loss error {errors[0].item():.1e}, "
                  f"gradient error {errors[1].item():.1e}", flush=True)


def data_parallel_check(rank, world_size, seed=0, rows=8, features=6, classes=11):
    """Data parallelism: each process holds some rows (with its own number of padding rows) and the same linear
    model; the weight's gradient, summed over the processes, against the one-big-batch gradient of F.cross_entropy,
    for two normalisations: the sum of the losses over the global number of kept rows, and the mean of the
    processes' means (divided by the number of processes, as DistributedDataParallel averages). Rank 0 prints."""
    generator = torch.Generator().manual_seed(seed)
    weight = torch.randn(features, classes, generator=generator, dtype=torch.float64)
    features_all = torch.randn(world_size * rows, features, generator=generator, dtype=torch.float64)
    target_all = torch.randint(0, classes, (world_size * rows,), generator=generator)
    for r in range(world_size):  # process r has 1 + 3 r padding rows (mod rows): uneven on purpose
        target_all[r * rows: r * rows + (1 + 3 * r) % rows] = -100
    big = weight.clone().requires_grad_()
    F.cross_entropy(features_all @ big, target_all).backward()  # one big batch, on one process
    mine = slice(rank * rows, (rank + 1) * rows)
    features_mine, target_mine = features_all[mine], target_all[mine]
    kept = torch.tensor([(target_mine != -100).sum().item()])
    dist.all_reduce(kept)  # the global number of kept rows
    grads = {}
    for name, loss_fn in [("sum / global kept rows",
                           lambda z: F.cross_entropy(z, target_mine, reduction="sum") / kept.item()),
                          ("mean of per-process means",
                           lambda z: F.cross_entropy(z, target_mine) / world_size)]:
        replica = weight.clone().requires_grad_()
        loss_fn(features_mine @ replica).backward()
        dist.all_reduce(replica.grad)  # what DistributedDataParallel does to every gradient
        grads[name] = replica.grad
    counts = [0] * world_size
    dist.all_gather_object(counts, (target_mine != -100).sum().item())
    if rank == 0:
        errors = ", ".join(f"{name}: gradient error {(g - big.grad).abs().max().item():.1e}"
                           for name, g in grads.items())
        print(f"{DATA_PARALLEL_PREFIX}: kept rows per process {counts}, {kept.item()} in all; {errors}", flush=True)


def main(argv=None):
    """torchrun entry point: every process checks its slice of every case of CASES, then runs dtensor_check and
    data_parallel_check; rank 0 prints the results."""
    parser = argparse.ArgumentParser(description="Vocabulary-parallel cross entropy against F.cross_entropy.")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    dist.init_process_group("gloo")
    try:
        check(dist.get_rank(), dist.get_world_size(), args.seed)
        dtensor_check(dist.get_rank(), dist.get_world_size(), args.seed)
        data_parallel_check(dist.get_rank(), dist.get_world_size(), args.seed)
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
