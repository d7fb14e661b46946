"""The embedded default image set: real photographs that ship inside installed
packages, cut into 32 x 32 RGB tiles and written in CIFAR-100's format.

It exists because this project's CI machines cannot download CIFAR. It is an
explicit choice (``dataset: embedded`` in the config), never a fallback: a
figure made from it says so. Labels are synthetic class ids in 0..99, drawn
with a seed (the tiles have no CIFAR class); DLG only needs a label per image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sharegrad.data.cifar import write_cifar100_format
from sharegrad.errors import UserError

TILE = 32
SHORT_SIDE = 128  # each photo is resized so its shorter side holds 4 tiles
MIN_TILE_STD = 12.0  # on 0..255: drop nearly flat tiles (sky, walls), they make DLG trivially easy


def _skimage(name):
    def load():
        import skimage.data

        return getattr(skimage.data, name)()

    return load


def _sklearn(index):
    def load():
        from sklearn.datasets import load_sample_images

        return load_sample_images().images[index]

    return load


def _matplotlib(relative):
    def load():
        import matplotlib.cbook

        with matplotlib.cbook.get_sample_data(relative) as handle:
            import matplotlib.image

            return matplotlib.image.imread(handle, format=Path(relative).suffix[1:])

    return load


# name -> loader; all ship inside the wheels (no network).
PHOTOS = {
    "skimage.astronaut": _skimage("astronaut"),
    "skimage.chelsea": _skimage("chelsea"),
    "skimage.coffee": _skimage("coffee"),
    "skimage.rocket": _skimage("rocket"),
    "skimage.immunohistochemistry": _skimage("immunohistochemistry"),
    "sklearn.china": _sklearn(0),
    "sklearn.flower": _sklearn(1),
    "matplotlib.grace_hopper": _matplotlib("grace_hopper.jpg"),
}


def _as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = np.clip(np.round(image * (255.0 if image.max() <= 1.0 else 1.0)), 0, 255).astype(np.uint8)
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return image[..., :3]


def _tiles(photo: np.ndarray) -> list[tuple[np.ndarray, tuple[int, int]]]:
    from skimage.transform import resize

    h, w = photo.shape[:2]
    scale = SHORT_SIDE / min(h, w)
    size = (int(round(h * scale)), int(round(w * scale)))
    small = resize(photo, size, anti_aliasing=True, preserve_range=True)
    small = np.clip(np.round(small), 0, 255).astype(np.uint8)
    tiles = []
    for row in range(size[0] // TILE):
        for col in range(size[1] // TILE):
            tile = small[row * TILE:(row + 1) * TILE, col * TILE:(col + 1) * TILE]
            if tile.astype(np.float64).std() >= MIN_TILE_STD:
                tiles.append((tile, (row, col)))
    return tiles


def build_embedded(seed: int = 0, test_fraction: float = 0.2) -> dict[str, tuple[np.ndarray, np.ndarray, list[str]]]:
    images, names = [], []
    for photo_name, load in PHOTOS.items():
        try:
            photo = _as_rgb_uint8(load())
        except Exception as exc:  # a photo that does not ship is a broken install, not a reason to shrink the set
            raise UserError(f"embedded photo {photo_name} could not be loaded ({exc}); reinstall the package that ships it") from None
        for tile, (row, col) in _tiles(photo):
            images.append(tile)
            names.append(f"{photo_name}_r{row}c{col}.png")
    images = np.stack(images)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(images))
    images, names = images[order], [names[i] for i in order]
    labels = rng.integers(0, 100, size=len(images))
    n_test = int(round(test_fraction * len(images)))
    return {
        "train": (images[n_test:], labels[n_test:], names[n_test:]),
        "test": (images[:n_test], labels[:n_test], names[:n_test]),
    }


def write_embedded(root: Path, seed: int = 0) -> Path:
    folder = Path(root) / "cifar-100-python"
    for split, (images, labels, names) in build_embedded(seed).items():
        write_cifar100_format(folder, images, labels, names, split, f"sharegrad embedded photographs ({split})")
    return folder
