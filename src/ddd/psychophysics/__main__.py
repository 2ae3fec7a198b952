"""``python -m ddd.psychophysics serve <site> [--port 8000] [--responses DIR] [--observers ID ...]``.

Serves an experiment site (``results/<study>/psychophysics``) on 127.0.0.1 and writes each trial
to ``<responses>/<observer>.csv`` as it arrives (:mod:`ddd.psychophysics.server`).
"""

from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ddd.psychophysics",
                                     description="The psychophysical experiment of ddd (paper section 3.4).")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve an experiment site on 127.0.0.1 and record every trial on disk")
    s.add_argument("site", help="the experiment folder, e.g. results/laptop-gaussian/psychophysics")
    s.add_argument("--port", type=int, default=8000, help="TCP port on 127.0.0.1 (default 8000; 0: any free one)")
    s.add_argument("--responses", default=None,
                   help="folder of the observers' CSV files (default: <site>/responses)")
    s.add_argument("--observers", nargs="+", default=None, metavar="ID",
                   help="accept only these observer ids (default: any valid id)")
    args = parser.parse_args(argv)
    from ddd.psychophysics.server import serve
    try:
        serve(args.site, responses_dir=args.responses, port=args.port, observers=args.observers)
    except (FileNotFoundError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
