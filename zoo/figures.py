"""Every figure the zoo draws: image grids, latent maps, confusion matrices, filters, curves.

Each builder returns a `matplotlib.figure.Figure` and writes nothing; `save` writes one PNG
atomically. Figures are made with `Figure` and `FigureCanvasAgg` directly, never pyplot, so the
module neither needs a display nor touches pyplot's global state or the caller's backend.

Every figure has a title, labelled axes (or labelled rows/columns for image grids), a colour bar
or legend wherever colour carries meaning, and is at least 600 px wide at its natural size.
Pixel images are drawn in grey with nearest-neighbour interpolation on a fixed 0..1 scale.
"""

import io as io_module
import math
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize, to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from zoo.errors import ZooError
from zoo.io import write_bytes_atomic

DPI = 100
# 6.4 in at 100 dpi is 640 px: comfortably above the 600 px every figure must reach.
MIN_WIDTH_IN = 6.4
# Drawn between tiles of a mosaic; a colour no grey pixel can have, so tiles never merge.
TILE_SEPARATOR = "#b0c4de"
HIDDEN_NOTE_SUFFIX = "outside the view"
# Fewer points than this and each one is worth a marker; more and markers only blur the line.
MARKER_POINT_LIMIT = 30
# A histogram of hundreds of modes should still fit a screen rather than grow a bar at a time.
MAX_BAR_CHART_WIDTH_IN = 16.0


# ----------------------------------------------------------------------------- saving

