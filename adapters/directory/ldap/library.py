"""ldap3, imported once with pyasn1's notices about ldap3's old names silenced.

ldap3 2.9.1 imports `tagMap` and `typeMap` from pyasn1's BER encoder, which recent pyasn1
releases report as deprecated (a DeprecationWarning at import time, nothing at run time).
This package's `__init__` imports this module first, so that ldap3 is loaded here; code
outside the package that needs ldap3 itself (the tests) takes it from here too.
"""

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", r"(tagMap|typeMap) is deprecated", DeprecationWarning)
    import ldap3
    import ldap3.core.exceptions
    import ldap3.utils.conv
    import ldap3.utils.dn

__all__ = ["ldap3"]
