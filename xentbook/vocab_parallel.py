"""Vocabulary-parallel cross entropy (chapter 10): each process holds only a slice of the classes.

Three all-reduces over the processes (the scheme Megatron-LM uses for its vocabulary-parallel loss) give every
process the loss, although none of them ever holds a whole row of logits:

1. MAX of the row maxima, the shift of the log-sum-exp trick;
2. SUM of each slice's sum of exp(z - max), the softmax denominator;
3. SUM of the target's shifted logit, which only the process holding the target class contributes (the others 0).

``vocab_parallel_cross_entropy`` is defined, to the letter, in a cell of ``chapters/10_large_vocab.ipynb``.
Run it on two processes on one machine with torchrun (the gloo backend works on CPUs)::

    OMP_NUM_THREADS=1 python -m torch.distributed.run --nproc_per_node 2 \
        --master_addr 127.0.0.1 --master_port 29517 -m xentbook.vocab_parallel --rows 64 --classes 50257

Every process builds the same seeded logits with ``make_logits`` and keeps its own slice of the columns (in a
model, each process would compute only its slice, with its slice of the output layer). Rank 0 prints one line,
``vocab-parallel loss over 2 processes: <loss>``, with the loss's float32 value written exactly (Python repr).
"""

import argparse

import torch
import torch.distributed as dist
import torch.nn.functional as F

RESULT_PREFIX = "vocab-parallel loss over"


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
    """Mean cross entropy over a slice of the classes, with its gradient (this slice's columns) written by hand."""

    @staticmethod
    def forward(ctx, local_logits, target, class_start, ignore_index, label_smoothing):
        rows, local_classes = torch.arange(len(target)), local_logits.shape[1]
        kept = target != ignore_index
        local_target = target - class_start
        in_slice = kept & (local_target >= 0) & (local_target < local_classes)
        # 1. MAX: the shift of the log-sum-exp trick, the largest logit of each row over all processes.
        row_max = local_logits.amax(dim=1) if local_classes else torch.full_like(target, -torch.inf, dtype=local_logits.dtype)
        dist.all_reduce(row_max, op=dist.ReduceOp.MAX)
        shifted = local_logits - row_max[:, None]
        exp_shifted = torch.exp(shifted)
        # 2. SUM, all in one all-reduce: each slice's sum of exp(z - max), the target's shifted logit (given by
        #    the process that holds the target class, 0 from the others), the sum of the shifted logits
        #    (for label smoothing), and the number of classes.
        picked = shifted[rows, local_target.clamp(0, max(local_classes - 1, 0))] if local_classes else row_max
        sums = torch.stack([exp_shifted.sum(dim=1), torch.where(in_slice, picked, 0.0), shifted.sum(dim=1),
                            torch.full_like(row_max, local_classes)])
        dist.all_reduce(sums, op=dist.ReduceOp.SUM)
        sum_exp, target_logit, shifted_sum, classes = sums[0], sums[1], sums[2], sums[3, 0].item()
        check_targets(target, kept, classes, ignore_index)
        # -log p_y = log(sum exp(z - max)) - (z_y - max); PyTorch's smoothing adds eps/C sum_c -log p_c.
        eps, log_sum = label_smoothing, torch.log(sum_exp)
        row_losses = log_sum - (1 - eps) * target_logit - eps / classes * shifted_sum
        kept_rows = kept.sum()
        # The gradient of this slice's columns, (p - (1 - eps) onehot - eps/C) / kept rows: no communication.
        grad = exp_shifted.div_(sum_exp[:, None]).sub_(eps / classes)
        grad[in_slice.nonzero()[:, 0], local_target[in_slice]] -= 1 - eps
        grad.div_(kept_rows)[~kept] = 0  # padding rows get no gradient
        ctx.save_for_backward(grad)
        return torch.where(kept, row_losses, 0.0).sum() / kept_rows

    @staticmethod
    def backward(ctx, grad_output):
        if torch.is_grad_enabled():
            raise RuntimeError("vocab_parallel_cross_entropy has no double backward (create_graph=True)")
        (grad,) = ctx.saved_tensors
        return grad * grad_output, None, None, None, None


