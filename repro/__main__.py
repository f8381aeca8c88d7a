"""python -m repro {list,profile,pretrain,adapt,calibrate,sweep,report,verdicts} ... (repro/show/cli.py)

`verdicts` reads stored records only, so it is dispatched before anything imports torch: the claims
table of any stored run then comes back in about a second.
"""

from __future__ import annotations

import sys


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["verdicts"]:
        from repro.verify.verdicts import main as verdicts

        return verdicts(argv[1:])
    from repro.show.cli import main as cli

    return cli(argv)


if __name__ == "__main__":
    sys.exit(main())
