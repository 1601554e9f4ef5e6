"""Budgets, caps, holds and the ledger: what a workspace and each member may spend, and what they spent.

A generation's estimate is held when it is created (``usage_hold``) and turns into a ledger entry when Kie
charges it (``usage_record`` under the same source); work that ends without a charge lets its hold go
(``usage_release``). ``budget_check`` reads only these two tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from kiestudio.core.credits import format_credits
from kiestudio.core.params import BadParameter, parse_decimal
from kiestudio.usage.models import Hold, UsageEntry
from kiestudio.workspaces.audit import A, audit_record, who
from kiestudio.workspaces.models import Membership, Role, Workspace
from kiestudio.workspaces.services import NotAllowed, WorkspaceError

MAX_CREDITS = Decimal("1000000000")


class BudgetExceeded(WorkspaceError):
    pass


# --- Limits ---------------------------------------------------------------------------------------------------


def parse_credits(raw: str | None, what: str) -> Decimal | None:
    """A credit amount from a form: blank means no limit; negative or not a number is refused."""
    raw = (raw or "").strip().replace(",", "")
    if not raw:
        return None
    try:
        value = parse_decimal(raw, name=what)
    except (BadParameter, InvalidOperation):
        raise WorkspaceError(f"The {what} must be a number of credits, like 500.") from None
    if not value.is_finite():
        raise WorkspaceError(f"The {what} must be a number of credits, like 500.")
    if value < 0:
        raise WorkspaceError(f"The {what} can't be negative.")
    if value > MAX_CREDITS:
        raise WorkspaceError(f"The {what} is too large.")
    return value.quantize(Decimal("0.01"))


def workspace_set_budget(*, workspace: Workspace, actor, budget: Decimal | None) -> None:
    if budget != workspace.monthly_budget:
        old = workspace.monthly_budget
        workspace.monthly_budget = budget
        workspace.save(update_fields=["monthly_budget"])
        audit_record(
            workspace=workspace,
            actor=actor,
            action=A.BUDGET_CHANGED,
            target=f"{budget} credits a month" if budget is not None else "no budget",
            previous=str(old) if old is not None else None,
        )


def member_set_cap(*, membership: Membership, actor_membership: Membership, cap: Decimal | None) -> Membership:
    if not actor_membership.has_role(Role.ADMIN):
        raise NotAllowed("Only admins and owners can set members' caps.")
    if cap != membership.monthly_cap:
        old = membership.monthly_cap
        membership.monthly_cap = cap
        membership.save(update_fields=["monthly_cap"])
        audit_record(
            workspace=membership.workspace,
            actor=actor_membership.user,
            action=A.CAP_CHANGED,
            target=who(membership.user),
            previous=str(old) if old is not None else None,
            cap=str(cap) if cap is not None else None,
        )
    return membership


# --- Spending -------------------------------------------------------------------------------------------------


def month_start(now: datetime | None = None) -> datetime:
    local = timezone.localtime(now or timezone.now())
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def spent_this_month(*, workspace: Workspace, user=None) -> Decimal:
    """Credits charged this calendar month, plus what work already bought but not yet charged will cost."""
    since = month_start()
    ledger = UsageEntry.objects.filter(workspace=workspace, created_at__gte=since)
    held = Hold.objects.filter(workspace=workspace, created_at__gte=since)
    if user is not None:
        ledger = ledger.filter(user=user)
        held = held.filter(user=user)
    charged = ledger.aggregate(total=Sum("credits"))["total"] or Decimal(0)
    reserved = held.aggregate(total=Sum("credits"))["total"] or Decimal(0)
    return charged + reserved


def budget_check(*, workspace: Workspace, membership: Membership, cost: Decimal) -> None:
    """Refuse, before anything is spent, what would take the workspace or the member over their monthly limit."""
    if workspace.monthly_budget is not None:
        left = workspace.monthly_budget - spent_this_month(workspace=workspace)
        if cost > left:
            raise BudgetExceeded(
                f"This would go over {workspace.name}'s monthly budget: it costs about {format_credits(cost)} credits and "
                f"{format_credits(max(left, Decimal(0)))} of {format_credits(workspace.monthly_budget)} are left this month. "
                "An admin can raise the budget in workspace settings."
            )
    if membership.monthly_cap is not None:
        left = membership.monthly_cap - spent_this_month(workspace=workspace, user=membership.user)
        if cost > left:
            raise BudgetExceeded(
                f"This would go over your monthly cap in {workspace.name}: it costs about {format_credits(cost)} credits and "
                f"{format_credits(max(left, Decimal(0)))} of your {format_credits(membership.monthly_cap)} are left this month. "
                "Ask an admin to raise it."
            )


def usage_hold(
    *, workspace_id: int, user_id: int | None, credits: Decimal, source: str, created_at: datetime | None = None
) -> None:
    """Set ``credits`` aside for work bought but not yet charged; holding the same source again updates it."""
    Hold.objects.update_or_create(
        source=source,
        defaults={
            "workspace_id": workspace_id,
            "user_id": user_id,
            "credits": credits,
            "created_at": created_at or timezone.now(),
        },
    )


def usage_release(*, source: str) -> None:
    """The work ended, charged or not: its hold no longer counts."""
    Hold.objects.filter(source=source).delete()


def usage_record(
    *, workspace_id: int, user_id: int | None, kind: str, model_key: str, credits: Decimal, source: str, estimated: bool
) -> None:
    """One ledger entry per charge; recording the same charge again updates it. A hold on the source ends."""
    UsageEntry.objects.update_or_create(
        source=source,
        defaults={
            "workspace_id": workspace_id,
            "user_id": user_id,
            "kind": kind,
            "model_key": model_key,
            "credits": credits,
            "estimated": estimated,
        },
    )
    usage_release(source=source)


# --- Reports --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UsageReport:
    start: datetime
    end: datetime  # exclusive
    total: Decimal
    days: list[tuple[datetime, Decimal]]
    by_member: Sequence[Mapping[str, object]]
    by_model: Sequence[Mapping[str, object]]


def usage_report(*, workspace: Workspace, start: datetime, end: datetime) -> UsageReport:
    entries = UsageEntry.objects.filter(workspace=workspace, created_at__gte=start, created_at__lt=end)
    per_day = entries.annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
    totals = {
        day.isoformat(): credits
        for day, credits in per_day.order_by().values("day").annotate(c=Sum("credits")).values_list("day", "c")
    }
    days = []
    cursor = timezone.localtime(start)
    while cursor < end:
        days.append((cursor, totals.get(cursor.date().isoformat(), Decimal(0))))
        cursor += timedelta(days=1)
    by_member = list(
        entries.values("user__email", "user__name")
        .annotate(credits=Sum("credits"), count=Count("pk"))
        .order_by("-credits", "user__email")
    )
    by_model = list(
        entries.values("model_key", "kind").annotate(credits=Sum("credits"), count=Count("pk")).order_by("-credits")
    )
    total = entries.aggregate(total=Sum("credits"))["total"] or Decimal(0)
    return UsageReport(start, end, total, days, by_member, by_model)


def usage_entries(*, workspace: Workspace, start: datetime, end: datetime):
    """The ledger between ``start`` and ``end``, oldest first, for the CSV export."""
    return (
        UsageEntry.objects.filter(workspace=workspace, created_at__gte=start, created_at__lt=end)
        .select_related("user")
        .order_by("created_at", "pk")
    )
