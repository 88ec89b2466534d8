"""Row-chunked cross entropy that writes its gradient during the forward pass (chapter 10).

``ChunkedCrossEntropy`` and ``chunked_cross_entropy`` are defined, to the letter, in cells of
``chapters/10_large_vocab.ipynb``; ``tests/test_notebooks.py`` checks that they match. The memory meter the chapter
uses lives apart, in ``xentbook.measuring``.
"""

import torch


class ChunkedCrossEntropy(torch.autograd.Function):
    """Mean cross entropy, a chunk of rows at a time, with its gradient written during the forward pass."""

    @staticmethod
    def forward(ctx, logits, target, chunk_rows):
        m = logits.shape[0]
        grad_logits = torch.empty_like(logits)  # the one m x C buffer: it ends up as logits.grad
        row_losses = torch.empty(m, dtype=logits.dtype, device=logits.device)
        for start in range(0, m, chunk_rows):
            chunk = logits[start : start + chunk_rows]
            chunk_target = target[start : start + chunk_rows]
            rows = torch.arange(chunk.shape[0], device=logits.device)
            grad_chunk = grad_logits[start : start + chunk_rows]  # a view: this chunk's rows of the buffer
            row_max = chunk.max(dim=-1, keepdim=True).values
            torch.sub(chunk, row_max, out=grad_chunk)  # z - M, written straight into the buffer
            shifted_target = grad_chunk[rows, chunk_target]  # z_y - M (indexing with a tensor copies it out)
            grad_chunk.exp_()  # exp(z - M)
            sum_exp = grad_chunk.sum(dim=-1, keepdim=True)
            row_losses[start : start + chunk_rows] = torch.log(sum_exp[:, 0]) - shifted_target  # -log p_y
            grad_chunk.div_(sum_exp)  # p
            grad_chunk[rows, chunk_target] -= 1  # p - onehot
            grad_chunk.div_(m)  # (p - onehot) / m, the gradient of the mean
        ctx.grad_logits = grad_logits
        return row_losses.mean()

    @staticmethod
    def backward(ctx, grad_output):
        grad_logits = ctx.grad_logits
        del ctx.grad_logits  # hand the buffer to autograd rather than keep a second reference (backward runs once)
        if grad_output.item() != 1.0:  # loss.backward() sends 1.0: then there is nothing to scale
            grad_logits.mul_(grad_output)
        return grad_logits, None, None


def chunked_cross_entropy(logits, target, chunk_rows=64):
    """F.cross_entropy(logits, target) for m x C logits and class-index targets, chunk_rows rows at a time."""
    return ChunkedCrossEntropy.apply(logits, target, chunk_rows)
