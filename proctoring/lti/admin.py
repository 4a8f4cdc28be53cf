"""The admin's pages for LTI: registered platforms, links set by hand, and the tool's keys (made,
never edited: the private half is not shown)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from proctoring.lti import tool_keys
from proctoring.lti.models import Platform, ResourceLink, ToolKey


@admin.register(Platform)
class PlatformAdmin(admin.ModelAdmin[Platform]):
    list_display = ["name", "issuer", "client_id", "all_exams", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name", "issuer", "client_id"]
    filter_horizontal = ["exams"]
    readonly_fields = ["tool_urls"]
    # A platform's URL typed without a scheme is an https one (Django 6's default, asked for now).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @admin.display(description="This tool's URLs on this site (give them to the platform)")
    def tool_urls(self, platform: Platform | None) -> SafeString:
        return format_html(
            "Login initiation: <code>{}</code><br>Redirect / launch: <code>{}</code><br>"
            "Public keyset (JWKS): <code>{}</code><br>Custom parameter: <code>exam=&lt;exam slug&gt;</code>",
            reverse("lti:login"),
            reverse("lti:launch"),
            reverse("lti:jwks"),
        )


@admin.register(ResourceLink)
class ResourceLinkAdmin(admin.ModelAdmin[ResourceLink]):
    list_display = ["resource_link_id", "platform", "exam", "created_at"]
    list_filter = ["platform"]
    search_fields = ["resource_link_id", "exam__slug"]


@admin.register(ToolKey)
class ToolKeyAdmin(admin.ModelAdmin[ToolKey]):
    list_display = ["kid", "created_at"]
    fields = ["kid", "created_at"]
    readonly_fields = ["kid", "created_at"]

    def save_model(self, request: HttpRequest, obj: ToolKey, form: Any, change: bool) -> None:
        # "Add" makes a new key (a rotation); the form has nothing to fill in.
        if not change:
            made = tool_keys.make()
            obj.pk, obj.kid, obj.created_at = made.pk, made.kid, made.created_at

    def has_change_permission(self, request: HttpRequest, obj: ToolKey | None = None) -> bool:
        return False