def save(fig, path):
    """Write `fig` as a PNG at `path` (parent folders created) atomically, through zoo.io's one atomic
    writer; return the Path. A failed write leaves any existing file untouched."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ZooError(f"figures are saved as PNG; expected a path ending in .png, got {str(path)!r}")
    buffer = io_module.BytesIO()
    # Saving at the figure's own dpi without a tight bounding box keeps the PNG at exactly figsize * dpi,
    # which is what the 600 px minimum was sized against.
    try:
        fig.savefig(buffer, format="png", dpi=fig.dpi)
        return write_bytes_atomic(path, buffer.getvalue())
    except OSError as err:
        raise ZooError(f"cannot write figure to {str(path)!r}: {err.strerror or err}") from err


# ----------------------------------------------------------------------------- image figures

def image_grid(images, *, title, cols=10, row_labels=None, col_labels=None, cmap="gray_r"):
    """Images tiled row by row, left to right, `cols` per row, with optional row/column labels.

    images: (N, H, W), (N, H, W, 1) or (N, H*W) with square images, or colour images (N, H, W, 3) (drawn as
    they are, without the colour map); float in [0, 1] or uint8.
    row_labels: one str per row, written left of the row (e.g. "noisy gaussian 0.5").
    col_labels: one str per column, written above it.
    """
    _check_title(title)
    tiles = _as_images(images, "images", rgb=True)
    cols = _positive_int(cols, "cols")
    n_cols = min(cols, len(tiles))
    n_rows = math.ceil(len(tiles) / n_cols)
    row_labels = _labels_or_none(row_labels, n_rows, "row_labels", "row")
    col_labels = _labels_or_none(col_labels, n_cols, "col_labels", "column")

    fig, ax = _new_figure(MIN_WIDTH_IN, MIN_WIDTH_IN, layout=None)
    suptitle = fig.suptitle(title)
    mosaic_h, mosaic_w = _draw_mosaic(ax, tiles, n_cols, cmap, row_labels, col_labels)
    inches_per_px = _tile_inches(tiles.shape[1]) / tiles.shape[1]
    _fit_figure_around(fig, ax, suptitle, mosaic_w * inches_per_px, mosaic_h * inches_per_px)
    return fig



def per_label_grid(sample, num_classes, *, title, per_label=10):
    """One row of `per_label` images per class: sample(labels) draws the images for an array of labels."""
    labels = np.repeat(np.arange(num_classes), per_label)
    return image_grid(sample(labels), cols=per_label, row_labels=[f"digit {k}" for k in range(num_classes)],
                      title=title)


def decoded_grid(images, ticks, *, title, xlabel="z1", ylabel="z2"):
    """An n x n mosaic of images decoded from a regular latent grid, on real latent axes.

    images: n*n images, row-major, the top row decoded at the highest z2.
    ticks: the n latent values along each axis, increasing; x reads them left to right and
    y reads them top to bottom in decreasing order.
    """
    _check_title(title)
    tiles = _as_images(images, "images")
    ticks = np.asarray(ticks, np.float64)
    if ticks.ndim != 1 or len(ticks) < 1:
        raise ZooError(f"ticks must be a 1-D sequence of latent values, got shape {ticks.shape}")
    n = len(ticks)
    if len(tiles) != n * n:
        raise ZooError(f"{n} ticks need {n}x{n} = {n * n} images, got {len(tiles)}")
    if n > 1 and not np.all(np.diff(ticks) > 0):
        raise ZooError("ticks must be strictly increasing")

    _, h, w = tiles.shape
    mosaic = tiles.reshape(n, n, h, w).transpose(0, 2, 1, 3).reshape(n * h, n * w)
    fig, ax = _new_figure(MIN_WIDTH_IN, MIN_WIDTH_IN, layout=None)
    suptitle = fig.suptitle(title)
    ax.imshow(mosaic, cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")
    labels = [f"{t:.3g}" for t in ticks]
    ax.set_xticks((np.arange(n) + 0.5) * w - 0.5, labels, rotation=90 if n > 8 else 0)
    ax.set_yticks((np.arange(n) + 0.5) * h - 0.5, labels[::-1])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    # 0.45 in per tile keeps 28 px digits legible; small grids still get a readable square.
    side = max(0.45 * n, 4.8)
    _fit_figure_around(fig, ax, suptitle, side, side)
    return fig


def filters(weights, *, title, cols=None):
    """First-layer weights as image tiles, each tile stretched over its own min..max.

    weights: (K, H*W) with square receptive fields, or (K, H, W). A Dense kernel is stored
    (H*W, K) and must be transposed first.
    """
    _check_title(title)
    w = np.asarray(weights, np.float64)
    if w.ndim == 2 and _square_side(w.shape[1]) is None:
        raise ZooError(
            f"weights must be (K, H*W) with square H*W or (K, H, W), got {w.shape}; "
            "a Dense kernel (H*W, K) needs transposing first")
    tiles = _as_images(w, "weights", scale_uint8=False)
    lo = tiles.min(axis=(1, 2), keepdims=True)
    span = tiles.max(axis=(1, 2), keepdims=True) - lo
    # A constant tile has no range to stretch; mid-grey says "nothing here" without dividing by 0.
    tiles = np.where(span > 0, (tiles - lo) / np.where(span > 0, span, 1.0), 0.5)

    k = len(tiles)
    n_cols = _positive_int(cols, "cols") if cols is not None else math.ceil(math.sqrt(k))
    n_cols = min(n_cols, k)
    n_rows = math.ceil(k / n_cols)
    row_labels = [_unit_range(r * n_cols, min((r + 1) * n_cols, k) - 1) for r in range(n_rows)]

    fig, ax = _new_figure(MIN_WIDTH_IN, MIN_WIDTH_IN, layout=None)
    suptitle = fig.suptitle(title)
    mosaic_h, mosaic_w = _draw_mosaic(ax, tiles, n_cols, "gray", row_labels, None)
    ax.set_title("each tile scaled to its own range (black = min, white = max)", fontsize=9)
    # Filters are many and only their pattern matters, so tiles may be a little smaller.
    inches_per_px = min(_tile_inches(tiles.shape[1]), 0.5) / tiles.shape[1]
    _fit_figure_around(fig, ax, suptitle, mosaic_w * inches_per_px, mosaic_h * inches_per_px)
    return fig


# ----------------------------------------------------------------------------- plots

def latent_map(z, labels, *, title, class_names=None, xlabel="z1", ylabel="z2"):
    """2-D codes as a scatter coloured by class, with a legend naming each class.

    The view spans the 0.5..99.5 percentiles of each coordinate plus a small margin, so a few
    far outliers cannot squeeze the bulk into a corner; points outside the view are left out
    and their number is written on the plot.
    """
    _check_title(title)
    z = np.asarray(z, np.float64)
    labels = np.asarray(labels)
    if z.ndim != 2 or z.shape[1] != 2 or len(z) == 0:
        raise ZooError(f"z must be (N, 2) codes (project wider codes to 2-D first), got shape {z.shape}")
    labels = _integer_array(labels, "labels")
    if labels.shape != (len(z),):
        raise ZooError(f"labels must be (N,) = ({len(z)},) integers, got shape {labels.shape}")
    classes = np.unique(labels)
    names = [_class_name(class_names, c) for c in classes]

    finite = np.all(np.isfinite(z), axis=1)
    if not finite.any():
        raise ZooError("z has no finite points to draw")
    lo, hi = np.percentile(z[finite], [0.5, 99.5], axis=0)
    span = hi - lo
    margin = np.where(span > 0, 0.05 * span, np.maximum(np.abs(hi), 1.0) * 0.05)
    lo, hi = lo - margin, hi + margin
    # NaN compares False, so non-finite codes count as outside the view too.
    shown = finite & np.all((z >= lo) & (z <= hi), axis=1)
    hidden = int(len(z) - shown.sum())

    palette = _class_colours(len(classes))
    colour_of = {c: palette[i] for i, c in enumerate(classes)}
    # One scatter in a fixed random order: drawing class by class would bury early classes
    # under later ones wherever they overlap.
    order = np.random.default_rng(0).permutation(np.flatnonzero(shown))
    fig, ax = _new_figure(7.6, 6.2)
    fig.suptitle(title)
    ax.scatter(z[order, 0], z[order, 1], s=5, alpha=0.6, linewidths=0,
               c=[colour_of[c] for c in labels[order]])
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    handles = [Line2D([], [], linestyle="none", marker="o", markersize=7, color=palette[i], label=name)
               for i, name in enumerate(names)]
    ax.legend(handles=handles, title="class", loc="upper left", bbox_to_anchor=(1.02, 1.0),
              borderaxespad=0.0, fontsize=9, ncols=1 if len(handles) <= 20 else 2)
    if hidden:
        ax.text(0.99, 0.01, f"{hidden} point{'s' if hidden != 1 else ''} {HIDDEN_NOTE_SUFFIX}",
                transform=ax.transAxes, ha="right", va="bottom", fontsize=8, color="0.3",
                bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 2})
    return fig


def confusion_matrix(matrix, *, title, class_names=None):
    """Counts of (true class, predicted class) as a heat map with every cell's count written in it.

    matrix: (K, K) non-negative integer counts, rows true, columns predicted. The line under the
    title gives the total and the accuracy (trace / total) computed from the matrix itself.
    """
    _check_title(title)
    counts = _integer_array(np.asarray(matrix), "matrix")
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] == 0:
        raise ZooError(f"matrix must be square (K, K) counts, got shape {counts.shape}")
    if (counts < 0).any():
        raise ZooError("matrix holds counts and cannot be negative")
    k = counts.shape[0]
    names = [_class_name(class_names, i) for i in range(k)]

    total = int(counts.sum())
    accuracy = f"accuracy {np.trace(counts) / total:.2%}" if total else "accuracy n/a"
    # Large matrices (e.g. 47 EMNIST classes) get smaller cells so the figure stays printable.
    cell_in = 0.55 if k <= 12 else 0.35
    fig, ax = _new_figure(cell_in * k + 2.4, cell_in * k + 1.8)
    fig.suptitle(title)
    ax.set_title(f"{total} images, {accuracy}", fontsize=10)
    cmap = colormaps["Blues"]
    norm = Normalize(vmin=0, vmax=max(int(counts.max()), 1))
    im = ax.imshow(counts, cmap=cmap, norm=norm, interpolation="nearest")
    fig.colorbar(im, ax=ax, label="images", shrink=0.85)

    font = 9 if k <= 12 else 6
    for (row, col), count in np.ndenumerate(counts):
        r, g, b, _ = cmap(norm(count))
        # Perceived brightness of the cell decides the text colour so every count stays readable.
        dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5
        ax.text(col, row, str(count), ha="center", va="center", fontsize=font,
                color="white" if dark else "black")
    long_names = max(len(s) for s in names) > 3
    ax.set_xticks(range(k), names, rotation=45 if long_names else 0, ha="right" if long_names else "center")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    return fig


def curves(series, *, title, xlabel, ylabel, logy=False):
    """Lines, one per labelled (x, y) series, with a legend and a grid; markers on short series."""
    _check_title(title)
    if not series:
        raise ZooError("curves needs at least one series {label: (x, y)}")
    fig, ax = _new_figure(7.2, 4.8)
    fig.suptitle(title)
    whole_x = True
    for label, xy in series.items():
        try:
            x, y = xy
        except (TypeError, ValueError):
            raise ZooError(f"series {label!r} must be an (x, y) pair") from None
        x = np.asarray(x, np.float64)
        y = np.asarray(y, np.float64)
        if x.ndim != 1 or x.shape != y.shape:
            raise ZooError(f"series {label!r}: x and y must be 1-D of one length, got {x.shape} and {y.shape}")
        if logy and np.any(y <= 0):
            raise ZooError(f"series {label!r} has values <= 0, which a log y axis cannot show")
        whole_x = whole_x and bool(np.all(x == np.round(x)))
        ax.plot(x, y, label=str(label), marker="o" if len(x) < MARKER_POINT_LIMIT else None, markersize=4)
    if whole_x:
        # Epochs and steps are counted in whole numbers; "epoch 2.5" would be noise.
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend()
    return fig


def bar_histogram(counts, *, title, xlabel, ylabel, labels=None):
    """One bar per count, labelled by `labels` (default 0..n-1); short charts get values on bars."""
    _check_title(title)
    counts = np.asarray(counts, np.float64)
    if counts.ndim != 1 or len(counts) == 0:
        raise ZooError(f"counts must be a non-empty 1-D sequence, got shape {counts.shape}")
    names = _labels_or_none(labels, len(counts), "labels", "bar") or [str(i) for i in range(len(counts))]

    n = len(counts)
    width = max(min(0.3 * n + 1.6, MAX_BAR_CHART_WIDTH_IN), MIN_WIDTH_IN)
    fig, ax = _new_figure(width, 4.8)
    fig.suptitle(title)
    bars = ax.bar(np.arange(n), counts, color="tab:blue")
    # Past about fifty ticks the labels overlap, so only every step-th bar is named.
    step = math.ceil(n / 50)
    # Roughly 0.09 in per character at the tick font: turn the labels only when they would collide.
    crowded = len(names[::step]) * max(len(s) for s in names) * 0.09 > width - 1.2
    ax.set_xticks(np.arange(0, n, step), names[::step], rotation=90 if crowded else 0,
                  fontsize=8 if crowded else None)
    if n <= 30:
        integral = np.all(np.mod(counts[np.isfinite(counts)], 1) == 0)
        ax.bar_label(bars, fmt="{:.0f}" if integral else "{:.3g}", fontsize=8, padding=2)
        ax.margins(y=0.1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    return fig


def scatter_xy(points, *, title, xlabel, ylabel, labels=None, label_order=None, groups=None, subtitle=None,
               max_labels=None, bold=()):
    """Points, each optionally captioned with its own text (e.g. word projections), captions never overlapping.

    labels: one str per point. Captions are placed greedily in `label_order` (point indices, default 0..N-1;
    points left out of it are never captioned), each at the first of a few spots around its point where its box
    overlaps no caption and no captioned point already placed and stays inside the axes; a caption with no free
    spot is left out, and so is every caption after `max_labels`. Captioned points are drawn as dots, the others
    as small pale points, and a note in the corner says how many are captioned when not all are. Captions of the
    points in `bold` (indices) are bold.
    groups: optional {name: point indices} drawn, and captioned, in their own colours and named in a legend (a
    point in two groups takes the first).
    """
    _check_title(title)
    points = np.asarray(points, np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0:
        raise ZooError(f"points must be (N, 2), got shape {points.shape}")
    if not np.all(np.isfinite(points)):
        raise ZooError("points must be finite")
    n = len(points)
    texts = _labels_or_none(labels, n, "labels", "point")
    order = list(range(n)) if label_order is None else [int(i) for i in label_order]
    if any(not 0 <= i < n for i in order):
        raise ZooError(f"label_order holds point indices, 0..{n - 1}")
    colour_of = np.full(n, -1)
    group_names = list(groups or {})
    for g, name in enumerate(group_names):
        members = np.asarray(list(groups[name]), np.int64)
        if members.size and (members.min() < 0 or members.max() >= n):
            raise ZooError(f"group {name!r} holds point indices, 0..{n - 1}")
        fresh = members[colour_of[members] < 0] if members.size else members
        colour_of[fresh] = g
    palette = _class_colours(len(group_names)) if group_names else []

    fig, ax = _new_figure(8.0, 6.6)
    fig.suptitle(title)
    # Every point first, small and pale when captions are asked for: it sets the view and is the first collection.
    ax.scatter(points[:, 0], points[:, 1], s=6 if texts else 14, color="0.6" if texts else "tab:blue",
               alpha=0.7 if texts else 0.8, linewidths=0, zorder=2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.margins(0.06)
    if subtitle:
        ax.set_title(subtitle, fontsize=9)
    handles = [Line2D([], [], linestyle="none", marker="o", markersize=7, color=palette[g], markeredgecolor="black",
                      markeredgewidth=0.5, label=name) for g, name in enumerate(group_names)]
    if texts:
        handles = [Line2D([], [], linestyle="none", marker="o", markersize=4, color="tab:blue", label="captioned"),
                   Line2D([], [], linestyle="none", marker="o", markersize=3, color="0.6",
                          label="not captioned")] + handles
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=8)
    # Everything that takes part in the layout is in place before the captions are measured against it.
    caption_colours = [palette[g] if g >= 0 else "black" for g in colour_of]
    placed = (_place_captions(fig, ax, points, texts, order, max_labels, caption_colours, set(bold),
                              set(np.flatnonzero(colour_of >= 0).tolist())) if texts else [])

    captioned = np.zeros(n, bool)
    captioned[placed] = True
    plain = captioned & (colour_of < 0)
    if texts and plain.any():
        ax.scatter(points[plain, 0], points[plain, 1], s=16, color="tab:blue", linewidths=0, zorder=3)
    for g in range(len(group_names)):
        mine = colour_of == g
        ax.scatter(points[mine, 0], points[mine, 1], s=36, color=palette[g], edgecolors="black", linewidths=0.5,
                   zorder=4)
    if texts and len(placed) < n:
        fig.text(0.99, 0.005, f"{len(placed)} of {n} points captioned", ha="right", va="bottom", fontsize=8,
                 color="0.3")
    return fig


# Caption spots around a point, in points: right-above first, as the eye reads a label beside its dot.
_CAPTION_OFFSETS = ((3, 2, "left", "bottom"), (-3, 2, "right", "bottom"), (3, -2, "left", "top"),
                    (-3, -2, "right", "top"), (0, 5, "center", "bottom"), (0, -5, "center", "top"))
# Farther spots, joined to the point by a thin line: only for reserved points when every near spot is taken.
_FAR_CAPTION_OFFSETS = tuple((sx * dx, sy * dy, ha, va) for dx, dy in ((14, 10), (24, 4), (8, 20), (30, 16))
                             for sx, ha in ((1, "left"), (-1, "right")) for sy, va in ((1, "bottom"), (-1, "top")))


def _place_captions(fig, ax, points, texts, order, max_labels, colours, bold, reserved):
    """Greedy caption placement (see scatter_xy); returns the captioned point indices in placement order.

    The dots of `reserved` points (drawn large whether captioned or not) are kept clear from the start, and
    each captioned point's dot from its placement on. The layout is settled first and the view frozen, and
    captions take no part in the layout, so the positions measured here are the ones saved."""
    fig.canvas.draw()
    ax.set_xlim(ax.get_xlim())
    ax.set_ylim(ax.get_ylim())
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    pixels = ax.transData.transform(points)

    def dot(i, radius_pt):
        r = radius_pt * fig.dpi / 72
        return (pixels[i, 0] - r, pixels[i, 1] - r, pixels[i, 0] + r, pixels[i, 1] + r)

    # (box, owner): a caption may touch its own dot, nothing else
    taken = [(dot(i, 3.0), i) for i in sorted(reserved)]
    captions, placed = [], []
    for i in order:
        if max_labels is not None and len(placed) >= max_labels:
            break
        if any(_overlaps(dot(i, 2.0), box) for box in captions):
            continue  # a caption already covers this point
        spots = _CAPTION_OFFSETS + (_FAR_CAPTION_OFFSETS if i in reserved else ())
        for k, (dx, dy, ha, va) in enumerate(spots):
            leader = {"arrowstyle": "-", "color": colours[i], "linewidth": 0.6, "shrinkA": 1, "shrinkB": 3}
            text = ax.annotate(texts[i], points[i], xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,
                               fontsize=8, zorder=5, annotation_clip=False, color=colours[i],
                               fontweight="bold" if i in bold else "normal",
                               arrowprops=leader if k >= len(_CAPTION_OFFSETS) else None)
            text.set_in_layout(False)
            b = text.get_window_extent(renderer)
            box = (b.x0 - 1, b.y0 - 1, b.x1 + 1, b.y1 + 1)
            inside = frame.x0 <= box[0] and box[2] <= frame.x1 and frame.y0 <= box[1] and box[3] <= frame.y1
            if inside and not any(_overlaps(box, other) for other, owner in taken if owner != i):
                taken += [(box, i), (dot(i, 2.0), i)]
                captions.append(box)
                placed.append(i)
                break
            text.remove()
    return placed


def _overlaps(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


# ----------------------------------------------------------------------------- helpers

def _new_figure(width_in, height_in, layout="constrained"):
    """A single-axes figure on an Agg canvas, never narrower than MIN_WIDTH_IN."""
    fig = Figure(figsize=(max(width_in, MIN_WIDTH_IN), height_in), dpi=DPI, layout=layout)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _fit_figure_around(fig, ax, suptitle, axes_w_in, axes_h_in, pad_in=0.12):
    """Size `fig` so `ax` is exactly axes_w_in x axes_h_in with its labels and the title around it.

    Constrained layout does not settle in one draw around an image axes of fixed aspect: long
    row labels came out cut off at the figure's edge. The labels' extents in inches do not
    depend on where the axes sits, so measuring them once gives an exact layout instead.
    """
    # Provisional placement at the final aspect, with room all round so nothing is squeezed.
    fig.set_size_inches(axes_w_in + 8, axes_h_in + 8)
    ax.set_position([4 / (axes_w_in + 8), 4 / (axes_h_in + 8), axes_w_in / (axes_w_in + 8),
                     axes_h_in / (axes_h_in + 8)])
    renderer = fig.canvas.get_renderer()
    decorated = ax.get_tightbbox(renderer)
    box = ax.get_window_extent(renderer)
    title_box = suptitle.get_window_extent(renderer)
    left, right = (box.x0 - decorated.x0) / DPI, (decorated.x1 - box.x1) / DPI
    bottom, top = (box.y0 - decorated.y0) / DPI, (decorated.y1 - box.y1) / DPI
    title_w, title_h = title_box.width / DPI, title_box.height / DPI

    needed_w = left + axes_w_in + right + 2 * pad_in
    fig_w = max(needed_w, title_w + 2 * pad_in, MIN_WIDTH_IN)
    fig_h = pad_in + title_h + pad_in + top + axes_h_in + bottom + pad_in
    axes_x = (fig_w - needed_w) / 2 + pad_in + left
    fig.set_size_inches(fig_w, fig_h)
    ax.set_position([axes_x / fig_w, (pad_in + bottom) / fig_h, axes_w_in / fig_w, axes_h_in / fig_h])
    # Centred over the images rather than the figure, as far as the figure's edges allow.
    title_x = min(max(axes_x + axes_w_in / 2, pad_in + title_w / 2), fig_w - pad_in - title_w / 2)
    suptitle.set_position((title_x / fig_w, 1 - pad_in / fig_h))
    suptitle.set_verticalalignment("top")


def _check_title(title):
    if not isinstance(title, str) or not title.strip():
        raise ZooError("every figure needs a non-empty title")


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ZooError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _labels_or_none(labels, expected, name, what):
    if labels is None:
        return None
    labels = [str(s) for s in labels]
    if len(labels) != expected:
        raise ZooError(f"{name} needs one label per {what}: {expected}, got {len(labels)}")
    return labels


def _square_side(size):
    side = math.isqrt(size)
    return side if side * side == size and side > 0 else None


def _as_images(images, name, scale_uint8=True, rgb=False):
    """(N, H, W) float64 from (N, H, W), (N, H, W, 1) or square (N, H*W); uint8 scaled to [0, 1]. With rgb,
    (N, H, W, 3) passes through as colour tiles."""
    raw = np.asarray(images)
    if raw.ndim == 4 and raw.shape[-1] == 1:
        raw = raw[..., 0]
    if rgb and raw.ndim == 4 and raw.shape[-1] == 3 and 0 not in raw.shape and np.issubdtype(raw.dtype, np.number):
        return raw.astype(np.float64) / (255.0 if scale_uint8 and raw.dtype == np.uint8 else 1.0)
    if raw.ndim == 2:
        side = _square_side(raw.shape[1])
        if side is None:
            raise ZooError(f"{name} given as rows must hold square images (N, H*W), got {raw.shape}")
        raw = raw.reshape(len(raw), side, side)
    if raw.ndim != 3 or 0 in raw.shape:
        raise ZooError(f"{name} must be (N, H, W) or (N, H*W) with N >= 1, got shape {np.shape(images)}")
    if not (np.issubdtype(raw.dtype, np.number) or raw.dtype == bool):
        raise ZooError(f"{name} must be numeric, got dtype {raw.dtype}")
    out = raw.astype(np.float64)
    if scale_uint8 and raw.dtype == np.uint8:
        out /= 255.0
    return out


def _integer_array(values, name):
    """`values` as int64, accepting floats only when they are whole numbers."""
    if np.issubdtype(values.dtype, np.integer) or values.dtype == bool:
        return values.astype(np.int64)
    if np.issubdtype(values.dtype, np.floating) and np.all(np.isfinite(values)) \
            and np.all(values == np.round(values)):
        return values.astype(np.int64)
    raise ZooError(f"{name} must hold integers, got dtype {values.dtype}")


def _class_name(class_names, label):
    if class_names is None:
        return str(label)
    try:
        return str(class_names[int(label)])
    except (IndexError, KeyError):
        raise ZooError(f"class_names has no name for class {int(label)}") from None


def _class_colours(n):
    """n distinguishable colours: tab10/tab20 while they last, then evenly spaced hues."""
    if n <= 10:
        return [colormaps["tab10"](i) for i in range(n)]
    if n <= 20:
        return [colormaps["tab20"](i) for i in range(n)]
    return [colormaps["turbo"](i / (n - 1)) for i in range(n)]


def _tile_inches(side_px):
    # 28 px digits at 0.6 in (60 px at 100 dpi) are about twice their size: easy to read,
    # and ten of them in a row still fit a page-wide figure.
    return float(np.clip(side_px / 46.0, 0.6, 1.2))


def _unit_range(first, last):
    return f"unit {first}" if first == last else f"units {first}\u2013{last}"


def _draw_mosaic(ax, tiles, n_cols, cmap, row_labels, col_labels):
    """Tiles as one image on `ax`, separated by TILE_SEPARATOR lines, rows/columns labelled by ticks.

    One image instead of one Axes per tile keeps a 100-tile grid fast to lay out and draw.
    Returns the mosaic's (height, width) in pixels.
    """
    n, h, w = tiles.shape[:3]
    n_rows = math.ceil(n / n_cols)
    pad = max(1, h // 14)
    # NaN marks the gaps and unused cells; the colour map's "bad" colour paints them.
    mosaic = np.full((n_rows * (h + pad) + pad, n_cols * (w + pad) + pad, *tiles.shape[3:]), np.nan)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, n_cols)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        mosaic[top:top + h, left:left + w] = tile
    if mosaic.ndim == 3:  # colour tiles: no colour map, so the gaps are painted directly
        mosaic = np.where(np.isnan(mosaic), np.asarray(to_rgb(TILE_SEPARATOR)), np.clip(mosaic, 0.0, 1.0))
        ax.imshow(mosaic, interpolation="nearest")
    else:
        cmap = colormaps.get_cmap(cmap).with_extremes(bad=TILE_SEPARATOR)
        ax.imshow(mosaic, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")

    row_centres = pad + np.arange(n_rows) * (h + pad) + (h - 1) / 2
    col_centres = pad + np.arange(n_cols) * (w + pad) + (w - 1) / 2
    ax.set_yticks(row_centres if row_labels else [], row_labels or [])
    ax.set_xticks(col_centres if col_labels else [], col_labels or [])
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    return mosaic.shape[:2]


# ----------------------------------------------------------------------------- decision regions

DPI = 100
PANEL_IN = 3.4
MAX_PANELS = 12


def _check_panel(i, p):
    for key in ("x", "y", "grid"):
        if key not in p:
            raise ZooError(f"panel {i} lacks {key!r}; expected keys x, y, grid (and optional title, lines, "
                           "xlabel, ylabel, dashed)")
    x, y = np.asarray(p["x"], np.float64), np.asarray(p["y"]).ravel()
    if x.ndim != 2 or x.shape[1] != 2 or len(x) != len(y):
        raise ZooError(f"panel {i}: x must be (N, 2) with one label per point, got {x.shape} and {y.shape}")
    gx, gy, values = (np.asarray(a, np.float64) for a in p["grid"])
    if values.shape != (len(gy), len(gx)):
        raise ZooError(f"panel {i}: grid values must be (len(ys), len(xs)) = {(len(gy), len(gx))}, got {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ZooError(f"panel {i}: grid values contain NaN or Inf")
    return x, y, gx, gy, values


def decision_regions(panels, *, title, cols=None):
    """panels: list of {"x": (N, 2) points, "y": (N,) 0/1 labels, "grid": (xs, ys, values (len(ys), len(xs)))
    with values in [0, 1] (a probability or a 0/1 decision), optional "title", "xlabel", "ylabel", "lines":
    [(w1, w2, b)] drawn where w1 x + w2 y + b = 0 (dashed when "dashed")}. Points the grid's 0.5 level puts
    on the wrong side are ringed in red."""
    if not isinstance(title, str) or not title.strip():
        raise ZooError("a figure needs a non-empty title")
    if not panels or len(panels) > MAX_PANELS:
        raise ZooError(f"decision_regions takes 1 to {MAX_PANELS} panels, got {len(panels) if panels else 0}")
    n = len(panels)
    cols = min(n, cols or 4)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(max(PANEL_IN * cols + 1.0, 6.4), PANEL_IN * rows + 0.9), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    fig.suptitle(title)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    image = None
    for i, (ax, p) in enumerate(zip(axes, panels)):
        x, y, gx, gy, values = _check_panel(i, p)
        image = ax.imshow(values, origin="lower", extent=(gx[0], gx[-1], gy[0], gy[-1]), vmin=0.0, vmax=1.0,
                          cmap="RdBu_r", alpha=0.55, interpolation="nearest", aspect="auto")
        if values.min() < 0.5 <= values.max():
            ax.contour(gx, gy, values, levels=[0.5], colors="black", linewidths=1.5)
        for w1, w2, b in p.get("lines", []):
            style = "--" if p.get("dashed") else "-"
            if abs(w2) > 1e-12:
                ax.plot(gx, -(w1 * gx + b) / w2, style, color="dimgray", linewidth=1)
            elif abs(w1) > 1e-12:
                ax.axvline(-b / w1, linestyle=style, color="dimgray", linewidth=1)
        # the point's own grid cell says which side of the boundary the model puts it
        ix = np.clip(np.searchsorted(gx, x[:, 0]), 0, len(gx) - 1)
        iy = np.clip(np.searchsorted(gy, x[:, 1]), 0, len(gy) - 1)
        wrong = (values[iy, ix] >= 0.5) != (y >= 0.5)
        for label, colour in ((0, "tab:blue"), (1, "tab:red")):
            sel = (y >= 0.5) == bool(label)
            ax.scatter(x[sel, 0], x[sel, 1], s=90, c=colour, edgecolors="black", zorder=3)
        if wrong.any():
            ax.scatter(x[wrong, 0], x[wrong, 1], s=260, facecolors="none", edgecolors="red", linewidths=2, zorder=4)
        ax.set_xlim(gx[0], gx[-1])
        ax.set_ylim(gy[0], gy[-1])
        ax.set_xlabel(p.get("xlabel", "x1"))
        ax.set_ylabel(p.get("ylabel", "x2"))
        ax.set_title(p.get("title", ""), fontsize=9)
    for ax in axes[n:]:
        ax.set_visible(False)
    handles = [Line2D([], [], marker="o", linestyle="", markerfacecolor="tab:blue", markeredgecolor="black",
                      markersize=9, label="Y = 0"),
               Line2D([], [], marker="o", linestyle="", markerfacecolor="tab:red", markeredgecolor="black",
                      markersize=9, label="Y = 1"),
               Line2D([], [], marker="o", linestyle="", markerfacecolor="none", markeredgecolor="red", markersize=13,
                      markeredgewidth=2, label="misclassified"),
               Line2D([], [], color="black", label="decision boundary (0.5)")]
    fig.legend(handles=handles, loc="outside lower center", ncols=4, fontsize=8)
    fig.colorbar(image, ax=list(axes[:n]), label="model output", shrink=0.8)
    return fig
