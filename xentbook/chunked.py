"""Row-chunked cross entropy that writes its gradient during the forward pass (chapter 10).

``check_cross_entropy_options``, ``cross_entropy_rows``, ``ChunkedCrossEntropy`` and ``chunked_cross_entropy`` are
defined, to the letter, in cells of ``chapters/10_large_vocab.ipynb``; ``tests/test_notebooks.py`` checks that they
match. ``xentbook.fused`` reuses ``check_cross_entropy_options`` and ``cross_entropy_rows``. The memory meter the
chapter uses lives apart, in ``xentbook.measuring``.
"""

import warnings

import torch


def check_cross_entropy_options(input, target, weight, ignore_index, reduction, label_smoothing):
    """Refuse what F.cross_entropy refuses, with its exception type, and, with a ValueError, what these losses do not
    support; each message names the option."""
    if input.dim() == 0:
        raise RuntimeError("input of 0 dimensions: give (C,) or (m, C) logits")
    if input.dim() > 2:
        raise ValueError(f"input of {input.dim()} dimensions is not supported: give (C,) or (m, C) logits "
                         f"(for (m, C, d1, ...) logits, move the class dimension last and flatten the rest into rows)")
    if not input.is_floating_point():
        raise NotImplementedError(f"input of dtype {input.dtype} is not supported: give floating-point logits")
    if target.is_floating_point() and target.shape == input.shape:
        raise ValueError("probability targets (a floating-point target) are not supported: give class indices")
    if target.dtype not in (torch.int64, torch.uint8):
        raise RuntimeError(f"target of dtype {target.dtype}: give class indices as torch.int64 (or torch.uint8), "
                           f"as F.cross_entropy requires")
    if target.dim() != input.dim() - 1:
        raise RuntimeError(f"target of {target.dim()} dimensions does not fit input of shape {tuple(input.shape)}: "
                           f"give one class index per row of input")
    if target.shape != input.shape[:-1]:
        raise ValueError(f"target of shape {tuple(target.shape)} does not fit input of shape {tuple(input.shape)}: "
                         f"give one class index per row of input")
    classes = input.shape[-1]
    if weight is not None and weight.shape != (classes,):
        raise RuntimeError(f"weight of shape {tuple(weight.shape)} does not fit {classes} classes: "
                           f"give shape ({classes},)")
    if weight is not None and weight.requires_grad and torch.is_grad_enabled():
        raise RuntimeError("weight that requires grad is not supported: F.cross_entropy has no gradient for it either")
    if isinstance(ignore_index, bool) or not hasattr(ignore_index, "__index__"):
        raise TypeError(f"ignore_index={ignore_index!r}: give a whole number (an int)")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"reduction={reduction!r} is not supported: give 'none', 'mean' or 'sum'")
    if label_smoothing > 1.0:
        raise RuntimeError(f"label_smoothing={label_smoothing}: give a number from 0.0 to 1.0")
    if label_smoothing < 0.0:  # F.cross_entropy takes it and smooths nothing: refused here, as it means nothing
        raise ValueError(f"label_smoothing={label_smoothing} is not supported: give a number from 0.0 to 1.0")
    bad = (target != ignore_index) & ((target < 0) | (target >= classes))
    if bad.any():
        raise IndexError(f"target {target[bad][0].item()} is out of bounds for {classes} classes "
                         f"(and is not ignore_index={ignore_index})")


def cross_entropy_rows(logits, target, weight, ignore_index, label_smoothing, out, grad_scale=None, z_coef=0.0):
    """Each row's loss and log-sum-exp, with out as scratch; given grad_scale, out ends as the gradient of
    grad_scale * loss + z_coef * lse**2 (out may be logits itself)."""
    classes = logits.shape[1]
    kept = target != ignore_index
    y = torch.where(kept, target, 0)  # ignored rows read class 0; their loss and gradient are set to 0
    rows = torch.arange(len(y), device=logits.device)
    eps, w = label_smoothing, weight  # without weight, every w_c is 1: no vector of C ones is made
    w_y, w_sum = (w[y], w.sum()) if w is not None else (1.0, classes)
    target_logit = logits[rows, y]  # read before out (maybe logits itself) is overwritten
    weighted_sum = (logits @ w if w is not None else logits.sum(dim=1)) if eps else None  # sum_c w_c z_c
    row_max = logits.amax(dim=1, keepdim=True)
    torch.sub(logits, row_max, out=out).exp_()  # exp(z - M), in the scratch buffer
    sum_exp = out.sum(dim=1)
    lse = row_max[:, 0] + torch.log(sum_exp)  # log sum_k exp(z_k), stable (chapter 4)
    loss = (1 - eps) * w_y * (lse - target_logit)  # (1 - eps) w_y (-log p_y)
    if eps:
        loss += eps / classes * (w_sum * lse - weighted_sum)  # eps/C sum_c w_c (-log p_c)
    loss = torch.where(kept, loss, 0.0)
    if grad_scale is not None:
        scale = torch.where(kept, torch.as_tensor(grad_scale, dtype=out.dtype), 0.0)  # per row, 0 when ignored
        z_term = torch.where(kept, 2 * z_coef * lse, 0.0)  # d(z_coef lse^2)/dz_j = 2 z_coef lse p_j
        p_factor = scale * ((1 - eps) * w_y + eps / classes * w_sum) + z_term
        out.mul_((p_factor / sum_exp)[:, None])  # p_factor * p, as p = exp(z - M) / sum_exp
        out[rows, y] -= scale * (1 - eps) * w_y  # - scale (1 - eps) w_y onehot
        if eps and w is not None:
            out.addr_(scale, w, alpha=-eps / classes)  # - scale eps/C w
        elif eps:
            out.sub_((eps / classes * scale)[:, None])  # - scale eps/C, every w_c being 1
    return loss, lse


