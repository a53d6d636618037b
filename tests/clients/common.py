"""What the Python client checks share: the proxy's addresses for the test tenants (set by
tests/support's run_client) and an assertion that names what failed."""

import os

ACME = os.environ["ACME_DSN"]
GLOBEX = os.environ["GLOBEX_DSN"]
HOOLI = os.environ["HOOLI_DSN"]


def check(condition, what):
    if not condition:
        raise AssertionError(what)
