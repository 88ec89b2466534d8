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

RESULT_PREFIX = "vocab-parallel loss over"


def make_logits(seed=0, rows=64, classes=50257):
    """The seeded standard-normal logits and random targets that every process, and the notebook, rebuild."""
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(rows, classes, generator=generator)
    target = torch.randint(0, classes, (rows,), generator=generator)
    return logits, target


def class_range(classes, rank, world_size):
    """The classes [start, stop) that one process holds: contiguous slices whose sizes differ by at most one."""
    return classes * rank // world_size, classes * (rank + 1) // world_size


def vocab_parallel_cross_entropy(local_logits, target, class_start):
    """Mean cross entropy when this process holds only the columns class_start, class_start + 1, ... of the logits."""
    # 1. The shift of the log-sum-exp trick: the largest logit of each row, over all processes.
    row_max = local_logits.max(dim=-1).values
    dist.all_reduce(row_max, op=dist.ReduceOp.MAX)
    shifted = local_logits - row_max[:, None]
    # 2. The softmax denominator: every process sums its slice, the all-reduce adds the slices up.
    sum_exp = torch.exp(shifted).sum(dim=-1)
    dist.all_reduce(sum_exp, op=dist.ReduceOp.SUM)
    # 3. The target's shifted logit: the process that holds the target class gives it, the others give 0.
    local_classes = local_logits.shape[-1]
    local_target = target - class_start
    in_slice = (local_target >= 0) & (local_target < local_classes)
    rows = torch.arange(target.shape[0])
    picked = shifted[rows, local_target.clamp(0, local_classes - 1)]
    target_logit = torch.where(in_slice, picked, 0.0)
    dist.all_reduce(target_logit, op=dist.ReduceOp.SUM)
    # -log p_target = log(sum exp(z - max)) - (z_target - max), averaged over the rows.
    return (torch.log(sum_exp) - target_logit).mean()


def main(argv=None):
    """torchrun entry point: every process takes its slice of the seeded logits; rank 0 prints the loss."""
    parser = argparse.ArgumentParser(description="Vocabulary-parallel cross entropy on seeded logits.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--classes", type=int, default=50257)
    args = parser.parse_args(argv)
    dist.init_process_group("gloo")
    try:
        rank, world_size = dist.get_rank(), dist.get_world_size()
        logits, target = make_logits(args.seed, args.rows, args.classes)
        start, stop = class_range(args.classes, rank, world_size)
        loss = vocab_parallel_cross_entropy(logits[:, start:stop], target, start)
        if rank == 0:
            print(f"{RESULT_PREFIX} {world_size} processes: {loss.item()!r}", flush=True)
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
