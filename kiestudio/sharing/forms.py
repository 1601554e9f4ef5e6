from __future__ import annotations

from datetime import date

from django import forms

from kiestudio.core.params import BadParameter, parse_date, parse_id
from kiestudio.sharing.models import Share
from kiestudio.sharing.services import MAX_PASSWORD

ACCESS = [("anyone", "Anyone with the link"), ("password", "Only people who know a password")]
EXPIRY = [("never", "Never"), ("1", "1 day"), ("7", "7 days"), ("30", "30 days"), ("date", "On a date…")]


class ShareForm(forms.Form):
    kind = forms.ChoiceField(
        choices=Share.Kind.choices,
        widget=forms.HiddenInput,
        error_messages={"invalid_choice": "Choose what to share: an item, a collection or a comparison."},
    )
    id = forms.CharField(widget=forms.HiddenInput)
    access = forms.ChoiceField(choices=ACCESS, initial="anyone", widget=forms.RadioSelect, label="Who can open it")
    password = forms.CharField(
        required=False,
        max_length=MAX_PASSWORD,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        label="Password",
    )
    expiry = forms.ChoiceField(choices=EXPIRY, initial="7", label="Link stops working")
    expiry_date = forms.CharField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        label="Last day it works",
        help_text="With “On a date…”: the link works until the end of this day.",
    )
    allow_download = forms.BooleanField(required=False, label="Let them download the files")
    show_prompt = forms.BooleanField(required=False, label="Show the prompt")

    def clean_id(self) -> int:
        try:
            return parse_id(self.cleaned_data.get("id"), name="item")
        except BadParameter as exc:
            raise forms.ValidationError(exc.message) from None

    def clean_expiry_date(self) -> date | None:
        value = (self.cleaned_data.get("expiry_date") or "").strip()
        if not value:
            return None
        try:
            return parse_date(value, name="last day")
        except BadParameter as exc:
            raise forms.ValidationError(exc.message) from None

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("access") == "password" and not data.get("password"):
            self.add_error("password", "Set a password, or let anyone with the link open it.")
        if data.get("access") != "password":
            data["password"] = ""
        if data.get("expiry") == "date" and not data.get("expiry_date") and "expiry_date" not in self.errors:
            self.add_error("expiry_date", "Pick the last day the link works.")
        return data