class ChunkedCrossEntropy(torch.autograd.Function):
    """F.cross_entropy, a chunk of rows at a time, with its gradient written during the forward pass."""

    @staticmethod
    def forward(ctx, logits, target, weight, ignore_index, reduction, label_smoothing, chunk_rows, out_dtype):
        options = dict(weight=weight, ignore_index=ignore_index, label_smoothing=label_smoothing)
        ctx.full_precision = logits.dtype in (torch.float32, torch.float64)
        compute = logits.dtype if ctx.full_precision else torch.float32  # float16 and bfloat16: float32 chunks
        kept = target != ignore_index
        total = (weight[target[kept]].sum() if weight is not None else kept.sum()) if reduction == "mean" else 1
        total = torch.as_tensor(total, dtype=compute)  # the mean divides by the sum of the kept rows' weights
        ctx.grad_scale = 1 / total
        grad_logits = torch.empty_like(logits) if ctx.full_precision else None  # the one m x C buffer
        scratch = None if ctx.full_precision else logits.new_empty((min(chunk_rows, len(target)), logits.shape[1]),
                                                                   dtype=compute)  # one float32 chunk
        row_losses = torch.empty(len(target), dtype=compute, device=logits.device)
        for start in range(0, len(target), chunk_rows):
            rows = slice(start, start + chunk_rows)
            if ctx.full_precision:  # the gradient, unscaled by grad_output, straight into its rows of the buffer
                row_losses[rows], _ = cross_entropy_rows(logits[rows], target[rows], **options,
                                                         out=grad_logits[rows], grad_scale=ctx.grad_scale)
            else:  # only the loss now: a float16 gradient would underflow before grad_output could scale it
                chunk = scratch[: len(target[rows])].copy_(logits[rows])
                row_losses[rows], _ = cross_entropy_rows(chunk, target[rows], **options, out=chunk)
        ctx.options, ctx.reduction, ctx.chunk_rows = options, reduction, chunk_rows
        ctx.save_for_backward(grad_logits if ctx.full_precision else logits, target)
        if reduction == "none":
            return row_losses.to(out_dtype)
        return (row_losses.sum() / total).to(out_dtype)

    @staticmethod
    def backward(ctx, grad_output):
        if torch.is_grad_enabled():
            raise RuntimeError("chunked_cross_entropy has no double backward (create_graph=True): its gradient is "
                               "written by hand; use F.cross_entropy for higher-order derivatives")
        saved, target = ctx.saved_tensors
        if ctx.full_precision:  # saved is the gradient, unscaled: scale it by grad_output
            scale = (grad_output[:, None] if ctx.reduction == "none" else grad_output).to(saved.dtype)
            if torch._C._autograd._get_current_graph_task_keep_graph():  # retain_graph: this backward may run again
                return saved * scale, None, None, None, None, None, None, None  # a new tensor; saved stays intact
            if not torch.all(grad_output == 1):  # the last backward: saved is ours to scale and hand over
                saved.mul_(scale)
            return saved, None, None, None, None, None, None, None
        grad_logits = torch.empty_like(saved)  # saved is the float16/bfloat16 logits: walk the chunks again
        scratch = saved.new_empty((min(ctx.chunk_rows, len(target)), saved.shape[1]), dtype=torch.float32)
        for start in range(0, len(target), ctx.chunk_rows):
            rows = slice(start, start + ctx.chunk_rows)
            scale = grad_output.float()[rows] if ctx.reduction == "none" else grad_output.float() * ctx.grad_scale
            chunk = scratch[: len(target[rows])].copy_(saved[rows])
            cross_entropy_rows(chunk, target[rows], **ctx.options, out=chunk, grad_scale=scale)
            grad_logits[rows] = chunk  # scaled in float32, rounded once
        return grad_logits, None, None, None, None, None, None, None


def chunked_cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                          reduction="mean", label_smoothing=0.0, *, chunk_rows=64):
    """F.cross_entropy(input, target, ...) for (m, C) or (C,) logits and class-index targets, chunk_rows rows at a time."""
    if size_average is not None or reduce is not None:  # F.cross_entropy's deprecated pair, read the way it reads it
        reduction = "none" if reduce is False else "sum" if size_average is False else "mean"
        warnings.warn(f"size_average and reduce are deprecated, use reduction='{reduction}'", stacklevel=2)
    check_cross_entropy_options(input, target, weight, ignore_index, reduction, label_smoothing)
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise ValueError(f"chunk_rows={chunk_rows!r} is not supported: give a whole number >= 1")
    device = input.device.type
    autocast = torch.is_autocast_enabled(device)  # F.cross_entropy is one of autocast's float32 operations:
    lower = (torch.float16, torch.bfloat16, torch.float32)  # these dtypes run as float32, float64 stays float64
    out_dtype = torch.float32 if autocast and input.dtype in lower else input.dtype
    weight_dtype = None if weight is None else torch.float32 if autocast and weight.dtype in lower else weight.dtype
    if weight is not None and weight_dtype != out_dtype:
        raise RuntimeError(f"weight of dtype {weight.dtype} does not match input of dtype {input.dtype}: give a "
                           f"weight of the logits' dtype, as F.cross_entropy requires")
    with torch.autocast(device, enabled=False):  # dtypes are handled here, explicitly
        rows = input.reshape(-1, input.shape[-1])  # (C,) becomes one row
        if weight is not None:
            weight = weight.to(torch.float64 if input.dtype == torch.float64 else torch.float32)
        loss = ChunkedCrossEntropy.apply(rows, target.reshape(-1).long(), weight, ignore_index, reduction,
                                         label_smoothing, chunk_rows, out_dtype)
    return loss.reshape(target.shape) if reduction == "none" else loss
