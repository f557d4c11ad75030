"""The `graph` directory section of the bot's configuration: which tenant, which app, and
what the directory reads.

The app registration needs these application permissions (Microsoft Graph, admin
consent): User.Read.All (find people, read their directory roles), GroupMember.Read.All
(nested group checks, group names), User-PasswordProfile.ReadWrite.All (set the password),
User.RevokeSessions.All (sign the user out everywhere), RoleManagement.Read.Directory
(list the Global Administrators, who are told when an admin's password is reset;
Directory.Read.All also allows it), and UserAuthenticationMethod.Read.All only with
`read_authentication_methods`. Mail sent through Graph from this app needs Mail.Send.
"""

from pydantic import Field

from adapters.microsoft_graph.settings import (
    CERTIFICATE_PASSPHRASE_VARIABLE,
    CLIENT_SECRET_VARIABLE,
    GraphAppSettings,
)

__all__ = ["CERTIFICATE_PASSPHRASE_VARIABLE", "CLIENT_SECRET_VARIABLE", "GraphDirectorySettings"]


class GraphDirectorySettings(GraphAppSettings):
    """Microsoft Entra ID reached through Microsoft Graph with an app registration's own
    (application) permissions. The client secret is never in this file: it comes from the
    SSPR_GRAPH_CLIENT_SECRET environment variable, unless `certificate_file` is set. The
    same app sends mail when email delivery is `graph`."""

    read_authentication_methods: bool = Field(
        default=False,
        description=(
            "Also read the phone numbers and email address people registered for "
            "self-service password reset and MFA (the authentication-methods API), and "
            "prefer them over the profile's `mobilePhone`, `businessPhones` and `mail`. "
            "Needs the UserAuthenticationMethod.Read.All application permission."
        ),
    )