def check_targets(target, kept, classes, ignore_index):
    """Raise, on every process alike, for a class index that no process holds (it is not ignore_index)."""
    if classes == 0:
        raise ValueError("no process holds any class: every local_logits has 0 columns")
    bad = kept & ((target < 0) | (target >= classes))
    if bad.any():
        raise IndexError(f"target {target[bad][0].item()} is out of bounds for {classes} classes "
                         f"(and is not ignore_index={ignore_index})")


def vocab_parallel_cross_entropy(local_logits, target, class_start, ignore_index=-100, label_smoothing=0.0):
    """F.cross_entropy(logits, target, ignore_index=..., label_smoothing=...) (the mean) when this process holds only
    the columns class_start, class_start + 1, ... of the logits; a process may hold none."""
    if local_logits.dim() != 2 or target.shape != local_logits.shape[:1]:
        raise ValueError(f"give (N, local classes) local_logits and N targets, not {tuple(local_logits.shape)} "
                         f"and {tuple(target.shape)}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing={label_smoothing} is not supported: give a number from 0.0 to 1.0")
    return VocabParallelCrossEntropy.apply(local_logits, target, class_start, ignore_index, label_smoothing)


CHECK_PREFIX = "vocab-parallel check"
# name, rows, classes, ignore_index, label_smoothing, every how many rows is padding (0: none), who holds classes
CASES = [
    ("plain", 12, 101, -100, 0.0, 0, "even"),
    ("padding rows", 12, 101, -100, 0.0, 3, "even"),
    ("label smoothing", 12, 101, -100, 0.1, 0, "even"),
    ("padding rows + label smoothing", 12, 101, -100, 0.1, 3, "even"),
    ("ignore_index=7 + label smoothing", 12, 101, 7, 0.2, 4, "even"),
    ("every row padding", 6, 31, -100, 0.1, 1, "even"),
    ("process 0 holds no class", 12, 31, -100, 0.1, 3, "first empty"),
]


def case_range(classes, rank, world_size, split):
    """The classes [start, stop) a process holds: even slices, or none for process 0 and even slices for the rest."""
    if split == "even":
        return class_range(classes, rank, world_size)
    if rank == 0:
        return 0, 0
    return class_range(classes, rank - 1, world_size - 1)


def check(rank, world_size, seed=0):
    """Every case of CASES in float64, on this process's slice; rank 0 prints the worst error over the processes."""
    for name, rows, classes, ignore_index, label_smoothing, padding, split in CASES:
        logits, target = make_logits(seed, rows, classes, dtype=torch.float64)
        if padding:
            target[::padding] = ignore_index
        options = dict(ignore_index=ignore_index, label_smoothing=label_smoothing)
        whole = logits.clone().requires_grad_()
        reference = F.cross_entropy(whole, target, **options)
        reference.backward()
        start, stop = case_range(classes, rank, world_size, split)
        local = logits[:, start:stop].clone().requires_grad_()
        loss = vocab_parallel_cross_entropy(local, target, start, **options)
        loss.backward()
        same_nan = bool(loss.isnan() and reference.isnan())
        errors = torch.tensor([0.0 if same_nan else (loss - reference).abs().item(),
                               (local.grad - whole.grad[:, start:stop]).abs().max().item() if stop > start else 0.0])
        dist.all_reduce(errors, op=dist.ReduceOp.MAX)
        if rank == 0:
            print(f"{CHECK_PREFIX} {name}: loss {loss.item():.6f}, F.cross_entropy {reference.item():.6f}, "
                  f"loss error {errors[0].item():.1e}, gradient error {errors[1].item():.1e}", flush=True)


def main(argv=None):
    """torchrun entry point: every process takes its slice of the seeded logits; rank 0 prints the loss (or, with
    --check, every case of CASES against F.cross_entropy)."""
    parser = argparse.ArgumentParser(description="Vocabulary-parallel cross entropy on seeded logits.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--classes", type=int, default=50257)
    parser.add_argument("--check", action="store_true", help="check loss and gradient on every case of CASES")
    args = parser.parse_args(argv)
    dist.init_process_group("gloo")
    try:
        rank, world_size = dist.get_rank(), dist.get_world_size()
        if args.check:
            check(rank, world_size, args.seed)
            return
        logits, target = make_logits(args.seed, args.rows, args.classes)
        start, stop = class_range(args.classes, rank, world_size)
        loss = vocab_parallel_cross_entropy(logits[:, start:stop], target, start)
        if rank == 0:
            print(f"{RESULT_PREFIX} {world_size} processes: {loss.item()!r}", flush=True)
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
