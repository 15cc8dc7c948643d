"""zoo/figures.py: every builder makes a titled, labelled, wide-enough figure; save is atomic."""

import importlib.util
import os
import re
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load_figures():
    """zoo/figures.py by file path, so these tests need neither TensorFlow nor the rest of zoo.

    figures.py imports zoo.errors; when the package is not imported yet, errors.py (which has
    no imports) stands in for it just while figures.py executes.
    """
    errors_was_loaded = "zoo.errors" in sys.modules
    if not errors_was_loaded:
        spec = importlib.util.spec_from_file_location("zoo.errors", ROOT / "zoo" / "errors.py")
        errors = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(errors)
        sys.modules["zoo.errors"] = errors
    try:
        spec = importlib.util.spec_from_file_location("zoo_figures_under_test", ROOT / "zoo" / "figures.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        if not errors_was_loaded:
            del sys.modules["zoo.errors"]
    return module


figures = _load_figures()
ZooError = figures.ZooError


def png_width(path):
    header = Path(path).read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and header[12:16] == b"IHDR"
    return struct.unpack(">I", header[16:20])[0]


def title_of(fig):
    return fig.get_suptitle() or next((ax.get_title() for ax in fig.axes if ax.get_title()), "")


def main_axes(fig):
    """The plotting axes: the first one (a colour bar, when there is one, comes after it)."""
    return fig.axes[0]


def tick_texts(ticklabels):
    return [t.get_text() for t in ticklabels]


def constant_images(n, side=6):
    """n images, image i filled with the value i / n, so a tile's value says which image it is."""
    return np.repeat((np.arange(n) / n)[:, None, None], side * side, axis=1).reshape(n, side, side)


# name -> (builder, promises axis labels)
BUILDERS = {
    "image_grid": (lambda: figures.image_grid(
        np.random.default_rng(0).random((20, 784)), title="originals over reconstructions",
        row_labels=["original", "reconstruction"]), False),
    "decoded_grid": (lambda: figures.decoded_grid(
        constant_images(9), [-1.0, 0.0, 1.0], title="decoded latent grid"), True),
    "latent_map": (lambda: figures.latent_map(
        np.random.default_rng(0).normal(size=(200, 2)), np.arange(200) % 4, title="latent map"), True),
    "confusion_matrix": (lambda: figures.confusion_matrix(np.eye(3, dtype=int) * 5 + 1, title="confusion"), True),
    "filters": (lambda: figures.filters(np.random.default_rng(0).normal(size=(8, 49)), title="filters"), False),
    "curves": (lambda: figures.curves({"train": ([1, 2, 3], [3.0, 2.0, 1.5])}, title="loss",
                                      xlabel="epoch", ylabel="loss"), True),
    "bar_histogram": (lambda: figures.bar_histogram([4, 0, 7], title="modes", xlabel="mode",
                                                    ylabel="samples"), True),
    "scatter_xy": (lambda: figures.scatter_xy([[0, 0], [1, 2], [2, 1]], title="words", xlabel="pc1",
                                              ylabel="pc2", labels=["a", "b", "c"]), True),
}


@pytest.mark.parametrize("name", BUILDERS)
def test_every_figure_is_titled_labelled_and_at_least_600_px_wide(name, tmp_path):
    build, has_axis_labels = BUILDERS[name]
    fig = build()
    path = figures.save(fig, tmp_path / f"{name}.png")
    assert path == tmp_path / f"{name}.png"
    assert png_width(path) >= 600
    assert title_of(fig).strip()
    if has_axis_labels:
        ax = main_axes(fig)
        assert ax.get_xlabel().strip() and ax.get_ylabel().strip()


def test_builders_refuse_an_empty_title():
    with pytest.raises(ZooError, match="title"):
        figures.curves({"a": ([0, 1], [0, 1])}, title=" ", xlabel="x", ylabel="y")


# ----------------------------------------------------------------------------- image grids

def test_image_grid_fills_rows_left_to_right_and_labels_rows_and_columns():
    n, cols = 7, 3
    fig = figures.image_grid(constant_images(n), title="t", cols=cols,
                             row_labels=["first", "second", "third"], col_labels=["a", "b", "c"])
    ax = main_axes(fig)
    assert tick_texts(ax.get_yticklabels()) == ["first", "second", "third"]
    assert tick_texts(ax.get_xticklabels()) == ["a", "b", "c"]
    image = ax.images[0]
    assert image.get_interpolation() == "nearest" and image.get_clim() == (0.0, 1.0)
    assert image.get_cmap().name.startswith("gray_r")
    mosaic = np.ma.filled(image.get_array(), np.nan)
    # Sampling the mosaic at each tick crossing reads back the tile drawn in that cell.
    for r, y in enumerate(ax.get_yticks()):
        for c, x in enumerate(ax.get_xticks()):
            value = mosaic[int(round(y)), int(round(x))]
            i = r * cols + c
            if i < n:
                assert value == pytest.approx(i / n)
            else:
                assert np.isnan(value)  # an unused cell shows the separator colour


def test_image_grid_scales_uint8_and_accepts_flat_rows():
    fig = figures.image_grid(np.full((2, 16), 255, np.uint8), title="t")
    data = np.ma.compressed(main_axes(fig).images[0].get_array())
    assert data.max() == pytest.approx(1.0)


def test_image_grid_refuses_bad_shapes_and_label_counts():
    with pytest.raises(ZooError, match="square"):
        figures.image_grid(np.zeros((2, 10)), title="t")
    with pytest.raises(ZooError, match="row_labels"):
        figures.image_grid(np.zeros((4, 4, 4)), title="t", cols=2, row_labels=["only one"])


def test_decoded_grid_ticks_are_latent_values_with_z2_decreasing_downwards():
    fig = figures.decoded_grid(constant_images(9), [-1.0, 0.0, 1.5], title="t")
    ax = main_axes(fig)
    assert tick_texts(ax.get_xticklabels()) == ["-1", "0", "1.5"]
    assert tick_texts(ax.get_yticklabels()) == ["1.5", "0", "-1"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("z1", "z2")
    mosaic = ax.images[0].get_array()
    assert mosaic.shape == (18, 18)
    # Row-major: image 1 is top row, middle column; image 3 starts the second row.
    assert mosaic[0, 6] == pytest.approx(1 / 9) and mosaic[6, 0] == pytest.approx(3 / 9)


def test_decoded_grid_refuses_mismatched_counts_and_unsorted_ticks():
    with pytest.raises(ZooError, match="9 images"):
        figures.decoded_grid(constant_images(8), [0, 1, 2], title="t")
    with pytest.raises(ZooError, match="increasing"):
        figures.decoded_grid(constant_images(4), [1, 0], title="t")


def test_filters_scale_every_tile_to_its_own_range_and_say_so():
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(6, 16)) * np.array([0.01, 1, 100, 1, 1, 1])[:, None]
    weights[5] = 3.0  # a constant tile must not divide by zero
    fig = figures.filters(weights, title="first layer")
    ax = main_axes(fig)
    assert "each tile scaled to its own range" in ax.get_title()
    assert ax.images[0].get_cmap().name.startswith("gray")
    mosaic = np.ma.filled(ax.images[0].get_array(), np.nan)
    tiles = [mosaic[1 + r * 5:1 + r * 5 + 4, 1 + c * 5:1 + c * 5 + 4] for r in range(2) for c in range(3)]
    for tile in tiles[:5]:
        assert np.nanmin(tile) == pytest.approx(0.0) and np.nanmax(tile) == pytest.approx(1.0)
    assert np.all(tiles[5] == 0.5)
    assert tick_texts(ax.get_yticklabels()) == ["units 0\u20132", "units 3\u20135"]


def test_filters_refuse_an_untransposed_dense_kernel():
    with pytest.raises(ZooError, match="transpos"):
        figures.filters(np.zeros((784, 10)), title="t")


# ----------------------------------------------------------------------------- plots

def test_latent_map_legends_every_class_and_counts_the_hidden_outliers():
    rng = np.random.default_rng(0)
    bulk = rng.random((1000, 2))
    planted = np.array([[50.0, 50.0], [-40.0, 0.5], [0.5, 1e6], [np.nan, 0.5]])
    z = np.vstack([bulk, planted])
    labels = np.arange(len(z)) % 3
    fig = figures.latent_map(z, labels, title="t", class_names=["zero", "one", "two"])
    ax = main_axes(fig)
    assert tick_texts(ax.get_legend().get_texts()) == ["zero", "one", "two"]
    notes = [t.get_text() for t in ax.texts if "outside the view" in t.get_text()]
    assert notes == ["4 points outside the view"]
    assert len(ax.collections[0].get_offsets()) == 1000
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    assert -0.1 < x0 < 0.01 and 0.99 < x1 < 1.1 and -0.1 < y0 < 0.01 and 0.99 < y1 < 1.1


def test_latent_map_without_outliers_has_no_note_and_defaults_names_to_labels():
    z = np.random.default_rng(1).random((300, 2))
    fig = figures.latent_map(z, np.arange(300) % 10, title="t")
    ax = main_axes(fig)
    assert tick_texts(ax.get_legend().get_texts()) == [str(i) for i in range(10)]
    assert not [t for t in ax.texts if "outside the view" in t.get_text()]


def test_latent_map_refuses_wide_codes_and_unnamed_classes():
    with pytest.raises(ZooError, match=r"\(N, 2\)"):
        figures.latent_map(np.zeros((5, 3)), np.zeros(5, int), title="t")
    with pytest.raises(ZooError, match="class 2"):
        figures.latent_map(np.zeros((3, 2)), [0, 1, 2], title="t", class_names=["a", "b"])


def test_confusion_matrix_writes_each_count_once_with_a_colour_bar_and_accuracy():
    matrix = np.array([[5, 1, 0], [2, 7, 1], [0, 0, 90]])
    fig = figures.confusion_matrix(matrix, title="classifier", class_names=["cat", "dog", "emu"])
    ax = main_axes(fig)
    assert len(ax.texts) == matrix.size
    seen = set()
    for text in ax.texts:
        col, row = (int(round(v)) for v in text.get_position())
        assert text.get_text() == str(matrix[row, col])
        seen.add((row, col))
    assert len(seen) == matrix.size
    colour = {(int(round(t.get_position()[1])), int(round(t.get_position()[0]))): t.get_color() for t in ax.texts}
    assert colour[(2, 2)] == "white" and colour[(0, 2)] == "black"
    colorbar = ax.images[0].colorbar
    assert colorbar is not None and colorbar.ax.get_ylabel() == "images"
    assert fig.get_suptitle() == "classifier"
    assert re.search(r"106 images, accuracy 96\.23%", ax.get_title())  # 102 / 106
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted class", "true class")
    assert tick_texts(ax.get_xticklabels()) == ["cat", "dog", "emu"]
    assert tick_texts(ax.get_yticklabels()) == ["cat", "dog", "emu"]


def test_confusion_matrix_refuses_non_square_and_negative_counts():
    with pytest.raises(ZooError, match="square"):
        figures.confusion_matrix(np.zeros((2, 3), int), title="t")
    with pytest.raises(ZooError, match="negative"):
        figures.confusion_matrix(np.array([[1, -1], [0, 1]]), title="t")


def test_curves_mark_short_series_only_and_support_log_y():
    x_long = np.arange(50)
    fig = figures.curves({"short": ([1, 2, 3], [1.0, 0.5, 0.2]), "long": (x_long, 1.0 / (x_long + 1))},
                         title="t", xlabel="epoch", ylabel="loss", logy=True)
    ax = main_axes(fig)
    short, long = ax.get_lines()
    assert short.get_marker() == "o" and long.get_marker() in (None, "None", "")
    assert tick_texts(ax.get_legend().get_texts()) == ["short", "long"]
    assert ax.get_yscale() == "log"
    assert ax.xaxis.get_gridlines()[0].get_visible()
    with pytest.raises(ZooError, match="log"):
        figures.curves({"a": ([0, 1], [1.0, 0.0])}, title="t", xlabel="x", ylabel="y", logy=True)


def test_bar_histogram_draws_one_labelled_bar_per_count():
    fig = figures.bar_histogram([3, 0, 5], title="t", xlabel="digit", ylabel="images",
                                labels=["a", "b", "c"])
    ax = main_axes(fig)
    assert [p.get_height() for p in ax.patches] == [3, 0, 5]
    assert tick_texts(ax.get_xticklabels()) == ["a", "b", "c"]


def test_scatter_xy_captions_each_point():
    points = np.array([[0.0, 0.0], [1.0, 2.0], [2.0, 1.0]])
    fig = figures.scatter_xy(points, title="t", xlabel="x", ylabel="y", labels=["king", "queen", "man"])
    ax = main_axes(fig)
    assert sorted(t.get_text() for t in ax.texts) == ["king", "man", "queen"]
    assert len(ax.collections[0].get_offsets()) == 3


def test_scatter_xy_places_captions_in_order_without_overlap_and_keeps_every_point():
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.normal(0, 0.05, (150, 2)), [[3.0, 3.0], [-3.0, -3.0]]])
    words = [f"word{i}" for i in range(len(points))]
    fig = figures.scatter_xy(points, title="t", xlabel="x", ylabel="y", labels=words,
                             label_order=[151, 150, *range(150)], groups={"corners": [150, 151]}, bold=[151])
    ax = main_axes(fig)
    texts = [t.get_text() for t in ax.texts]
    assert texts[:2] == ["word151", "word150"] and ax.texts[0].get_fontweight() == "bold"
    assert 2 < len(texts) < len(points)  # the pile cannot caption all 150 legibly
    assert len(ax.collections[0].get_offsets()) == len(points)
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in ax.texts]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    assert "corners" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(f"{len(texts)} of {len(points)} points captioned" == t.get_text() for t in fig.texts)


