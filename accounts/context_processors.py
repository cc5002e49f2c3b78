"""`caps` in every template: the capability names (accounts.roles) the signed-in user holds."""

from accounts import roles


def capabilities(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or roles.is_token_only(user):
        return {"caps": frozenset()}
    return {"caps": roles.capabilities_of(user)}
