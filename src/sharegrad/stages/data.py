"""Stage: prepare data sets (embedded photographs, digits, CIFAR download)."""

from __future__ import annotations

from pathlib import Path

from sharegrad import paths


def register_cli(subparsers) -> None:
    p = subparsers.add_parser("data", help="prepare a data set")
    sub = p.add_subparsers(dest="dataset", metavar="DATASET", required=True)

    emb = sub.add_parser("embedded", help="cut shipped photographs into 32x32 tiles in CIFAR-100 format")
    emb.add_argument("--root", default=str(paths.EMBEDDED_ROOT))
    emb.add_argument("--seed", type=int, default=0)

    def embedded(args):
        from sharegrad.data.cifar import load_image_set
        from sharegrad.data.embedded import write_embedded

        folder = write_embedded(Path(args.root), seed=args.seed)
        sizes = {s: len(load_image_set("embedded", s, Path(args.root))) for s in ("train", "test")}
        print(f"wrote {folder}: {sizes['train']} train and {sizes['test']} test tiles")

    emb.set_defaults(handler=embedded)

    dig = sub.add_parser("digits", help="scikit-learn's digits with a seeded train/test split")
    dig.add_argument("--out", default=str(paths.DIGITS_FILE))
    dig.add_argument("--seed", type=int, default=0)

    def digits(args):
        from sharegrad.data.digits import write_digits

        print(f"wrote {write_digits(Path(args.out), seed=args.seed)}")

    dig.set_defaults(handler=digits)

    cif = sub.add_parser("cifar", help="download CIFAR-10/100 with torchvision (needs internet)")
    cif.add_argument("--name", default="cifar100", help="cifar100 | cifar10")
    cif.add_argument("--root", default=str(paths.CIFAR_ROOT))

    def cifar(args):
        from sharegrad.data.cifar import download_cifar

        print(f"downloaded {download_cifar(args.name, Path(args.root))}")

    cif.set_defaults(handler=cifar)
