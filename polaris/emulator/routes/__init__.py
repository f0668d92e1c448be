"""The local Hub's routes, one module per resource (the URL says which module to open).

==============================================================  ===================
URL                                                             module
==============================================================  ===================
``/api/v1/dataset*``, ``/api/v2/dataset*``                      :mod:`.datasets`
``/api/v1/benchmark*``, ``/api/v2/benchmark*``                  :mod:`.benchmarks`
``/api/v2/result``                                              :mod:`.results`
``/api/v2/competition*``, ``/api/v1/competition*``              :mod:`.competitions`
``/api/v2/model*``                                              :mod:`.models`
``/api/auth/token``                                             :mod:`.token`
``/storage/public/*`` (anonymous object reads, 0.13)            :mod:`.storage`
``/oauth/*``, ``/oauth2/callback``                              :mod:`.idp`
``/oauth/revoke`` (RFC 7009 token revocation, logout)           :mod:`.revoke`
``/.well-known/polaris-hub`` (where the identity provider is)    :mod:`.discovery`
``/``, ``/datasets/…``, other pages                             :mod:`.web`
``/__emulator__/*``                                             :mod:`.control`
==============================================================  ===================

``--protocol 0.10`` switches off what 0.11+ added (those URLs answer 404, GET answers carry no direct URLs);
``--protocol 0.13`` switches off what only 0.10 calls (``/api/v2/competition*``); the default serves both.

Each module has a ``routes(...)`` function returning its Starlette routes; :func:`polaris.emulator.app.create_app`
puts them together behind :mod:`polaris.emulator.middleware`.
"""
