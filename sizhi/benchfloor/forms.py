from __future__ import annotations

from django import forms

from sizhi.benchfloor.models import FloorReport


class FloorReportForm(forms.ModelForm):
    """Validates the five fields the way any Django form would: lengths, numbers, ranges."""

    lat = forms.FloatField(min_value=-90, max_value=90)
    lng = forms.FloatField(min_value=-180, max_value=180)

    class Meta:
        model = FloorReport
        fields = ["title", "description", "lat", "lng", "address"]
