"""The local Hub's routes, one module per resource (the URL says which module to open).

========================================  ===============================
URL                                       module
========================================  ===============================
``/api/v1/dataset``, ``/api/v2/dataset``  :mod:`.datasets`
``/api/v1/benchmark``                     :mod:`.benchmarks`
``/api/v2/result``                        :mod:`.results`
``/api/v2/competition*``                  :mod:`.competitions`
``/api/auth/token``                       :mod:`.token`
``/oauth/*``, ``/oauth2/callback``        :mod:`.idp`
``/``, ``/datasets/…``, other pages       :mod:`.web`
``/__emulator__/*``                       :mod:`.control`
========================================  ===============================

Each module has a ``routes(...)`` function returning its Starlette routes; :func:`polaris.emulator.app.create_app`
puts them together behind :mod:`polaris.emulator.middleware`.
"""
