"""Fused linear + cross entropy that never builds the whole logits matrix (chapter 11).

``default_chunk_size``, ``walk_chunks``, ``LinearCrossEntropy`` and ``linear_cross_entropy`` are defined, to the letter,
in cells of ``chapters/11_fused_linear.ipynb``; ``tests/test_notebooks.py`` checks that they match. The signature is
torch 2.13's ``F.linear_cross_entropy`` (without ``options``) plus ``z_loss`` and ``chunk_size``.
"""

import torch

from xentbook.chunked import check_cross_entropy_options, cross_entropy_rows


def default_chunk_size(rows, in_features):
    """A memory budget: one chunk of logits (chunk x C) may hold 1/16 as many numbers as the weight (C x in_features),
    so in_features // 16 rows, whatever the vocabulary; at least 16 rows and at most all of them."""
    return max(min(rows, max(in_features // 16, 16)), 1)


def walk_chunks(ctx, h, W, b, target, grad_scale=None, z_coef=0.0):
    """Row losses and z-loss terms, chunk_size rows at a time; given grad_scale, also the gradients of h, W and b
    (ctx holds the options, the chunk size and which gradients are needed)."""
    ce, z_term = torch.empty((2, len(target)), dtype=h.dtype, device=h.device)
    grad_h = torch.empty_like(h) if grad_scale is not None and ctx.needs[0] else None
    grad_W = torch.zeros_like(W) if grad_scale is not None and ctx.needs[1] else None
    grad_b = torch.zeros_like(b) if grad_scale is not None and ctx.needs[2] else None
    for start in range(0, len(target), ctx.chunk_size):
        rows = slice(start, start + ctx.chunk_size)
        # The only logits that ever exist, made as C x chunk (W h^T + b), the faster order by make bench's medians;
        # logits is the chunk x C view of them that the row-wise work reads.
        logits_t = torch.mm(W, h[rows].T) if b is None else torch.addmm(b[:, None], W, h[rows].T)
        logits = logits_t.T
        scale = grad_scale[rows] if torch.is_tensor(grad_scale) and grad_scale.dim() else grad_scale
        coef = z_coef[rows] if torch.is_tensor(z_coef) and z_coef.dim() else z_coef
        ce[rows], lse = cross_entropy_rows(logits, target[rows], **ctx.options, out=logits, grad_scale=scale,
                                           z_coef=coef)
        kept = target[rows] != ctx.options["ignore_index"]
        z_term[rows] = torch.where(kept, ctx.z_loss * lse**2, 0.0)  # PaLM's z-loss, kept rows only
        if grad_h is not None:  # logits now holds the chunk's gradient g: dL/dh = g W, dL/dW += g^T h
            torch.mm(logits, W, out=grad_h[rows])
        if grad_W is not None:
            grad_W.addmm_(logits_t, h[rows])  # g^T is logits_t itself
        if grad_b is not None:
            grad_b += logits.sum(dim=0)
        del logits, logits_t  # free this chunk's logits before the next chunk's are made
    return ce, z_term, (grad_h, grad_W, grad_b)


class LinearCrossEntropy(torch.autograd.Function):
    """Cross entropy of input @ linear_weight.T + linear_bias, a chunk of rows at a time, gradients in the forward."""

    @staticmethod
    def forward(ctx, input, linear_weight, linear_bias, target, weight, ignore_index, reduction, label_smoothing,
                z_loss, chunk_size, out_dtype, grad_enabled):
        compute = torch.promote_types(input.dtype, torch.float32)  # float16 and bfloat16 are computed in float32
        h, W = input.to(compute), linear_weight.to(compute)
        b = linear_bias.to(compute) if linear_bias is not None else None
        kept = target != ignore_index
        total, count = torch.ones((), dtype=compute), torch.ones((), dtype=compute)
        if reduction == "mean":  # cross entropy divides by the kept rows' weights, the z-loss by their number
            count = kept.sum().to(compute)
            total = weight[target[kept]].sum() if weight is not None else count
        ctx.options = dict(weight=weight, ignore_index=ignore_index, label_smoothing=label_smoothing)
        ctx.reduction, ctx.z_loss, ctx.chunk_size, ctx.compute = reduction, z_loss, chunk_size, compute
        ctx.grad_scale, ctx.z_coef = 1 / total, z_loss / count
        ctx.dtypes = input.dtype, linear_weight.dtype, None if linear_bias is None else linear_bias.dtype
        ctx.needs = [grad_enabled and needed for needed in ctx.needs_input_grad[:3]]  # none under torch.no_grad()
        ctx.save_for_backward(input, linear_weight, linear_bias, target)  # the inputs themselves: no copy
        ctx.grads = None
        if reduction == "none" or not any(ctx.needs):  # no gradients now ("none": grad_output scales each row)
            ce, z_term, _ = walk_chunks(ctx, h, W, b, target)
        else:
            ce, z_term, ctx.grads = walk_chunks(ctx, h, W, b, target, ctx.grad_scale, ctx.z_coef)
        if reduction == "none":
            return (ce + z_term).to(out_dtype)
        return (ce.sum() / total + z_term.sum() / count).to(out_dtype)

    @staticmethod
    def backward(ctx, grad_output):
        if torch.is_grad_enabled():
            raise RuntimeError("linear_cross_entropy has no double backward (create_graph=True): its gradients are "
                               "written by hand; use F.cross_entropy(F.linear(...)) for higher-order derivatives")
        scale = grad_output.to(ctx.compute)
        if ctx.grads is not None:  # the forward's gradients, handed over: a hook may change them in place
            grads, ctx.grads = ctx.grads, None
            grads = [None if g is None else g.mul_(scale) for g in grads]
        else:  # "none", or a second backward (retain_graph=True): walk the chunks again
            input, linear_weight, linear_bias, target = ctx.saved_tensors
            h, W = input.to(ctx.compute), linear_weight.to(ctx.compute)
            b = linear_bias.to(ctx.compute) if linear_bias is not None else None
            with torch.autocast(input.device.type, enabled=False):  # as in the forward, whatever the caller's
                if ctx.reduction == "none":  # each row's gradient scaled by its own grad_output
                    _, _, grads = walk_chunks(ctx, h, W, b, target, scale, ctx.z_loss * scale)
                else:  # as the forward computed them, then scaled: the first backward's bits again
                    _, _, grads = walk_chunks(ctx, h, W, b, target, ctx.grad_scale, ctx.z_coef)
                    grads = [None if g is None else g.mul_(scale) for g in grads]
        grads = [None if g is None else g.to(dtype) for g, dtype in zip(grads, ctx.dtypes)]
        return (*grads, None, None, None, None, None, None, None, None, None)


def linear_cross_entropy(input, linear_weight, target, *, linear_bias=None, weight=None, ignore_index=-100,
                         reduction="mean", label_smoothing=0.0, z_loss=0.0, chunk_size=None):
    """F.cross_entropy(F.linear(input, linear_weight, linear_bias), target, ...) + z_loss * mean(lse**2) over kept rows,
    without ever holding more than chunk_size rows of logits."""
    if ignore_index is None:  # F.linear_cross_entropy's default, which means -100 for class indices
        ignore_index = -100
    if linear_weight.dim() != 2 or input.shape[-1:] != linear_weight.shape[1:]:
        raise ValueError(f"linear_weight of shape {tuple(linear_weight.shape)} does not fit input of shape "
                         f"{tuple(input.shape)}: give (C, in_features)")
    if linear_bias is not None and linear_bias.shape != linear_weight.shape[:1]:
        raise ValueError(f"linear_bias of shape {tuple(linear_bias.shape)} does not fit {linear_weight.shape[0]} "
                         f"classes: give shape ({linear_weight.shape[0]},)")
    logits_shape = input.shape[:-1] + linear_weight.shape[:1]
    check_cross_entropy_options(torch.empty(logits_shape, device="meta"), target, weight, ignore_index, reduction,
                                label_smoothing)
    if z_loss < 0:
        raise ValueError(f"z_loss={z_loss} is not supported: give a number >= 0")
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"chunk_size={chunk_size!r} is not supported: give a whole number >= 1 (None: the default)")
    rows, in_features = input.reshape(-1, input.shape[-1]).shape
    chunk_size = chunk_size or default_chunk_size(rows, in_features)
    device, compute = input.device.type, torch.promote_types(input.dtype, torch.float32)
    autocast = torch.is_autocast_enabled(device)
    dtypes = [t.dtype for t in (input, linear_weight, linear_bias, weight) if t is not None]
    if len(set(dtypes)) > 1 and not (autocast and torch.float64 not in dtypes):  # what F.linear refuses
        raise ValueError(f"input, linear_weight, linear_bias and weight of dtypes {dtypes} differ: give one dtype "
                         f"(or, under autocast, no float64)")
    out_dtype = compute if autocast else input.dtype  # what F.linear_cross_entropy returns
    with torch.autocast(device, enabled=False):  # dtypes are handled here, explicitly: float32 at least
        if weight is not None:
            weight = weight.to(compute)
        loss = LinearCrossEntropy.apply(input.reshape(rows, in_features), linear_weight, linear_bias,
                                        target.reshape(-1).long(), weight, ignore_index, reduction,
                                        label_smoothing, z_loss, chunk_size, out_dtype, torch.is_grad_enabled())
    return loss.reshape(target.shape) if reduction == "none" else loss
