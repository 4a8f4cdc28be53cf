"""The tool's RSA keys: made on first need, the public halves served as its JWKS. Platforms ask
for the JWKS URL when the tool is registered; the tool signs with it only for LTI services (none
of which a resource-link launch needs)."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pylti1p3.registration import Registration

from proctoring.lti.models import ToolKey

KEY_BITS = 2048


def current() -> ToolKey:
    """The newest key, made if there is none."""
    key = ToolKey.objects.first()
    return key if key is not None else make()


def make() -> ToolKey:
    """A new key, which signs from now on; the older ones stay in the JWKS until deleted."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    kid = str(public_jwk(pem)["kid"])
    # Two first calls at once make two keys: both are published, the newer signs.
    return ToolKey.objects.create(kid=kid, private_key=pem)


def public_jwk(private_pem: str) -> dict[str, Any]:
    """The key's public half as a JWK (RS256, for signatures), its kid the RFC 7638 thumbprint."""
    private = serialization.load_pem_private_key(private_pem.encode(), password=None)
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return dict(Registration.get_jwk(public_pem))


def jwks() -> dict[str, Any]:
    current()
    return {"keys": [public_jwk(key.private_key) for key in ToolKey.objects.all()]}
