"""``python -m invenio_stats_dashboard.demo``: build the demo site in the configured instance.

Reads the instance configuration like the ``invenio`` command does (INVENIO_INSTANCE_PATH),
loads the minimal vocabularies and the Knowledge Commons custom field mappings, then builds
the site through the real services.
"""

import argparse
import logging
import sys
import time

from .site import DemoSiteConfig


def main(argv: list[str] | None = None) -> int:
    """Parse options, build the site, print a summary."""
    defaults = DemoSiteConfig()
    parser = argparse.ArgumentParser(prog="python -m invenio_stats_dashboard.demo")
    parser.add_argument("--communities", type=int, default=defaults.communities)
    parser.add_argument("--migrated-communities", type=int, default=defaults.migrated_communities)
    parser.add_argument("--records", type=int, default=defaults.records)
    parser.add_argument("--history-days", type=int, default=defaults.history_days)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    args = parser.parse_args(argv)
    if not 1 <= args.migrated_communities <= args.communities <= 14 or args.records < 1:
        parser.error("need 1 <= migrated-communities <= communities <= 14 and records >= 1")

    from invenio_app.factory import create_api

    from invenio_record_importer_kcworks.custom_fields import put_custom_field_mappings

    from .site import build_demo_site
    from .vocabularies import load_minimal_vocabularies

    config = DemoSiteConfig(
        communities=args.communities,
        migrated_communities=args.migrated_communities,
        records=args.records,
        history_days=args.history_days,
        seed=args.seed,
    )
    app = create_api()
    # InvenioRDM warns for every record it indexes while per-record stats indices are
    # still missing (they appear with the first aggregation): expected here, so quiet.
    app.logger.setLevel(logging.ERROR)
    started = time.monotonic()
    with app.app_context():
        print("  vocabularies and custom field mappings", flush=True)
        load_minimal_vocabularies()
        put_custom_field_mappings()
        site = build_demo_site(config, log=lambda line: print(f"  {line}", flush=True))
    print(f"  built in {time.monotonic() - started:.0f}s:")
    for key, value in site.summary().items():
        print(f"    {key:<26} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
