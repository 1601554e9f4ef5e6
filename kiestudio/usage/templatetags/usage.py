"""What has been spent, for the team and settings pages of tenancy, which can't import usage themselves."""

from __future__ import annotations

from decimal import Decimal

from django import template

from kiestudio.usage.services import spent_this_month as _spent
from kiestudio.workspaces.models import Workspace

register = template.Library()


@register.simple_tag
def spent_this_month(workspace: Workspace, user=None) -> Decimal:
    """``{% spent_this_month current_workspace membership.user as spent %}``: credits charged and held this month."""
    return _spent(workspace=workspace, user=user)
