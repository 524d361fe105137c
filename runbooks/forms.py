from django import forms

from runbooks.models import Runbook


class SearchForm(forms.Form):
    q = forms.CharField(label="Search runbooks", required=False, max_length=200)
    service = forms.SlugField(required=False)
    team = forms.SlugField(required=False)
    freshness = forms.ChoiceField(required=False, choices=[("", "Any freshness"), *Runbook.Freshness.choices])


class ReviewForm(forms.Form):
    note = forms.CharField(label="Review note", required=False, max_length=500)


class RecordTestForm(forms.Form):
    evidence_url = forms.URLField(
        label="Evidence link", required=False, max_length=500, assume_scheme="https"
    )
    evidence_note = forms.CharField(
        label="What was exercised", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
