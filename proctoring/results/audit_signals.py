"""Changes recorded in the audit log whoever makes them (the admin's forms, a shell, a command):
a user's or group's permissions, a user's groups, an exam's proctors, a user's staff, superuser
or active flag, and an attempt's erasure (its delete). Connected by `ProctoringConfig.ready`."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models.signals import m2m_changed, pre_delete, pre_save

from exams.models import Attempt, Exam
from proctoring.results import audit

ROLE_FLAGS = ("is_staff", "is_superuser", "is_active")
_VERBS = {"post_add": "added", "post_remove": "removed", "pre_clear": "cleared"}


def connect() -> None:
    user_model = get_user_model()
    m2m_changed.connect(_changed, sender=user_model.user_permissions.through, dispatch_uid="audit-user-perms")
    m2m_changed.connect(_changed, sender=user_model.groups.through, dispatch_uid="audit-user-groups")
    m2m_changed.connect(_changed, sender=Group.permissions.through, dispatch_uid="audit-group-perms")
    m2m_changed.connect(_changed, sender=Exam.proctors.through, dispatch_uid="audit-exam-proctors")
    pre_save.connect(_role_flags, sender=user_model, dispatch_uid="audit-role-flags")
    pre_delete.connect(_erased, sender=Attempt, dispatch_uid="audit-attempt-erased")


def _erased(sender: Any, instance: Attempt, **_: Any) -> None:
    # The exam by its slug alone: it may be the exam being deleted, whose references are
    # already set to be cleared.
    slug = Exam.objects.filter(pk=instance.exam_id).values_list("slug", flat=True).first() or ""
    audit.record(_who(), audit.Action.ATTEMPT_ERASED, ("exams.attempt", str(instance.pk)), exam_slug=slug)


def _changed(
    sender: Any, instance: Any, action: str, reverse: bool, model: Any, pk_set: Any, **_: Any
) -> None:
    verb = _VERBS.get(action)
    if verb is None:
        return
    if action == "pre_clear":
        pk_set = _cleared(sender, instance, model)  # known only before the clear
        if not pk_set:
            return
    names = sorted(_names(model, pk_set or ()))
    kind = audit.Action.PROCTORS_CHANGED if _is_proctors(sender) else audit.Action.PERMISSIONS_CHANGED
    exam = instance if isinstance(instance, Exam) else None
    relation = sender._meta.model_name
    audit.record(_who(), kind, instance, exam=exam, change=verb, relation=relation, of=names)


def _role_flags(sender: Any, instance: Any, update_fields: Any = None, **_: Any) -> None:
    if instance.pk is None:
        flags = {flag: getattr(instance, flag) for flag in ROLE_FLAGS if flag != "is_active"}
        if any(flags.values()):  # a new staff account or superuser
            audit.record(_who(), audit.Action.ROLE_CHANGED, _as_target(instance), change="created", **flags)
        return
    if update_fields is not None and not set(update_fields) & set(ROLE_FLAGS):
        return  # e.g. last_login at each login
    before = type(instance).objects.filter(pk=instance.pk).values(*ROLE_FLAGS).first()
    if before is None:
        return
    changed = {
        flag: getattr(instance, flag) for flag in ROLE_FLAGS if before[flag] != getattr(instance, flag)
    }
    if changed:
        audit.record(_who(), audit.Action.ROLE_CHANGED, _as_target(instance), change="set", **changed)


def _who() -> Any:
    return audit.current_request()


def _as_target(user: Any) -> tuple[str, str]:
    return (user._meta.label_lower, user.get_username() if user.pk is None else str(user.pk))


def _is_proctors(sender: Any) -> bool:
    return sender is Exam.proctors.through


def _cleared(sender: Any, instance: Any, model: Any) -> set[Any]:
    """The pks on the other side of `instance` in the through table `sender` (none of these
    relations joins a model to itself)."""
    fields = [field for field in sender._meta.get_fields() if getattr(field, "related_model", None)]
    mine = next(field for field in fields if field.related_model is type(instance))
    other = next(field for field in fields if field.related_model is model)
    return set(sender.objects.filter(**{mine.name: instance.pk}).values_list(other.attname, flat=True))


def _names(model: Any, pks: Any) -> list[str]:
    objects = model.objects.filter(pk__in=list(pks))
    if model is Permission:
        return [f"{app}.{code}" for app, code in objects.values_list("content_type__app_label", "codename")]
    if hasattr(model, "USERNAME_FIELD"):
        return [str(name) for name in objects.values_list(model.USERNAME_FIELD, flat=True)]
    return [str(item) for item in objects]
