"""What Step through computes besides the trace: unit orders, the embedding PCA, the CSV.

The per-step views (text, readouts, top-k, surprise, strips, heatmap, cell diagram)
are drawn in the browser from the player's payload (``autoreg.seq.payload``,
``autoreg/ui/static/step.js``); these are the numbers the page adds to it. Layout of
the arrays read (``autoreg.seq.trace.Trace``)::

    hidden, cell, gates[name]   (T, L, H)   T steps, L layers, H units
    embed.weight                (V, E)      the embedding table
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from autoreg.seq.trace import Trace

ORDERINGS = ("index", "clustered")


def unit_order(values: np.ndarray, method: str = "index") -> np.ndarray:
    """Order of the H units for display; ``values`` is (T, H).

    "clustered" puts units with similar time courses next to each other: the leaf order
    of an average-linkage tree on correlation distance (units that never move are placed
    last, a flat series has no correlation).
    """
    T, H = values.shape
    if method == "index" or H < 3 or T < 2:
        if method not in ORDERINGS:
            raise ValueError(f"Unknown unit ordering {method!r}; choose from {ORDERINGS}.")
        return np.arange(H)
    if method != "clustered":
        raise ValueError(f"Unknown unit ordering {method!r}; choose from {ORDERINGS}.")
    from sklearn.cluster import AgglomerativeClustering

    std = values.std(axis=0)
    live = np.flatnonzero(std > 1e-6)
    if len(live) < 3:
        return np.concatenate([live, np.flatnonzero(std <= 1e-6)])
    z = (values[:, live] - values[:, live].mean(0)) / std[live]  # (T, H_live)
    tree = AgglomerativeClustering(
        n_clusters=1, metric="cosine", linkage="average", compute_full_tree=True
    ).fit(z.T)
    n = len(live)
    leaves: list[int] = []
    stack = [n + len(tree.children_) - 1]  # the root node
    while stack:  # depth-first, left child first: the dendrogram's leaf order
        node = stack.pop()
        if node < n:
            leaves.append(node)
        else:
            left, right = tree.children_[node - n]
            stack.extend([right, left])
    return np.concatenate([live[leaves], np.flatnonzero(std <= 1e-6)])


def pca_2d(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2-D PCA of an embedding table (V, E): coordinates (V, 2), explained variance ratios."""
    x = np.asarray(table, dtype=np.float64)
    x = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    var = s**2
    ratio = var[:2] / var.sum() if var.sum() > 0 else np.zeros(2)
    return x @ vt[:2].T, ratio


def trace_frame(tr: Trace) -> pd.DataFrame:
    """The whole trace as a long table: one row per step × layer × unit × quantity.

    Columns: step, token, next_token, layer, unit, quantity, value. ``layer`` counts from 0.
    """
    T, L, H = tr.hidden.shape
    arrays = {"hidden": tr.hidden}
    if tr.cell is not None:
        arrays["cell"] = tr.cell
    arrays.update(tr.gates)
    step, layer, unit = np.meshgrid(np.arange(T), np.arange(L), np.arange(H), indexing="ij")
    nxt = [*tr.tokens[1:], ""]
    frames = []
    for name, a in arrays.items():
        frames.append(
            pd.DataFrame(
                {
                    "step": step.ravel(),
                    "token": np.asarray(tr.tokens, dtype=object)[step.ravel()],
                    "next_token": np.asarray(nxt, dtype=object)[step.ravel()],
                    "layer": layer.ravel(),
                    "unit": unit.ravel(),
                    "quantity": name,
                    "value": a.reshape(-1),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
