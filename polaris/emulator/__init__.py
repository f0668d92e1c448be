"""A local Polaris Hub for development and tests.

``python -m polaris.emulator start --seed demo`` (or ``polaris emulator start``) serves, on loopback:

* the Hub REST API under ``/api`` (validated against ``openapi/hub.yaml``) and its token endpoint ``/api/auth/token``,
  in the protocols of polaris-lib 0.10 and 0.11-0.13 side by side (``--protocol`` serves only one generation);
* anonymous http(s) reads of public artifacts' objects under ``/storage/public/`` (the URLs 0.13 reads);
* an identity provider (``/oauth/authorize``, ``/oauth/token``, ``/oauth/userinfo``) with HTML login/consent pages,
  and the Hub's code page ``/oauth2/callback``;
* an S3-compatible object store (moto) for tables and Zarr archives;
* simple web pages for the links the client prints.

Routes live in :mod:`polaris.emulator.routes` (one module per resource), assembled by :mod:`polaris.emulator.app`.
Point a client at it with the ``POLARIS_*`` lines it prints when ready. For pytest, see :mod:`polaris.testing`.
The client never imports this package.
"""
