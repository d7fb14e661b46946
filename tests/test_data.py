import numpy as np
import pytest

from sharegrad.data import load_image_set
from sharegrad.data.cifar import read_batches
from sharegrad.errors import UserError


def test_embedded_set_is_large_distinct_and_real(embedded):
    assert len(embedded) >= 64
    assert embedded.images.shape[1:] == (32, 32, 3) and embedded.images.dtype == np.uint8
    flat = embedded.images.reshape(len(embedded), -1)
    assert len(np.unique(flat, axis=0)) == len(embedded), "tiles must be distinct"
    # real photographs, not flat colour: every tile has texture
    assert flat.astype(float).std(axis=1).min() > 10
    assert embedded.labels.min() >= 0 and embedded.labels.max() < 100


def test_embedded_round_trip_through_cifar_format(embedded_root):
    from sharegrad.data.embedded import build_embedded

    built = build_embedded(seed=0)["train"]
    images, labels = read_batches([embedded_root / "cifar-100-python" / "train"], b"fine_labels")
    np.testing.assert_array_equal(images, built[0])
    np.testing.assert_array_equal(labels, built[1])


def test_tensor_is_totensor_scaled(embedded):
    x, y = embedded.tensor([0, 1])
    assert x.shape == (2, 3, 32, 32)
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    np.testing.assert_allclose(x[0].permute(1, 2, 0).numpy() * 255, embedded.images[0], atol=1e-4)


def test_out_of_range_index_names_the_range(embedded):
    with pytest.raises(UserError, match="out of range"):
        embedded.tensor([len(embedded)])


def test_missing_data_set_says_how_to_get_it(tmp_path):
    with pytest.raises(UserError, match="sharegrad data cifar"):
        load_image_set("cifar100", "train", tmp_path)


def test_digits_split_is_seeded(tmp_path):
    from sharegrad.data.digits import load_digits_split, write_digits

    a = write_digits(tmp_path / "a.npz", seed=3)
    b = write_digits(tmp_path / "b.npz", seed=3)
    xa, ya = load_digits_split(a, "train")
    xb, yb = load_digits_split(b, "train")
    np.testing.assert_array_equal(ya, yb)
    xt, _ = load_digits_split(a, "test")
    assert len(xa) + len(xt) == 1797 and xa.shape[1:] == (1, 8, 8)
