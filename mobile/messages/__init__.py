"""UI text of the features, one module each, merged into mobile.i18n's catalog.

Each module defines MESSAGES: message id to a pair (zh-CN, en). Ids start with
the feature's prefix so that two modules do not define the same id. mobile.i18n
raises ValueError at import for a duplicate.
"""
