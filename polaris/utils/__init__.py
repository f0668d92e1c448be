"""polaris-lib's ``polaris.utils`` import paths: :mod:`polaris.utils.types` and :mod:`polaris.utils.errors`."""
