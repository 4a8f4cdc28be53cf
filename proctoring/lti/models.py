"""The platforms registered with the tool, the resource links pointed at exams by hand, and the
tool's own signing keys."""

from __future__ import annotations

from django.db import models

from exams.models import Exam


class Platform(models.Model):
    """A learning platform's registration of this tool: what the platform's administrator reads
    off its LTI 1.3 tool page (issuer, client id, deployment ids, its login and key set URLs)."""

    name = models.CharField(max_length=100)
    issuer = models.CharField(
        max_length=255, help_text="The platform's issuer (iss), e.g. https://moodle.example.edu"
    )
    client_id = models.CharField(max_length=255, help_text="The client id the platform gave this tool.")
    deployment_ids = models.TextField(help_text="The platform's deployment ids for this tool, one per line.")
    auth_login_url = models.URLField(
        max_length=1024, help_text="The platform's OIDC authentication request URL."
    )
    auth_token_url = models.URLField(
        max_length=1024, blank=True, help_text="The platform's access token URL (for its services; unused)."
    )
    key_set_url = models.URLField(
        max_length=1024, help_text="The platform's public keyset (JWKS) URL: id_tokens are checked with it."
    )
    exams = models.ManyToManyField(
        Exam, blank=True, related_name="+", help_text="The exams its links may open."
    )
    all_exams = models.BooleanField(
        default=False, help_text="Its links may open every exam, present and future."
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "LTI platform"
        constraints = [
            models.UniqueConstraint(fields=["issuer", "client_id"], name="lti_one_registration_per_client")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.issuer})"

    def deployments(self) -> list[str]:
        return [line.strip() for line in self.deployment_ids.splitlines() if line.strip()]

    def reaches(self, exam: Exam) -> bool:
        return self.all_exams or self.exams.filter(pk=exam.pk).exists()


class ResourceLink(models.Model):
    """A platform's resource link pointed at an exam by hand, for platforms whose links cannot
    carry a custom parameter of their own; it wins over the launch's `exam` parameter."""

    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="links")
    resource_link_id = models.CharField(max_length=255, help_text="The id of the link in the platform.")
    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "LTI resource link"
        constraints = [
            models.UniqueConstraint(fields=["platform", "resource_link_id"], name="lti_one_exam_per_link")
        ]

    def __str__(self) -> str:
        return f"{self.platform.name}: {self.resource_link_id} → {self.exam.slug}"


class ToolKey(models.Model):
    """An RSA key of this tool: the public halves are its JWKS (/lti/jwks/), the newest signs."""

    kid = models.CharField(max_length=100, unique=True, editable=False)
    private_key = models.TextField(editable=False, help_text="PEM (PKCS#8); never shown.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "LTI tool key"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.kid
