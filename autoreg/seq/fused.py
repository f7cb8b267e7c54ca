"""The fast path for LSTM gates: read them from oneDNN's fused kernel instead of recomputing.

In training mode oneDNN's fused LSTM keeps every step's post-activation gates (i, f, g,
o) in a workspace for the backward pass, so the forward that gives h hands over the
gates for free. Recomputing them (``autoreg.seq.trace``'s reference equations, all steps
at once) costs a (T, H) x (H, 4H) matmul and the nonlinearities: about half as much
again as the forward itself.

The workspace layout is oneDNN's, not PyTorch's, and may change with a release, so the
gates are trusted only after they rebuild the kernel's own c and h (``gates_check``);
``autoreg.seq.trace`` runs that check on every call and recomputes the gates when it
fails or when this kernel is not available (no oneDNN, not on CPU).

Workspace layout for one layer, batch 1 (oneDNN's ``ws_gates``): T rows of
``_good_ld(4H)`` floats, each row i | f | g | o (H floats each) then padding::

    row t:  [ i_t (H) | f_t (H) | g_t (H) | o_t (H) | pad ]   <- _good_ld(4H) floats
"""

from __future__ import annotations

import numpy as np
import torch


def _good_ld(n: int) -> int:
    """oneDNN's row stride for n floats: 64-byte aligned, and never a multiple of 256.

    (``get_good_ld`` in oneDNN's RNN code; the second rule avoids 4K cache aliasing.)
    """
    ld = -(-n // 16) * 16
    return ld + 16 if ld % 256 == 0 else ld


def lstm_layer_with_gates(
    x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, w: list[torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]] | None:
    """One LSTM layer through oneDNN's fused kernel, keeping the gates it computed.

    Args:
        x: the layer input, (1, T, in).
        h, c: the initial state, (1, 1, H) each.
        w: [W_ih, W_hh, b_ih, b_hh] in PyTorch's layout.

    Returns:
        out (T, H), c_n (H,) and the gates {input, forget, candidate, output}, each (T, H)
        and not yet checked (``gates_check``); None when the kernel is not available here.
    """
    if not torch.backends.mkldnn.is_available() or x.device.type != "cpu":
        return None
    T, H = x.size(1), h.size(-1)
    try:
        with torch.enable_grad():  # the workspace is only kept when autograd is on
            out, _, c_n, ws = torch.ops.aten.mkldnn_rnn_layer(
                # the op reads raw memory as dense: every input must be contiguous
                x[0].unsqueeze(1).contiguous(),  # (T, batch 1, in)
                *(p.detach().contiguous() for p in w),
                h[0].contiguous(),
                c[0].contiguous(),
                False,  # reverse
                [],  # batch_sizes (not packed)
                2,  # mode: LSTM
                H,
                1,  # num_layers
                True,  # has_biases
                False,  # bidirectional
                False,  # batch_first
                True,  # train: keep the workspace
            )
    except (RuntimeError, AttributeError):
        return None
    ld = _good_ld(4 * H)
    if ws is None or ws.dtype != torch.uint8 or ws.numel() < 4 * T * ld:
        return None
    rows = ws[: 4 * T * ld].view(torch.float32).view(T, ld)[:, : 4 * H]  # (T, 4H)
    names = ("input", "forget", "candidate", "output")
    return out[:, 0], c_n.reshape(H), dict(zip(names, rows.chunk(4, dim=1), strict=True))


def gates_check(gates: dict, cell: np.ndarray, hidden: np.ndarray, c_n: torch.Tensor) -> bool:
    """Whether workspace gates rebuild the fused kernel's own states.

    ``cell`` (T, H) is c scanned from these gates (c_t = f_t c_{t-1} + i_t g_t), so its
    last value equals the kernel's c_n only if f and the product i*g are right at every
    step; i is told from g by its range (a sigmoid is never negative, a tanh candidate
    is), and o is checked through h = o * tanh(c) at a few steps. Tolerances are relative
    as well as absolute: a trained cell state reaches hundreds, where float32 rounding
    alone exceeds 1e-5, while a wrong layout is off by order one.
    """
    T = cell.shape[0]
    if not np.allclose(cell[-1], c_n.reshape(-1).numpy(), atol=1e-5, rtol=1e-4):
        return False
    if float(gates["input"].min()) < 0:
        return False
    steps = sorted({0, T // 2, T - 1})
    o = gates["output"][steps].numpy()
    return bool(np.allclose(o * np.tanh(cell[steps]), hidden[steps], atol=1e-5, rtol=1e-4))
