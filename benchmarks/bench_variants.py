"""The fused loss's variants, each a different way to walk the chunks, measured beside its default.

The time goal (forward+backward within 1.1 x F.linear + F.cross_entropy at a tenth of its memory) was first judged
from reasoning about the weight's traffic; these variants put it to measurement. Each variant is a function with
``xentbook.fused.walk_chunks``'s signature and changes one thing of the default walk; ``run_with`` runs the book's
``linear_cross_entropy`` with it (the autograd function looks ``walk_chunks`` up in its module at each call, so
swapping it swaps the walk and nothing else). The default makes each chunk's logits as C x chunk (W h^T), writes the
chunk's gradient over them, and accumulates the weight's gradient with one ``addmm_`` into a buffer allocated once.

* **F.linear's product order**: the logits made as chunk x C (h W^T, what F.linear gives), the weight's gradient
  then g^T h from a transposed view (the default until `make bench` measured both);
* **softmax temporary**: the chunk's gradient goes to a new buffer instead of overwriting its logits;
* **weight gradient by mm + add_**: each chunk's g^T h is made in a new C x d buffer, then added;
* **torch.compile of the chunk body**: the chunk's softmax, loss and gradient compiled by TorchInductor (the matrix
  products stay the library's); its compile time is reported.

Besides these, ``compiled_plain`` is torch.compile of the whole loss, F.linear + F.cross_entropy, as a user would
compile it: not a fused loss (it may keep the whole logits), measured for its time and memory.
"""

import time

import torch
import torch.nn.functional as F

import xentbook.fused as fused
from xentbook.chunked import cross_entropy_rows

DEFAULT_WALK = fused.walk_chunks
COMPILE_SECONDS = {}  # {what was compiled: [seconds of each call that compiled (its first call at new shapes)]}


def walk(ctx, h, W, b, target, grad_scale=None, z_coef=0.0, *, order="W h^T", gradient="in place",
         weight_grad="addmm_", body=None):
    """walk_chunks with one of its choices changed: the product order ("W h^T" or "h W^T"), where the gradient goes
    ("in place" over the logits, or a "temporary"), how the weight's gradient is summed ("addmm_" or "mm + add_"),
    and what computes the chunk's loss and gradient (body: None for cross_entropy_rows, or a compiled function)."""
    ce, z_term = torch.empty((2, len(target)), dtype=h.dtype, device=h.device)
    grad_h = torch.empty_like(h) if grad_scale is not None and ctx.needs[0] else None
    grad_W = torch.zeros_like(W) if grad_scale is not None and ctx.needs[1] else None
    grad_b = torch.zeros_like(b) if grad_scale is not None and ctx.needs[2] else None
    for start in range(0, len(target), ctx.chunk_size):
        rows = slice(start, start + ctx.chunk_size)
        if order == "W h^T":
            logits = (torch.mm(W, h[rows].T) if b is None else torch.addmm(b[:, None], W, h[rows].T)).T
        else:
            logits = F.linear(h[rows], W, b)
        scale = grad_scale[rows] if torch.is_tensor(grad_scale) and grad_scale.dim() else grad_scale
        coef = z_coef[rows] if torch.is_tensor(z_coef) and z_coef.dim() else z_coef
        g = logits if gradient == "in place" else torch.empty_like(logits)
        if body is not None:
            ce[rows], lse = timed_first_calls("torch.compile of the chunk body", body, logits, target[rows],
                                              torch.as_tensor(scale, dtype=h.dtype))
        else:
            ce[rows], lse = cross_entropy_rows(logits, target[rows], **ctx.options, out=g, grad_scale=scale,
                                               z_coef=coef)
        kept = target[rows] != ctx.options["ignore_index"]
        z_term[rows] = torch.where(kept, ctx.z_loss * lse**2, 0.0)
        del logits
        if grad_h is not None:
            torch.mm(g, W, out=grad_h[rows])
        if grad_W is not None:
            if weight_grad == "addmm_":
                grad_W.addmm_(g.T, h[rows])
            else:
                grad_W.add_(g.T @ h[rows])
        if grad_b is not None:
            grad_b += g.sum(dim=0)
        del g
    return ce, z_term, (grad_h, grad_W, grad_b)


def _chunk_body(logits, target, scale):
    """One chunk's row losses and log-sum-exps, its gradient written over the logits (class indices, no class
    weights, smoothing, z-loss or ignored rows): what TorchInductor compiles into a few fused loops."""
    lse = torch.logsumexp(logits, dim=1)
    target_logit = logits.gather(1, target[:, None])[:, 0]
    classes = torch.arange(logits.shape[1], device=logits.device)
    grad = torch.exp(logits - lse[:, None]) * scale - scale * (classes[None, :] == target[:, None])
    logits.copy_(grad)  # p - onehot, scaled, where the logits were
    return lse - target_logit, lse


_compiled_body = None


def walk_compiled_body(ctx, h, W, b, target, grad_scale=None, z_coef=0.0):
    """The default walk with the chunk's softmax, loss and gradient compiled by torch.compile. Only the plain case
    is compiled (no class weights, smoothing, z-loss or ignored rows, a mean or sum): others take the default."""
    global _compiled_body
    plain = (ctx.options["weight"] is None and not ctx.options["label_smoothing"] and not ctx.z_loss
             and grad_scale is not None and not (torch.is_tensor(grad_scale) and grad_scale.dim())
             and not bool((target == ctx.options["ignore_index"]).any()))
    if not plain:
        return DEFAULT_WALK(ctx, h, W, b, target, grad_scale, z_coef)
    if _compiled_body is None:
        _compiled_body = torch.compile(_chunk_body, dynamic=False)
    return walk(ctx, h, W, b, target, grad_scale, z_coef, body=_compiled_body)


_seen_shapes = {}


def timed_first_calls(name, function, *args):
    """Call a compiled function; its first call at each new set of shapes (the one that compiles) is timed into
    COMPILE_SECONDS."""
    shapes = tuple(tuple(a.shape) for a in args if torch.is_tensor(a))
    seen = _seen_shapes.setdefault(name, set())
    if shapes in seen:
        return function(*args)
    began = time.perf_counter()
    result = function(*args)
    COMPILE_SECONDS.setdefault(name, []).append(round(time.perf_counter() - began, 2))
    seen.add(shapes)
    return result


def run_with(walker, *args, **kwargs):
    """The book's linear_cross_entropy(*args, **kwargs) with its forward's chunks walked by walk. The gradients are
    made in the forward (chapter 11), so a plain backward uses them; only reduction="none" or a second backward
    walks again, with the default walk."""
    fused.walk_chunks = walker
    try:
        return fused.linear_cross_entropy(*args, **kwargs)
    finally:
        fused.walk_chunks = DEFAULT_WALK


VARIANTS = {
    "F.linear's product order": lambda *args: walk(*args, order="h W^T"),
    "softmax temporary": lambda *args: walk(*args, gradient="temporary"),
    "weight gradient by mm + add_": lambda *args: walk(*args, weight_grad="mm + add_"),
    "torch.compile of the chunk body": walk_compiled_body,
}
COMPILED = {"torch.compile of the chunk body"}

_compiled_plain = None


def compiled_plain(hidden, weight, target):
    """torch.compile of F.linear + F.cross_entropy (the whole loss), its compiling calls timed."""
    global _compiled_plain
    if _compiled_plain is None:
        _compiled_plain = torch.compile(lambda h, W, t: F.cross_entropy(F.linear(h, W), t))
    return timed_first_calls("torch.compile of F.linear + F.cross_entropy", _compiled_plain, hidden, weight, target)
