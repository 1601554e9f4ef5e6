from __future__ import annotations

from django import forms

from kiestudio.webhooks.models import SUBSCRIBABLE, Event


class EndpointForm(forms.Form):
    """The add form; the checks themselves are the service's (``webhook_url_check``), shown beside each field."""

    url = forms.CharField(
        label="URL",
        max_length=500,
        help_text="An https:// address on the public internet. Private and local addresses are refused.",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/hooks/kie-studio", "spellcheck": "false"}),
    )
    events = forms.MultipleChoiceField(
        label="Events",
        choices=[(value, Event(value).label) for value in SUBSCRIBABLE],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one event."},
    )
