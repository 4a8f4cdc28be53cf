"""The registered platforms as PyLTI1p3 reads them: a registration per (issuer, client id), its
deployments, its key set URL. Only active platforms are found."""

from __future__ import annotations

from typing import Any

from pylti1p3.deployment import Deployment
from pylti1p3.registration import Registration
from pylti1p3.tool_config.abstract import ToolConfAbstract

from proctoring.lti.models import Platform


def platform_of(issuer: str, client_id: str | None) -> Platform | None:
    """The active platform of that issuer and client id; without a client id (an OIDC login may
    leave it out), the issuer's only one."""
    platforms = Platform.objects.filter(issuer=issuer, is_active=True)
    if client_id:
        return platforms.filter(client_id=client_id).first()
    found = list(platforms[:2])
    return found[0] if len(found) == 1 else None


def registration_of(platform: Platform) -> Registration:
    return (
        Registration()
        .set_issuer(platform.issuer)
        .set_client_id(platform.client_id)
        .set_auth_login_url(platform.auth_login_url)
        .set_auth_token_url(platform.auth_token_url)
        .set_key_set_url(platform.key_set_url)
    )


class PlatformToolConf(ToolConfAbstract[Any]):
    """Every issuer may have several client ids: registrations are always found by both."""

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def find_registration_by_issuer(self, iss: str, *args: Any, **kwargs: Any) -> Registration | None:  # type: ignore[override]
        return self.find_registration_by_params(iss, None, *args, **kwargs)

    def find_registration_by_params(  # type: ignore[override]
        self, iss: str, client_id: str | None, *args: Any, **kwargs: Any
    ) -> Registration | None:
        platform = platform_of(iss, client_id)
        return None if platform is None else registration_of(platform)

    def find_deployment(self, iss: str, deployment_id: str) -> Deployment | None:
        return self.find_deployment_by_params(iss, deployment_id, None)

    def find_deployment_by_params(
        self, iss: str, deployment_id: str, client_id: str | None, *args: Any, **kwargs: Any
    ) -> Deployment | None:
        platform = platform_of(iss, client_id)
        if platform is None or deployment_id not in platform.deployments():
            return None
        return Deployment().set_deployment_id(deployment_id)
