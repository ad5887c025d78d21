"""Size of a frozen build and its largest contributors (target: dist/tagloop <= 450 MB).

    python packaging/size_report.py [DIST] [--top 20]

Groups files by what they belong to: the top-level package or folder under _internal/
(PySide6, spacy, pyarrow...), with Qt's libraries and plugins shown apart, and lists the
largest single files. Plain Python: runs without Tagloop's dependencies.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

TARGET_MB = 450
MB = 1024 * 1024


def group_of(rel: Path) -> str:
    parts = rel.parts
    if parts[0] == "_internal" and len(parts) > 1:
        parts = parts[1:]
    if len(parts) == 1:
        name = parts[0]
        return name.split(".so")[0] if ".so" in name else name
    if parts[0] == "PySide6" and len(parts) > 3 and parts[1] == "Qt":
        return f"PySide6/Qt/{parts[2]}" + (f"/{parts[3]}" if parts[2] == "plugins" else "")
    return parts[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dist", nargs="?", default="dist/tagloop", type=Path)
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    files = [p for p in args.dist.rglob("*") if p.is_file() and not p.is_symlink()]
    if not files:
        parser.error(f"{args.dist} holds no build")
    sizes = {p: p.stat().st_size for p in files}
    total = sum(sizes.values())
    groups: Counter[str] = Counter()
    for path, size in sizes.items():
        groups[group_of(path.relative_to(args.dist))] += size
    verdict = "within" if total <= TARGET_MB * MB else "OVER"
    print(f"{args.dist}: {total / MB:.1f} MB in {len(files):,} files")
    print(f"  ({verdict} the {TARGET_MB} MB target)")
    print(f"\nlargest contributors (top {args.top}):")
    for name, size in groups.most_common(args.top):
        print(f"  {size / MB:8.1f} MB  {100 * size / total:5.1f} %  {name}")
    print(f"\nlargest files (top {min(args.top, 10)}):")
    for path, size in sorted(sizes.items(), key=lambda kv: -kv[1])[: min(args.top, 10)]:
        print(f"  {size / MB:8.1f} MB  {path.relative_to(args.dist)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