# ----------------------------------------------------------------------------- save

def small_figure():
    return figures.bar_histogram([1, 2], title="t", xlabel="x", ylabel="y")


def test_save_creates_folders_leaves_no_temporary_and_follows_the_umask(tmp_path):
    path = figures.save(small_figure(), tmp_path / "a" / "b" / "fig.png")
    assert [p.name for p in path.parent.iterdir()] == ["fig.png"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_save_into_a_path_whose_parent_is_a_file_raises(tmp_path):
    (tmp_path / "not_a_folder").write_text("x")
    with pytest.raises(ZooError, match="cannot write"):
        figures.save(small_figure(), tmp_path / "not_a_folder" / "fig.png")
    assert [p.name for p in tmp_path.iterdir()] == ["not_a_folder"]


class FailingFigure:
    """Writes part of a PNG, then fails the way a full disk or a rendering bug would."""

    dpi = 100

    def __init__(self, error):
        self.error = error

    def savefig(self, out, **kwargs):
        out.write(b"\x89PNG half a file")
        raise self.error


@pytest.mark.parametrize("error, expected", [(OSError(28, "No space left on device"), ZooError),
                                             (RuntimeError("renderer broke"), RuntimeError)])
def test_a_failed_write_leaves_the_existing_file_untouched(tmp_path, error, expected):
    path = figures.save(small_figure(), tmp_path / "fig.png")
    before = path.read_bytes()
    with pytest.raises(expected):
        figures.save(FailingFigure(error), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["fig.png"]


def test_save_refuses_a_path_that_is_not_png(tmp_path):
    with pytest.raises(ZooError, match=r"\.png"):
        figures.save(small_figure(), tmp_path / "fig.jpg")
