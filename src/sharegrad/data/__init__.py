"""Data sets: real CIFAR (download), the embedded photographs, the digits."""

from sharegrad.data.cifar import ImageSet, load_image_set

__all__ = ["ImageSet", "load_image_set"]
