"""``neuronid selftest [--json PATH] [--results IDS ...]``: the checkers' mutation self-test.

For every result (P1-P6, T1-T4, or those in ``--results``, which may be repeated) the checker runs on a
small case where the conclusion holds (it must say ``holds``) and on planted defects
of the computation it relies on (it must say ``theory violation``, or
``undetermined`` where nothing can be tested); the command prints a table and the
mutation score. Exit status 0 only at 100 % (and every holds case passing), 1
otherwise (a checker without power is a bug), 2 on bad input.
See :mod:`neuronid.proofs_checks.selftest`.
"""

from __future__ import annotations

import sys

from neuronid._cli_common import merged_names, name_list
from neuronid._cmd_theory import _check_json_path
from neuronid.numerics.io import write_json
from neuronid.proofs_checks.checkers import CHECKED_RESULTS
from neuronid.proofs_checks.selftest import run_selftest, selftest_table


def register(sub) -> None:
    p = sub.add_parser(
        "selftest",
        help="mutation self-test: every checker must flag planted defects (exit 0 only at 100 %%)",
        description=(
            "Run each result's checker on a case where its conclusion holds (must say 'holds') and on "
            "planted defects of the computation it relies on, injected through the documented mutation "
            "hook of CheckContext (must say 'theory violation', or 'undetermined' where nothing can be "
            "tested). Prints a table and the mutation score; exit status 0 only at 100 %. "
            f"Results: {', '.join(CHECKED_RESULTS)}."
        ),
    )
    p.add_argument("--results", type=name_list, action="append", metavar="IDS",
                   help="comma-separated result IDs, e.g. P3,T4; may be repeated (--results P3 --results T4 "
                        "runs both; default: all)")
    p.add_argument("--json", metavar="PATH", help="also write the rows and the score as one JSON object to PATH")
    p.set_defaults(func=run)


def run(args) -> int:
    _check_json_path(args.json)
    # --results may be repeated: the union of every occurrence, in order (as for check)
    out = run_selftest(merged_names("--results", args.results, CHECKED_RESULTS))
    sys.stdout.write(selftest_table(out))
    if args.json:
        write_json(args.json, out)
        print(f"wrote {args.json}")
    return 0 if out["passed"] else 1
